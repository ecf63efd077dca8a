"""Load an export with TensorFlow alone and report what a TF runtime sees.

Run by `textlstm.export.verify_export` in a fresh interpreter, by path and
with `python -I` (so neither the textlstm package nor its folder is on the
path). Keras and textlstm are blocked before TensorFlow is imported: TF 2.21
imports Keras as a side effect of `import tensorflow`, and this process must
prove that the SavedModel needs neither. It imports only the standard
library, NumPy and TensorFlow.

Usage: python -I probe.py EXPORT_DIR SAMPLES_JSON REPORT_JSON [--parent PID]

Writes REPORT_JSON: the signatures' specs, the outputs on the samples, the
op audit of every function in the MetaGraph, and the XLA compilation of the
`tpu_func` alias when there is one.

With `--parent PID` the probe dies with its parent, even when the parent is
killed with SIGKILL: on Linux by `PR_SET_PDEATHSIG`, and everywhere when its
stdin (a pipe the parent holds open) reaches end of file.
"""

import contextlib
import ctypes
import os
import signal
import sys
import threading

if __name__ == "__main__":  # only as a script: importing it must not poison others
    for _blocked in ("keras", "tf_keras", "textlstm"):
        sys.modules[_blocked] = None  # `import keras` now raises ImportError

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(parent: int) -> None:
    """Exit when process `parent` (the verifying export) ends, however."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # the stdin watch below still ends the probe
    threading.Thread(target=_exit_at_end_of_stdin, daemon=True).start()
    if os.getppid() != parent:  # it died before the death signal was set
        os._exit(1)


def _exit_at_end_of_stdin() -> None:
    # os.read, not sys.stdin: a daemon thread blocked in a buffered reader
    # can abort the interpreter's shutdown.
    with contextlib.suppress(OSError):
        while os.read(0, 65536):
            pass
    os._exit(1)


if __name__ == "__main__" and "--parent" in sys.argv:
    die_with_parent(int(sys.argv[sys.argv.index("--parent") + 1]))

import base64  # noqa: E402
import json  # noqa: E402
import traceback  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.core.protobuf import saved_model_pb2  # noqa: E402
from tensorflow.python.framework import op_def_registry  # noqa: E402

BATCH = 64


def _spec(tensor_spec):
    return {
        "dtype": tensor_spec.dtype.name,
        "shape": None
        if tensor_spec.shape.rank is None
        else tensor_spec.shape.as_list(),
    }


def _signatures(loaded):
    found = {}
    for name, function in loaded.signatures.items():
        _, inputs = function.structured_input_signature
        found[name] = {
            "inputs": {key: _spec(spec) for key, spec in inputs.items()},
            "outputs": {
                key: _spec(spec) for key, spec in function.structured_outputs.items()
            },
        }
    return found


def _audit(export_dir):
    """Every op of the graph and of every FunctionDef in the MetaGraph."""
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    meta_graph = saved_model.meta_graphs[0]
    graph = meta_graph.graph_def
    op_types = {node.op for node in graph.node}
    cudnn, must_compile, implements = {}, [], {}
    for function in graph.library.function:
        name = function.signature.name
        ops = {node.op for node in function.node_def}
        op_types |= ops
        found = sorted(op for op in ops if op.startswith("CudnnRNN"))
        if found:
            cudnn[name] = found
        attrs = function.attr
        if "_XlaMustCompile" in attrs and attrs["_XlaMustCompile"].b:
            must_compile.append(name)
        if "api_implements" in attrs:
            api = attrs["api_implements"].s.decode()
            device = attrs["api_preferred_device"].s.decode()
            implements.setdefault(api, {}).setdefault(device, []).append(name)
    # Function call ops name library functions, not registered ops.
    functions = {f.signature.name for f in graph.library.function}
    unregistered = sorted(
        op for op in op_types if op not in functions and op_def_registry.get(op) is None
    )
    return {
        "num_functions": len(graph.library.function),
        "op_types": sorted(op_types - functions),
        "unregistered": unregistered,
        "cudnn": cudnn,
        "xla_must_compile": sorted(must_compile),
        "api_implements": implements,
        "function_aliases": dict(meta_graph.meta_info_def.function_aliases),
        "method_names": {
            key: value.method_name for key, value in meta_graph.signature_def.items()
        },
    }


def _run(function, **inputs):
    outputs = function(**inputs)
    return {key: value.numpy() for key, value in outputs.items()}


def _in_batches(function, key, values):
    parts = [
        _run(function, **{key: values[start : start + BATCH]})
        for start in range(0, len(values), BATCH)
    ]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _jsonable(outputs):
    return {
        "probabilities": outputs["probabilities"].astype(float).tolist(),
        "label_id": outputs["label_id"].astype(int).tolist(),
        "label": [x.decode("utf-8", "replace") for x in outputs["label"]],
    }


def main(export_dir, samples_path, report_path):
    report = {"errors": []}
    with open(samples_path, encoding="utf-8") as f:
        samples = json.load(f)
    texts = [base64.b64decode(x) for x in samples["texts_b64"]]
    try:
        loaded = tf.saved_model.load(export_dir)
        report["signatures"] = _signatures(loaded)
        serve = loaded.signatures["serving_default"]
        report["serving_default"] = _jsonable(
            _in_batches(serve, "text", tf.constant(texts, tf.string))
        )
        tokens = loaded.signatures["serve_tokens"]
        dtype = tokens.structured_input_signature[1]["token_ids"].dtype
        report["serve_tokens"] = [
            _jsonable(_run(tokens, token_ids=tf.constant(ids, dtype)))
            for ids in samples["token_ids"]
        ]
        if hasattr(loaded, "tpu_func"):
            report["tpu_func"] = _compile_tpu_func(loaded.tpu_func, samples)
    except Exception:  # reported, not raised: the parent prints the report
        report["errors"].append(traceback.format_exc())
    try:
        report["ops"] = _audit(export_dir)
    except Exception:
        report["errors"].append(traceback.format_exc())
    report["modules"] = {
        name: any(
            module is not None and (key == name or key.startswith(name + "."))
            for key, module in sys.modules.items()
        )
        for name in ("keras", "tf_keras", "textlstm")
    }
    with open(report_path, "w", encoding="utf-8") as f:
        json.dump(report, f)


def _compile_tpu_func(tpu_func, samples):
    """Compile the alias with XLA (on this host's CPU) and run it."""
    (spec,) = tpu_func.concrete_functions[0].structured_input_signature[0]
    compiled = tf.function(tpu_func, jit_compile=True)
    hlo = compiled.experimental_get_compiler_ir(tf.zeros(spec.shape, spec.dtype))(
        stage="hlo"
    )
    batch, length = spec.shape.as_list()
    ids = np.zeros((batch, length), spec.dtype.as_numpy_dtype)
    sample = np.asarray(samples["tpu_token_ids"], spec.dtype.as_numpy_dtype)
    ids[: len(sample)] = sample
    outputs = compiled(tf.constant(ids))
    return {
        "input": _spec(spec),
        "hlo_chars": len(hlo),
        "probabilities": outputs["probabilities"].numpy()[: len(sample)].tolist(),
    }


if __name__ == "__main__":
    main(*sys.argv[1:4])
