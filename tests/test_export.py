"""Tests of `textlstm export` and of `textlstm predict` on an export: the
TensorFlow Serving layout, the signatures, parity with the Keras model in a
fresh TensorFlow-only process on edge-case texts, the op audit of each
target, XLA compilation of `tpu_func` on CPU, versions and atomic writes
(an export killed by SIGKILL included), `--check`, and the command's
messages and exit codes.

The tiny run and its three exports (`textlstm export --target all`, in a
real process) are built once per session in `conftest.py`.
"""

import base64
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from textlstm import export as export_lib
from textlstm.cli.main import cli
from textlstm.export import Check, ExportError, VerificationReport
from textlstm.export import publish as publish_lib
from textlstm.export.verify.fresh_process import PROBE

TARGETS = ("cpu", "gpu", "tpu")
CLASS_NAMES = ["neg", "pos"]
TOLERANCE = 1e-5
SEQUENCE_LENGTH = 32  # text.sequence_length of the tiny run (conftest.py)
TPU_BATCH = 16  # its train.batch_size, the static batch of tpu_func

# SPEC §8: every text gets a prediction, never a crash.
EDGE_TEXTS = [
    "",
    " ",
    "\t \n\r\n   ",
    "x" * 100_000,
    ("a film i found brilliant " * 5000)[:100_000],
    "Très bon film, naïve façade — «quel régal»",
    "ÄÖÜ äöü ß ñ ø å",
    "日本語のレビュー、とても良い映画でした",
    "这部电影很好看",
    "👍🏽🎬🍿 great 😡",
    "\x00",
    "good\x00film\x00",
    "\x07\x07 bell",
    "first line\r\nsecond line\r\n",
    "\x1b[31mred\x1b[0m \x7f \x08",
]
INVALID_UTF8 = [b"\xff\xfe\xfd", b"ok \xc3\x28 broken"]
#: Unicode spaces web text carries (standardizer version 2 splits on each),
#: and how many word salads are repeated with them.
UNICODE_SPACES = ["\u00a0", "\u2003", "\u3000", "\u202f", "\u2028", "\u1680"]
SPACED = 10

# Runs in `python -I` with Keras and textlstm blocked: what a TF Serving
# process can do with the export, TensorFlow alone.
FRESH_PROCESS = r"""
import base64, json, sys
for name in ("keras", "tf_keras", "textlstm"):
    sys.modules[name] = None  # importing them now fails
import tensorflow as tf

with open(sys.argv[1], encoding="utf-8") as f:
    request = json.load(f)
texts = tf.constant([base64.b64decode(t) for t in request["texts"]], tf.string)
spec = lambda s: [s.dtype.name, s.shape.as_list()]
report = {}
for target, path in request["exports"].items():
    loaded = tf.saved_model.load(path)
    found = {"signatures": {}}
    for name, function in loaded.signatures.items():
        found["signatures"][name] = {
            "inputs": {
                k: spec(v) for k, v in function.structured_input_signature[1].items()
            },
            "outputs": {k: spec(v) for k, v in function.structured_outputs.items()},
        }
    outputs = loaded.signatures["serving_default"](text=texts)
    found["serving_default"] = {
        "probabilities": outputs["probabilities"].numpy().tolist(),
        "label_id": outputs["label_id"].numpy().tolist(),
        "label": [label.decode() for label in outputs["label"].numpy()],
    }
    tokens = loaded.signatures["serve_tokens"]
    found["serve_tokens"] = [
        tokens(token_ids=tf.constant(ids, tf.int64))["probabilities"].numpy().tolist()
        for ids in request["token_ids"]
    ]
    if hasattr(loaded, "tpu_func"):
        function = loaded.tpu_func.concrete_functions[0]
        (input_spec,) = function.structured_input_signature[0]
        compiled = tf.function(loaded.tpu_func, jit_compile=True)
        ids = tf.constant(request["tpu_token_ids"], input_spec.dtype)
        found["tpu_func"] = {
            "input": spec(input_spec),
            "hlo": compiled.experimental_get_compiler_ir(ids)(stage="hlo"),
            "probabilities": compiled(ids)["probabilities"].numpy().tolist(),
        }
    report[target] = found
report["imported"] = sorted(
    name for name in ("keras", "tf_keras", "textlstm") if sys.modules.get(name)
)
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump(report, f)
"""


def invoke(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def version_dir(exports, target: str) -> Path:
    return exports.base / target / "1"


def meta_graph(exports, target: str):
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString(
        (version_dir(exports, target) / "saved_model.pb").read_bytes()
    )
    (graph,) = saved_model.meta_graphs
    return graph


def library(graph) -> dict:
    return {f.signature.name: f for f in graph.graph_def.library.function}


def op_types(graph) -> set[str]:
    """Every op of the graph and its functions, function calls left out."""
    functions = library(graph)
    ops = {node.op for node in graph.graph_def.node}
    ops |= {node.op for f in functions.values() for node in f.node_def}
    return ops - set(functions)


def reachable(functions: dict, name: str) -> set[str]:
    """`name` and every library function it calls, directly or not."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in functions[current].node_def:
            if node.op in functions:
                todo.append(node.op)
            for value in node.attr.values():
                if value.HasField("func"):
                    todo.append(value.func.name)
                todo.extend(f.name for f in value.list.func)
    return seen


def digest(folder: Path) -> str:
    """One hash of every file's name and content under `folder`."""
    hashed = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        hashed.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            hashed.update(path.read_bytes())
    return hashed.hexdigest()


def usual_folder_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


# --------------------------------------------------------------------------- #
# The Keras reference and the fresh TensorFlow-only process


@pytest.fixture(scope="module")
def reference(export_run):
    """The sample texts and token ids, and the Keras model's outputs."""
    import tensorflow as tf

    from textlstm.model import load_text_classifier

    model = load_text_classifier(export_run)
    vectorizer = next(
        layer for layer in model.layers if hasattr(layer, "get_vocabulary")
    )
    classifier = model.get_layer("classifier")
    words = vectorizer.get_vocabulary()[2:]  # no padding, no [UNK]
    rng = np.random.default_rng(0)
    salads = [
        " ".join(rng.choice(words, size=int(rng.integers(1, 50)))) for _ in range(100)
    ]
    # The first salads again with every space a Unicode separator: the
    # export must split on them exactly as on ASCII spaces.
    spaced = [t.replace(" ", sp) for sp in UNICODE_SPACES for t in salads[:SPACED]]
    texts = [t.encode("utf-8") for t in salads + EDGE_TEXTS + spaced] + INVALID_UTF8
    batch = tf.constant(texts, tf.string)
    ids = np.asarray(vectorizer(batch))
    # serve_tokens takes any [N, M]: shorter rows and longer zero-padded ones.
    token_ids = [ids, ids[:, :5], np.pad(ids, [(0, 0), (0, 18)])]
    return {
        "texts": texts,
        "probabilities": np.asarray(model(batch, training=False)),
        "token_ids": token_ids,
        "token_probabilities": [
            np.asarray(classifier(tf.constant(x), training=False)) for x in token_ids
        ],
        "tpu_token_ids": ids[:TPU_BATCH],
    }


@pytest.fixture(scope="module")
def fresh(exports, reference, tmp_path_factory):
    """What `python -I` with TensorFlow alone gets from the three exports."""
    folder = tmp_path_factory.mktemp("fresh")
    request = {
        "exports": {t: str(version_dir(exports, t)) for t in TARGETS},
        "texts": [base64.b64encode(t).decode("ascii") for t in reference["texts"]],
        "token_ids": [x.tolist() for x in reference["token_ids"]],
        "tpu_token_ids": reference["tpu_token_ids"].tolist(),
    }
    (folder / "request.json").write_text(json.dumps(request), encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            FRESH_PROCESS,
            folder / "request.json",
            folder / "report.json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr
    return json.loads((folder / "report.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- #
# The export command in a real process, and the layout it writes


def test_export_all_in_a_real_process_prints_three_passed_verifications(exports):
    stdout, stderr = exports.stdout, exports.stderr
    for target in TARGETS:
        assert (
            f"Exported {exports.base / target / '1'} (target {target}, version 1)"
            in stdout.splitlines()
        )
        assert f"Verification of {exports.base / target / '1'} (target {target}):" in (
            stdout
        )
        assert f"Writing the {target} SavedModel" in stderr
    assert stdout.count("  => passed") == 3
    assert "FAIL" not in stdout
    assert stderr.count("Verifying in a fresh process") == 3
    assert "Traceback" not in stderr


@pytest.mark.parametrize("target", TARGETS)
def test_tf_serving_layout_with_assets_and_extras(exports, target):
    base = exports.base / target
    folder = base / "1"
    assert [p.name for p in base.iterdir()] == ["1"]  # no temporary left
    assert {p.name for p in folder.iterdir()} == {
        "saved_model.pb",
        "fingerprint.pb",
        "variables",
        "assets",
        "assets.extra",
    }
    assert {p.name for p in (folder / "variables").iterdir()} == {
        "variables.index",
        "variables.data-00000-of-00001",
    }
    # serve_tokens' ids: line i of vocab.txt is id i, as in the run folder.
    assert [p.name for p in (folder / "assets").iterdir()] == ["vocab.txt"]
    assert (folder / "assets" / "vocab.txt").read_text(encoding="utf-8") == (
        exports.run / "vocab.txt"
    ).read_text(encoding="utf-8")
    extra = folder / "assets.extra"
    assert {p.name for p in extra.iterdir()} == {
        "class_names.json",
        "config.yaml",
        "run.json",
        "export.json",
        "verification.json",
        "verification_samples.json",
    }
    assert json.loads((extra / "class_names.json").read_text()) == CLASS_NAMES
    for name in ("config.yaml", "run.json"):
        assert (extra / name).read_bytes() == (exports.run / name).read_bytes()
    info = json.loads((extra / "export.json").read_text())
    import keras
    import tensorflow as tf

    import textlstm

    assert info["format"] == "textlstm-export-1"
    assert (info["target"], info["version"]) == (target, 1)
    assert info["source_run"] == str(exports.run.resolve())
    assert info["class_names"] == CLASS_NAMES
    assert info["sequence_length"] == SEQUENCE_LENGTH
    assert info["versions"] == {
        "textlstm": textlstm.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": sys.version.split()[0],
    }
    if target == "tpu":
        assert info["tpu_func"] == {"input": f"int32 [{TPU_BATCH}, {SEQUENCE_LENGTH}]"}
    # Readable by a server running as another user, not mkdtemp's 0700.
    assert stat.S_IMODE(folder.stat().st_mode) == usual_folder_mode()


@pytest.mark.parametrize("target", TARGETS)
def test_signature_defs_names_dtypes_and_shapes(exports, target):
    from tensorflow.core.framework import types_pb2

    graph = meta_graph(exports, target)
    signatures = {
        k: v for k, v in graph.signature_def.items() if not k.startswith("__")
    }
    assert sorted(signatures) == ["serve_tokens", "serving_default"]

    def specs(tensors):
        return {
            key: (
                types_pb2.DataType.Name(t.dtype),
                [d.size for d in t.tensor_shape.dim],
            )
            for key, t in tensors.items()
        }

    outputs = {
        "probabilities": ("DT_FLOAT", [-1, 2]),
        "label_id": ("DT_INT64", [-1]),
        "label": ("DT_STRING", [-1]),
    }
    assert specs(signatures["serving_default"].inputs) == {"text": ("DT_STRING", [-1])}
    assert specs(signatures["serve_tokens"].inputs) == {
        "token_ids": ("DT_INT64", [-1, -1])
    }
    for signature in signatures.values():
        assert specs(signature.outputs) == outputs
        assert signature.method_name == "tensorflow/serving/predict"


@pytest.mark.parametrize("target", TARGETS)
def test_fresh_process_sees_the_same_signatures_without_keras(fresh, target):
    outputs = {
        "probabilities": ["float32", [None, 2]],
        "label_id": ["int64", [None]],
        "label": ["string", [None]],
    }
    assert fresh[target]["signatures"] == {
        "serving_default": {"inputs": {"text": ["string", [None]]}, "outputs": outputs},
        "serve_tokens": {
            "inputs": {"token_ids": ["int64", [None, None]]},
            "outputs": outputs,
        },
    }
    assert fresh["imported"] == []


@pytest.mark.parametrize("target", TARGETS)
def test_fresh_process_matches_keras_on_edge_case_texts(fresh, reference, target):
    found = fresh[target]["serving_default"]
    probabilities = np.asarray(found["probabilities"])
    expected = reference["probabilities"]
    assert len(reference["texts"]) == 117 + SPACED * len(UNICODE_SPACES)
    assert probabilities.shape == expected.shape == (len(reference["texts"]), 2)
    assert np.abs(probabilities - expected).max() <= TOLERANCE
    assert found["label_id"] == expected.argmax(-1).tolist()
    assert found["label"] == [CLASS_NAMES[i] for i in found["label_id"]]


@pytest.mark.parametrize("target", TARGETS)
def test_unicode_spaces_change_no_exported_prediction(fresh, reference, target):
    found = fresh[target]["serving_default"]
    probabilities = np.asarray(found["probabilities"])
    start = 100 + len(EDGE_TEXTS)
    for number in range(len(UNICODE_SPACES)):
        rows = slice(start + number * SPACED, start + (number + 1) * SPACED)
        # Same token ids; other rows of the batch (GEMM tiling may differ).
        np.testing.assert_allclose(
            probabilities[rows], probabilities[:SPACED], atol=1e-6
        )
        assert found["label_id"][rows] == found["label_id"][:SPACED]


@pytest.mark.parametrize("target", TARGETS)
def test_fresh_process_serve_tokens_matches_keras_at_any_width(
    fresh, reference, target
):
    found = fresh[target]["serve_tokens"]
    count = len(reference["texts"])
    assert [np.shape(batch) for batch in found] == [(count, 2)] * 3
    for got, expected in zip(found, reference["token_probabilities"]):
        assert np.abs(np.asarray(got) - expected).max() <= TOLERANCE


def test_tpu_func_compiles_with_xla_on_cpu_and_matches_keras(fresh, reference):
    tpu = fresh["tpu"]["tpu_func"]
    assert tpu["input"] == ["int32", [TPU_BATCH, SEQUENCE_LENGTH]]
    # The HLO module takes the fixed-shape int32 ids: no string in it.
    assert f"s32[{TPU_BATCH},{SEQUENCE_LENGTH}]" in tpu["hlo"]
    assert "string" not in tpu["hlo"].lower()
    expected = reference["probabilities"][:TPU_BATCH]
    assert np.abs(np.asarray(tpu["probabilities"]) - expected).max() <= TOLERANCE
    assert "tpu_func" not in fresh["cpu"] and "tpu_func" not in fresh["gpu"]


# --------------------------------------------------------------------------- #
# Op audit


@pytest.mark.parametrize("target", TARGETS)
def test_every_op_is_a_registered_stock_tensorflow_op(exports, target):
    from tensorflow.python.framework import op_def_registry

    graph = meta_graph(exports, target)
    ops = op_types(graph)
    assert [op for op in sorted(ops) if op_def_registry.get(op) is None] == []
    cudnn = sorted(op for op in ops if op.startswith("Cudnn"))
    assert cudnn == (["CudnnRNNV3"] if target == "gpu" else [])
    must_compile = [
        name
        for name, f in library(graph).items()
        if "_XlaMustCompile" in f.attr and f.attr["_XlaMustCompile"].b
    ]
    assert must_compile == []
    aliases = sorted(set(graph.meta_info_def.function_aliases.values()))
    assert aliases == (["tpu_func"] if target == "tpu" else [])


def test_gpu_export_pairs_each_lstm_with_a_cudnn_implementation(exports):
    functions = library(meta_graph(exports, "gpu"))
    groups: dict[str, dict[str, str]] = {}
    for name, f in functions.items():
        if "api_implements" in f.attr:
            device = f.attr["api_preferred_device"].s.decode()
            group = groups.setdefault(f.attr["api_implements"].s.decode(), {})
            assert device not in group
            group[device] = name
    # One LSTM layer: one pair per traced serving function.
    serving = [
        name
        for name in functions
        if name.startswith(("__inference_serve_text_", "__inference_serve_tokens_"))
    ]
    assert len(serving) == 4
    assert len(groups) == len(serving)

    def arg_types(name):
        signature = functions[name].signature
        return (
            [a.type for a in signature.input_arg],
            [a.type for a in signature.output_arg],
        )

    def ops_under(name):
        return {
            node.op
            for reached in reachable(functions, name)
            for node in functions[reached].node_def
        }

    called = set()
    for name in serving:
        called |= reachable(functions, name)
    for api, group in groups.items():
        assert api.startswith("textlstm_lstm_") and set(group) == {"CPU", "GPU"}
        # Grappler swaps implementations with identical signatures only.
        assert arg_types(group["CPU"]) == arg_types(group["GPU"])
        assert "CudnnRNNV3" in ops_under(group["GPU"])
        assert not any(op.startswith("Cudnn") for op in ops_under(group["CPU"]))
        # The graph calls the portable one; the cuDNN one is only registered.
        assert group["CPU"] in called and group["GPU"] not in called


def test_gpu_export_of_a_model_without_cudnn_layers_passes_and_says_why(tmp_path):
    """CIFG (and peephole, layer-norm) layers have no cuDNN kernel: the gpu
    target is the portable loop, and verification says none was needed."""
    from tests.conftest import EXPORT_RUN
    from textlstm.config import load_config
    from textlstm.training import fit

    run_dir = tmp_path / "run"
    overrides = [*EXPORT_RUN, "model.cell=cifg_lstm", "model.bidirectional=true"]
    fit(load_config("quickstart", overrides), run_dir, verbose=0)
    # In this process: the `exports` fixture runs the command in a real one.
    result = invoke("export", run_dir, "--out", tmp_path / "out", "--target", "gpu")
    assert result.exit_code == 0, result.output
    assert (
        "  ok   cuDNN selection: none needed: no textlstm LSTM or GRU layer to pair "
        "with cuDNN; the portable loops run on GPUs as they are"
    ) in result.stdout.splitlines()
    folder = tmp_path / "out" / "1"
    info = json.loads((folder / "assets.extra" / "export.json").read_text())
    assert (info["target"], info["cudnn_layers"]) == ("gpu", 0)
    report = json.loads((folder / "assets.extra" / "verification.json").read_text())
    assert report["ok"] and report["max_abs_diff"]["serving_default"] <= TOLERANCE
    saved_model = folder / "saved_model.pb"
    assert b"CudnnRNN" not in saved_model.read_bytes()
    assert b"api_implements" not in saved_model.read_bytes()


def test_export_all_of_a_bidirectional_simple_rnn_passes(tmp_path):
    """`model.cell: simple_rnn` exports to every target through its portable
    fast-path loop, verified like the LSTM's; no cuDNN pairing (none needed)."""
    from tests.conftest import EXPORT_RUN
    from textlstm.config import load_config
    from textlstm.training import fit

    run_dir, out = tmp_path / "run", tmp_path / "out"
    overrides = [*EXPORT_RUN, "model.cell=simple_rnn", "model.bidirectional=true"]
    fit(load_config("quickstart", overrides), run_dir, verbose=0)
    result = invoke("export", run_dir, "--out", out, "--target", "all")
    assert result.exit_code == 0, result.output
    assert result.stdout.count("  => passed") == 3
    assert "FAIL" not in result.stdout
    assert (
        "  ok   cuDNN selection: none needed: no textlstm LSTM or GRU layer to pair "
        "with cuDNN; the portable loops run on GPUs as they are"
    ) in result.stdout.splitlines()
    for target in TARGETS:
        folder = out / target / "1"
        report = json.loads((folder / "assets.extra" / "verification.json").read_text())
        assert report["ok"] and report["max_abs_diff"]["serving_default"] <= TOLERANCE
        assert b"CudnnRNN" not in (folder / "saved_model.pb").read_bytes()
    info = json.loads((out / "gpu" / "1" / "assets.extra" / "export.json").read_text())
    assert info["cudnn_layers"] == 0


@pytest.mark.parametrize(
    "target, extra_checks",
    [
        ("cpu", ["no cuDNN ops", "no must-compile XLA"]),
        ("gpu", ["no must-compile XLA", "cuDNN selection"]),
        (
            "tpu",
            [
                "no cuDNN ops",
                "no must-compile XLA",
                "tpu_func alias",
                "tpu_func XLA",
                "parity tpu_func",
            ],
        ),
    ],
)
def test_export_stored_its_passed_verification(exports, target, extra_checks):
    folder = version_dir(exports, target)
    report = json.loads((folder / "assets.extra" / "verification.json").read_text())
    assert (report["path"], report["target"], report["ok"]) == (
        str(folder),
        target,
        True,
    )
    assert [check["name"] for check in report["checks"]] == [
        "fresh process",
        "TensorFlow only",
        "signatures",
        "parity serving_default",
        "labels",
        "parity serve_tokens",
        "stock ops",
        "predict method",
        *extra_checks,
    ]
    assert all(check["ok"] for check in report["checks"])
    assert all(diff <= TOLERANCE for diff in report["max_abs_diff"].values())


# --------------------------------------------------------------------------- #
# --check


def test_check_reverifies_an_export_and_exits_0(exports):
    folder = version_dir(exports, "tpu")
    result = invoke("export", "--check", folder)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Verification of {folder} (target tpu):"
    assert lines[-1] == "  => passed"
    assert sum(line.startswith("  ok   ") for line in lines) == 13
    assert any(
        line.startswith("  ok   tpu_func XLA: compiled with jit_compile=True on CPU")
        for line in lines
    )


def test_check_fails_with_exit_1_when_outputs_drift(exports, tmp_path):
    # The stored Keras reference moved by 0.01: parity must fail.
    folder = tmp_path / "reviews" / "1"
    shutil.copytree(version_dir(exports, "cpu"), folder)
    samples_path = folder / "assets.extra" / "verification_samples.json"
    samples = json.loads(samples_path.read_text())
    samples["probabilities"][0][0] += 0.01
    samples_path.write_text(json.dumps(samples))
    result = invoke("export", "--check", folder.parent, "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert (report["path"], report["target"], report["ok"]) == (
        str(folder),
        "cpu",
        False,
    )
    failed = [c for c in report["checks"] if not c["ok"]]
    assert [c["name"] for c in failed] == ["parity serving_default"]
    assert failed[0]["detail"].endswith("on 120 inputs (<= 1e-05)")
    assert abs(report["max_abs_diff"]["serving_default"] - 0.01) < 1e-6


def test_check_of_a_folder_that_is_no_textlstm_export(exports, tmp_path):
    result = invoke("export", "--check", exports.run)
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {exports.run} is neither an export folder (saved_model.pb or "
        "model.tflite) nor a model base with version folders (1/, 2/, ...)\n"
    )
    foreign = tmp_path / "1"
    shutil.copytree(version_dir(exports, "cpu"), foreign)
    (foreign / "assets.extra" / "export.json").unlink()
    result = invoke("export", "--check", foreign)
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {foreign} was not written by textlstm export "
        f"({foreign / 'assets.extra' / 'export.json'} missing)\n"
    )


# --------------------------------------------------------------------------- #
# Versions and atomic writes


def test_versions_count_up_and_an_existing_one_is_never_replaced(export_run, tmp_path):
    base = tmp_path / "reviews"
    first = export_lib.export_saved_model(export_run, base, version=3, verify=False)
    assert (first.path, first.version, first.report) == (base / "3", 3, None)
    before = digest(base / "3")
    second = export_lib.export_saved_model(export_run, base, verify=False)
    assert (second.path, second.version) == (base / "4", 4)
    with pytest.raises(ExportError) as error:
        export_lib.export_saved_model(export_run, base, version=3, verify=False)
    assert str(error.value) == f"{base / '3'} already exists (choose another --version)"
    assert digest(base / "3") == before
    assert sorted(p.name for p in base.iterdir()) == ["3", "4"]
    for folder in (base / "3", base / "4"):
        assert stat.S_IMODE(folder.stat().st_mode) == usual_folder_mode()


def test_an_existing_version_is_refused_by_the_command(exports):
    base = exports.base / "cpu"
    before = digest(base / "1")
    result = invoke("export", exports.run, "--out", base, "--version", "1")
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {base / '1'} already exists (choose another --version)\n"
    )
    assert digest(base / "1") == before


def test_target_all_refuses_a_clash_before_writing_any_target(export_run, tmp_path):
    base = tmp_path / "reviews"
    (base / "gpu" / "2").mkdir(parents=True)
    result = invoke(
        "export", export_run, "--out", base, "--target", "all", "--version", "2"
    )
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {base / 'gpu' / '2'} already exists (choose another --version)\n"
    )
    assert sorted(p.name for p in base.iterdir()) == ["gpu"]


def test_a_failed_write_leaves_no_folder_and_keeps_the_old_version(
    exports, tmp_path, monkeypatch
):
    base = tmp_path / "reviews"
    shutil.copytree(version_dir(exports, "cpu"), base / "1")
    before = digest(base / "1")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    from textlstm.export import extras as extras_lib

    monkeypatch.setattr(extras_lib, "write_extras", disk_full)
    result = invoke("export", exports.run, "--out", base, "--no-verify")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: OSError: [Errno 28] No space left on device "
        "(set TEXTLSTM_DEBUG=1 for the traceback)"
    )
    assert [p.name for p in base.iterdir()] == ["1"]
    assert digest(base / "1") == before


def test_a_failed_verification_publishes_nothing(exports, tmp_path, monkeypatch):
    base = tmp_path / "reviews"

    def drifted(path, **kwargs):
        return VerificationReport(
            path=Path(path),
            target="cpu",
            checks=[
                Check("fresh process", True, "loaded with tf.saved_model.load"),
                Check("parity serving_default", False, "max |export - keras| = 3e-02"),
            ],
            max_abs_diff={"serving_default": 0.03},
        )

    monkeypatch.setattr(publish_lib, "verify_export", drifted)
    result = invoke("export", exports.run, "--out", base)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "  FAIL parity serving_default: max |export - keras| = 3e-02" in lines
    assert "  => FAILED" in lines
    assert lines[-1] == (
        f"Error: {base / '1'}: verification failed (parity serving_default) "
        "(nothing was written)"
    )
    assert list(base.iterdir()) == []


def children(pid: int) -> dict[int, bytes]:
    """The live child processes of `pid` and their command lines (/proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid and running(int(entry.name)):
                found[int(entry.name)] = (entry / "cmdline").read_bytes()
        except OSError:
            continue  # it ended meanwhile
    return found


def running(pid: int) -> bool:
    """Whether `pid` exists and is not a zombie (dead, not yet reaped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_export_takes_its_probe_along_and_the_next_cleans_up(
    export_run, tmp_path
):
    """SIGKILL during verification: the probe dies with the export, every
    temporary file (AutoGraph's included) is in the export's `.tmp-<pid>-*`
    workspace, and the next export removes it and publishes version 1."""
    out, system_tmp = tmp_path / "reviews", tmp_path / "tmp"
    system_tmp.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "textlstm.cli.main", "export", export_run, "--out", out],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(system_tmp)},
    )
    script = str(PROBE).encode()
    try:
        deadline = time.monotonic() + 300
        probes = []
        while not probes and process.poll() is None and time.monotonic() < deadline:
            probes = [p for p, cmd in children(process.pid).items() if script in cmd]
            time.sleep(0.05)
        assert len(probes) == 1, "the export never started its probe"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    deadline = time.monotonic() + 5
    while running(probes[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(probes[0])
    (workspace,) = out.iterdir()
    assert workspace.name.startswith(f".tmp-{process.pid}-1-")
    # It died at once: a probe left running would have finished its report.
    assert not (workspace / "scratch" / "probe.json").exists()
    assert list(system_tmp.iterdir()) == []
    assert list((workspace / "scratch" / "tmp").glob("__autograph_generated_*"))

    result = invoke("export", export_run, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        f"Exported {out / '1'} (target cpu, version 1)"
    )
    assert [p.name for p in out.iterdir()] == ["1"]
    report = json.loads((out / "1" / "assets.extra" / "verification.json").read_text())
    assert report["ok"]


# --------------------------------------------------------------------------- #
# Messages and exit codes


def test_usage_errors_name_the_problem_in_one_line(exports, tmp_path):
    run, out = exports.run, tmp_path / "out"
    not_a_run = tmp_path / "not-a-run"
    not_a_run.mkdir()
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    for name in ("config.yaml", "run.json"):
        shutil.copyfile(run / name, unfinished / name)
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    usage = [  # Click's usage errors: usage line, then the error
        (
            ["export", tmp_path / "absent", "--out", out],
            f"Error: Invalid value for '[RUN_DIR]': Directory "
            f"'{tmp_path / 'absent'}' does not exist.",
        ),
        (
            ["export", run, "--out", out, "--target", "tpux"],
            "Error: Invalid value for '--target': 'tpux' is not one of 'cpu', "
            "'gpu', 'tpu', 'litert', 'all'.",
        ),
        (["export", run], "Error: give RUN_DIR and --out DIR (or --check PATH)"),
        (
            ["export", "--out", out],
            "Error: give RUN_DIR and --out DIR (or --check PATH)",
        ),
        (
            ["export", run, "--out", out, "--version", "0"],
            "Error: Invalid value for '--version': 0 is not in the range x>=1.",
        ),
        (
            ["export", run, "--out", a_file],
            f"Error: Invalid value for '--out' / '-o': Directory '{a_file}' is a file.",
        ),
        (
            ["export", "--check", version_dir(exports, "cpu"), run],
            "Error: --check PATH takes no RUN_DIR and no --out",
        ),
    ]
    for args, message in usage:
        result = invoke(*args)
        assert result.exit_code == 2, args
        assert result.output.startswith("Usage: cli export [OPTIONS] [RUN_DIR]")
        assert result.output.splitlines()[-1] == message
    one_line = [
        (
            ["export", not_a_run, "--out", out],
            f"Error: {not_a_run} is not a textlstm run folder (config.yaml missing)",
        ),
        (
            ["export", unfinished, "--out", out],
            f"Error: {unfinished} has no model.keras (is the run finished?)",
        ),
    ]
    for args, message in one_line:
        result = invoke(*args)
        assert (result.exit_code, result.output) == (2, message + "\n"), args
    assert not out.exists()


@pytest.mark.parametrize("command", ["export", "serve"])
def test_help_has_examples(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Examples:" in result.output and f"textlstm {command} " in result.output


# --------------------------------------------------------------------------- #
# predict on an export


PREDICT_TEXTS = [
    "at first i found it dull . but by the end , i found it brilliant .",
    "",
    "   ",
    "Très bon film 日本語 👍🏽",
    "nul\x00 bell\x07 crlf\r\n end",
    "x" * 100_000,
]


@pytest.fixture(scope="module")
def run_predictions(exports):
    result = invoke("predict", exports.run, *PREDICT_TEXTS, "--json")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


@pytest.mark.parametrize(
    "where", ["cpu/1", "gpu/1", "tpu", "."], ids=["cpu", "gpu", "tpu-base", "bad"]
)
def test_predict_on_an_export_prints_what_the_run_folder_prints(
    exports, run_predictions, where
):
    path = exports.base / where
    result = invoke("predict", path, *PREDICT_TEXTS, "--json")
    if where == ".":  # the folder holding cpu/, gpu/, tpu/: no export itself
        assert result.exit_code == 2
        assert result.output.splitlines()[-1] == (
            f"Error: Invalid value for RUN_DIR|EXPORT_DIR: {path} has no "
            "model.keras and no saved_model.pb (give a finished run folder or an "
            "export of textlstm export)"
        )
        return
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert len(records) == len(PREDICT_TEXTS)
    for got, expected in zip(records, run_predictions):
        assert (got["text"], got["label"]) == (expected["text"], expected["label"])
        assert list(got["probabilities"]) == CLASS_NAMES
        differences = [
            abs(got["probabilities"][name] - expected["probabilities"][name])
            for name in CLASS_NAMES
        ]
        assert max(differences) <= TOLERANCE


@pytest.mark.parametrize(
    "truncation, expected",
    [
        ("post", [[5, 6, 7], [8, 0, 0], [1, 2, 3]]),
        ("pre", [[5, 6, 7], [8, 0, 0], [2, 3, 4]]),
    ],
)
def test_fixed_shape_rows_drop_their_padding_then_truncate_like_the_vectorizer(
    truncation, expected
):
    """The tpu target's host side: padding anywhere in a row of any width is
    dropped (the model masks it), then the real tokens are cut to the fixed
    length from the side the vectorizer cuts."""
    import tensorflow as tf

    from textlstm.export.targets import run_fixed_shape

    @tf.function(input_signature=[tf.TensorSpec([2, 3], tf.int32)])
    def echo(token_ids):
        return {"probabilities": tf.cast(token_ids, tf.float32)}

    ids = tf.constant([[0, 0, 5, 6, 7, 0], [8, 0, 0, 0, 0, 0], [1, 2, 0, 3, 4, 0]])
    rows = run_fixed_shape(echo, ids, truncation)
    assert rows.numpy().astype(int).tolist() == expected


# --------------------------------------------------------------------------- #
# --xla, and the ids the signatures classify (textlstm.export.shapes)


@pytest.fixture(scope="module")
def xla_export(export_run, tmp_path_factory):
    base = tmp_path_factory.mktemp("xla") / "reviews"
    return export_lib.export_saved_model(export_run, base, xla=True)


def test_xla_export_passes_in_a_fresh_process_and_records_its_buckets(xla_export):
    names = [check.name for check in xla_export.report.checks]
    assert names[-2:] == ["no cuDNN ops", "XLA loops"]
    assert "no must-compile XLA" not in names
    assert xla_export.report.ok
    checks = {check.name: check for check in xla_export.report.checks}
    # One forward loop of the LSTM, traced for serving_default and serve_tokens.
    assert checks["XLA loops"].detail.endswith(
        "_XlaMustCompile functions (the recurrent loops)"
    )
    info = json.loads((xla_export.path / "assets.extra" / "export.json").read_text())
    assert info["xla"] is True
    assert info["buckets"] == {
        "lengths": [16, SEQUENCE_LENGTH],
        "batches": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
    }


@pytest.mark.parametrize("batch_size", [1, 3, 17])
def test_xla_export_matches_keras_at_any_batch_size(xla_export, reference, batch_size):
    import tensorflow as tf

    serve = tf.saved_model.load(str(xla_export.path)).signatures["serving_default"]
    texts = reference["texts"][:batch_size]
    outputs = serve(text=tf.constant(texts, tf.string))
    assert outputs["probabilities"].shape == (batch_size, 2)
    np.testing.assert_allclose(
        outputs["probabilities"].numpy(),
        reference["probabilities"][:batch_size],
        atol=TOLERANCE,
        rtol=0,
    )
    assert outputs["label"].shape == (batch_size,)


def test_portable_exports_carry_no_xla_flag(exports):
    for target in TARGETS:
        info = json.loads(
            (version_dir(exports, target) / "assets.extra" / "export.json").read_text()
        )
        assert info["xla"] is False
        assert "buckets" not in info


def test_the_signatures_classify_ids_padded_only_to_the_longest_text():
    import tensorflow as tf

    from textlstm.export.shapes import Buckets, compact_ids, text_ids
    from textlstm.text import TextVectorizer

    vectorizer = TextVectorizer(sequence_length=6, truncation="pre", padding="pre")
    vectorizer.adapt(["a b c d e f g h"])
    texts = tf.constant(["a b", "", "a b c d e f g h"])
    ids, count = text_ids(vectorizer, texts, None)
    assert int(count) == 3
    expected = vectorizer(texts).numpy()  # pre-padded to 6
    assert ids.shape == (3, 6)
    for row, full in zip(ids.numpy(), expected):
        assert row[row != 0].tolist() == full[full != 0].tolist()
        assert row.tolist() == full[full != 0].tolist() + [0] * (6 - (full != 0).sum())
    ids, _ = text_ids(vectorizer, tf.constant(["a b", "c"]), None)
    assert ids.shape == (2, 2) and ids.numpy()[1, 1] == 0
    buckets = Buckets((2, 4), (1, 2, 4))
    ids, count = text_ids(vectorizer, tf.constant(["a b c", "a", "b"]), buckets)
    assert (int(count), tuple(ids.shape)) == (3, (4, 4))  # 3 rows -> 4, width 3 -> 4
    ids, count = compact_ids(tf.constant([[0, 0, 5], [7, 0, 8]], tf.int64), buckets)
    assert ids.numpy().tolist() == [[5, 0], [7, 8]]
    ids, count = compact_ids(tf.zeros([0, 3], tf.int64), None)
    assert (int(count), tuple(ids.shape)) == (0, (0, 1))
    # Beyond the largest bucket: a multiple of it.
    ids, _ = compact_ids(tf.ones([5, 9], tf.int64), buckets)
    assert tuple(ids.shape) == (8, 12)


@pytest.mark.parametrize("layer_name", ["LSTM", "GRU", "SimpleRNN"])
def test_plain_tensorflow_loops_skip_a_mask_that_keeps_every_step(layer_name):
    import tensorflow as tf

    from textlstm import layers
    from textlstm.layers import fast_path_options

    layer = getattr(layers, layer_name)(5, return_sequences=True)
    x = tf.random.stateless_normal([2, 7, 3], seed=[1, 2])
    full = tf.ones([2, 7], tf.bool)
    ragged = tf.constant([[True] * 7, [True] * 4 + [False] * 3])
    with fast_path_options(xla=False):
        function = tf.function(lambda x, mask: layer(x, mask=mask))
        graph = function.get_concrete_function(x, full).graph
        kept, cut = function(x, full), function(x, ragged)
        unmasked = tf.function(lambda x: layer(x))(x)
    ops = {op.type for op in graph.get_operations()}
    assert ops & {"If", "StatelessIf"}
    np.testing.assert_array_equal(kept.numpy(), unmasked.numpy())
    # The masked branch still masks: as the XLA loop does.
    np.testing.assert_allclose(
        cut.numpy(), layer(x, mask=ragged).numpy(), atol=1e-6, rtol=0
    )
    assert not np.allclose(cut.numpy()[1, 4:], kept.numpy()[1, 4:])


def test_xla_export_carries_tf_serving_warmup_requests_for_its_buckets(xla_export):
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    from textlstm.export.warmup import WARMUP_FILE
    from textlstm.model import load_text_classifier

    path = xla_export.path / "assets.extra" / WARMUP_FILE
    records = [
        prediction_log_pb2.PredictionLog.FromString(r.numpy())
        for r in tf.data.TFRecordDataset(str(path))
    ]
    info = json.loads((xla_export.path / "assets.extra" / "export.json").read_text())
    assert info["warmup_requests"] == len(records) == 7 * 2  # batches <= 64, 2 lengths
    model = load_text_classifier(info["source_run"])
    vectorizer = next(layer for layer in model.layers if hasattr(layer, "token_ids"))
    shapes = set()
    for record in records:
        request = record.predict_log.request
        assert request.model_spec.signature_name == "serving_default"
        texts = tf.make_ndarray(request.inputs["text"])
        tokens = int(vectorizer.token_ids(tf.constant(texts[:1])).row_lengths()[0])
        shapes.add((len(texts), tokens))
    assert shapes == {(b, n) for b in (1, 2, 4, 8, 16, 32, 64) for n in (16, 32)}


def test_warmup_requests_replay_on_the_loaded_signatures(xla_export, tmp_path):
    """Two of the records (each replayed request compiles its shape)."""
    import tensorflow as tf

    from textlstm.export.warmup import WARMUP_FILE, replay_warmup

    copy = tmp_path / "1"
    shutil.copytree(xla_export.path, copy)
    records = list(tf.data.TFRecordDataset(str(copy / "assets.extra" / WARMUP_FILE)))
    with tf.io.TFRecordWriter(str(copy / "assets.extra" / WARMUP_FILE)) as writer:
        for record in records[:2]:
            writer.write(record.numpy())
    loaded = tf.saved_model.load(str(copy))
    assert replay_warmup(copy, loaded.signatures) == 2
    (copy / "assets.extra" / WARMUP_FILE).unlink()
    assert replay_warmup(copy, loaded.signatures) == 0


def test_portable_exports_have_no_warmup_file(exports):
    for target in TARGETS:
        extra = version_dir(exports, target) / "assets.extra"
        assert not (extra / "tf_serving_warmup_requests").exists()
