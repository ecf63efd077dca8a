"""SavedModel export for TensorFlow Serving (CPU, GPU) and TPUs, verified.

`export_saved_model(run_dir, out, target=...)` turns the `model.keras` of a
run folder into the TensorFlow Serving layout

```
OUT/<version>/
  saved_model.pb
  variables/
  assets/vocab.txt          token ids of `serve_tokens` (line i = id i)
  assets.extra/             class_names.json, config.yaml, run.json,
                            export.json, verification_samples.json,
                            verification.json
```

with two signatures on every target:

- `serving_default`: input `text` string `[None]`; outputs `probabilities`
  float32 `[None, C]`, `label_id` int64 `[None]`, `label` string `[None]`.
- `serve_tokens`: input `token_ids` int64 `[None, None]`; the same outputs.

Targets:

- `cpu`: portable graph. The recurrent fast path is traced as plain
  TensorFlow ops (`textlstm.layers.fast_path_options(xla=False)`): no
  `CudnnRNN*` op, no function that must be compiled with XLA.
- `gpu`: as `cpu`, plus a cuDNN implementation of every fast-path LSTM/GRU
  registered beside the portable one under a shared `api_implements`
  attribute, as tf.keras 2 did. Grappler's implementation selector swaps
  in the cuDNN function when the layer is placed on a GPU; on a CPU the
  portable function runs, so the same export serves on both.
- `tpu`: the signatures run the string processing on the host, then call a
  fixed-shape token function, `tpu_func` (`int32 [batch, sequence_length]`
  from the config), exported as a function alias
  (`tf.saved_model.SaveOptions(function_aliases=...)`) for TPU converters.

Every export is verified before it appears under its final name: a fresh
interpreter that cannot import Keras or textlstm loads it with
`tf.saved_model.load`, runs both signatures on ~120 sample texts (empty,
100k characters, non-ASCII, control characters, invalid UTF-8), and audits
every op of the MetaGraph; `verify_export(path)` re-runs that check.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from textlstm.errors import ExportError

__all__ = [
    "SIGNATURES",
    "TARGETS",
    "TPU_ALIAS",
    "Check",
    "ExportError",
    "ExportResult",
    "VerificationError",
    "VerificationReport",
    "export_saved_model",
    "latest_version",
    "load_export_predictor",
    "resolve_export",
    "sample_texts",
    "verify_export",
]

TARGETS = ("cpu", "gpu", "tpu")
SIGNATURES = ("serving_default", "serve_tokens")
TPU_ALIAS = "tpu_func"
#: Largest difference allowed between the export and the Keras model.
TOLERANCE = 1e-5
_EXTRA = "assets.extra"
_PROBE = Path(__file__).with_name("_export_probe.py")


class VerificationError(RuntimeError):
    """An export failed its verification; `report` says which checks."""

    def __init__(self, report: VerificationReport):
        failed = ", ".join(c.name for c in report.checks if not c.ok)
        super().__init__(f"{report.path}: verification failed ({failed})")
        self.report = report


@dataclasses.dataclass
class Check:
    """One verification check: its name, outcome and a one-line detail."""

    name: str
    ok: bool
    detail: str = ""


@dataclasses.dataclass
class VerificationReport:
    """What `verify_export` found.

    Attributes:
        path: The export version folder.
        target: The export's target, from `assets.extra/export.json`.
        checks: Every check, in order.
        max_abs_diff: Largest |export - Keras| probability difference per
            function (`serving_default`, `serve_tokens`, `tpu_func`).
        probe: The raw report of the fresh process.
    """

    path: Path
    target: str
    checks: list[Check]
    max_abs_diff: dict[str, float]
    probe: dict = dataclasses.field(repr=False, default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def format(self) -> str:
        """A short human-readable report, one line per check."""
        lines = [f"Verification of {self.path} (target {self.target}):"]
        for check in self.checks:
            mark = "ok  " if check.ok else "FAIL"
            lines.append(f"  {mark} {check.name}: {check.detail}")
        lines.append("  => " + ("passed" if self.ok else "FAILED"))
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "path": str(self.path),
            "target": self.target,
            "ok": self.ok,
            "max_abs_diff": self.max_abs_diff,
            "checks": [dataclasses.asdict(check) for check in self.checks],
        }


@dataclasses.dataclass
class ExportResult:
    """One written export: its folder, target, version and verification."""

    path: Path
    target: str
    version: int
    report: VerificationReport | None


# --------------------------------------------------------------------------- #
# Versions


def _versions(base: Path) -> list[int]:
    if not base.is_dir():
        return []
    return sorted(
        int(p.name) for p in base.iterdir() if p.name.isdigit() and p.is_dir()
    )


def latest_version(base: str | os.PathLike) -> int | None:
    """The largest integer version folder under `base` (None if none)."""
    versions = _versions(Path(base))
    return versions[-1] if versions else None


def resolve_export(path: str | os.PathLike) -> Path:
    """A version folder (`.../<N>`), or the latest version of a model base.

    Raises:
        ExportError: `path` holds no SavedModel.
    """
    path = Path(path)
    if (path / "saved_model.pb").is_file():
        return path
    version = latest_version(path)
    if version is not None and (path / str(version) / "saved_model.pb").is_file():
        return path / str(version)
    raise ExportError(
        f"{path} is neither a SavedModel folder (saved_model.pb) nor a model base "
        "with version folders (1/, 2/, ...)"
    )


# --------------------------------------------------------------------------- #
# Export


def export_saved_model(
    run_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    target: str = "cpu",
    version: int | None = None,
    verify: bool = True,
    tpu_batch_size: int | None = None,
    log: Callable[[str], None] | None = None,
) -> ExportResult:
    """Export the model of a run folder to `out/<version>/`, atomically.

    The SavedModel is written to a temporary folder beside its final name,
    verified there (unless `verify=False`), then renamed, so TensorFlow
    Serving watching `out` never sees a half-written or failing version.

    Args:
        run_dir: A run folder written by `textlstm fit` (or any folder with
            `model.keras`, `config.yaml` and `run.json`).
        out: The model base folder (created if needed).
        target: `"cpu"`, `"gpu"` or `"tpu"` (see the module docstring).
        version: The version number; default one more than the largest
            existing version (1 for a new base).
        verify: Verify in a fresh process before publishing.
        tpu_batch_size: Static batch size of `tpu_func` (default the
            config's `train.batch_size`).
        log: Called with one-line progress messages.

    Returns:
        An `ExportResult`.

    Raises:
        ExportError: bad run folder, target or version (the version exists).
        VerificationError: the export failed verification (nothing is
            published).
    """
    log = log or (lambda message: None)
    if target not in TARGETS:
        raise ExportError(f"target: {target!r} is not one of {', '.join(TARGETS)}")
    if version is not None and (isinstance(version, bool) or version < 1):
        raise ExportError(f"version: {version!r} is not an integer >= 1")
    out = Path(out)
    from textlstm.training import RunError, read_run

    try:
        run = read_run(run_dir)
    except RunError as error:
        raise ExportError(str(error)) from None
    if not (run.path / "model.keras").is_file():
        raise ExportError(f"{run.path} has no model.keras (is the run finished?)")
    version = version if version is not None else (latest_version(out) or 0) + 1
    final = out / str(version)
    if final.exists():
        raise ExportError(f"{final} already exists (choose another --version)")

    log(f"Loading {run.path / 'model.keras'}")
    from textlstm.models import load_text_classifier

    text_model = load_text_classifier(run.path)
    out.mkdir(parents=True, exist_ok=True)
    # Not a numeric name: TensorFlow Serving ignores it while it is written.
    # A plain mkdir, not mkdtemp: the version folder gets the usual mode, not
    # 0700, so a server running as another user can read it.
    temporary = out / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
    temporary.mkdir()
    try:
        log(f"Writing the {target} SavedModel")
        extras = _write_saved_model(
            text_model, run, temporary, target=target, tpu_batch_size=tpu_batch_size
        )
        _write_extras(
            text_model, run, temporary, extras, target=target, version=version
        )
        report = None
        if verify:
            log("Verifying in a fresh process")
            report = verify_export(temporary)
            report.path = final
            _write_json(temporary / _EXTRA / "verification.json", report.to_json())
            if not report.ok:
                raise VerificationError(report)
        try:
            os.rename(temporary, final)  # fails if `final` appeared meanwhile
        except OSError:
            raise ExportError(
                f"{final} already exists (written concurrently?)"
            ) from None
    finally:
        if temporary.exists():
            shutil.rmtree(temporary, ignore_errors=True)
    return ExportResult(path=final, target=target, version=version, report=report)


def _parts(text_model):
    """The vectorizer layer and the token classifier of a text model."""
    classifier = text_model.get_layer("classifier")
    vectorizer = next(
        layer for layer in text_model.layers if hasattr(layer, "get_vocabulary")
    )
    return vectorizer, classifier


def _write_saved_model(text_model, run, folder: Path, *, target, tpu_batch_size):
    import tensorflow as tf

    from textlstm import text as text_lib
    from textlstm.layers import fast_path_options

    vectorizer, classifier = _parts(text_model)
    class_names = list(run.class_names)
    num_classes = int(classifier.output.shape[-1])
    if len(class_names) != num_classes:
        raise ExportError(
            f"run.json has {len(class_names)} class names, the model {num_classes} "
            "outputs"
        )
    vocabulary_dir = Path(tempfile.mkdtemp())
    try:
        vocabulary = vocabulary_dir / "vocab.txt"
        text_lib.write_vocabulary(vectorizer, vocabulary)

        module = tf.Module(name="textlstm_export")
        # Track exactly what the graph needs: the vectorizer (its lookup
        # table) and the classifier's variables. Not the Keras model itself,
        # whose traced train/predict functions would be saved along.
        module.vectorizer = vectorizer
        module.classifier_variables = list(classifier.variables)
        module.vocabulary = tf.saved_model.Asset(str(vocabulary))
        names = tf.constant(class_names, tf.string)

        def scored(probabilities):
            probabilities = tf.cast(probabilities, tf.float32)
            label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
            return {"probabilities": probabilities, "label_id": label_id}

        def labelled(probabilities):
            outputs = scored(probabilities)
            return {**outputs, "label": tf.gather(names, outputs["label_id"])}

        def on_device(token_ids):
            return labelled(classifier(tf.cast(token_ids, tf.int64), training=False))

        classify = on_device
        options, extras = {}, {}
        if target == "tpu":
            batch = int(tpu_batch_size or run.config["train"]["batch_size"])
            length = int(vectorizer.sequence_length)
            truncation = getattr(vectorizer, "truncation", "post")

            @tf.function(
                input_signature=[tf.TensorSpec([batch, length], tf.int32, "token_ids")],
                autograph=False,
            )
            def tpu_func(token_ids):
                # No strings in here (not even the class names): they stay
                # on the host.
                return scored(classifier(tf.cast(token_ids, tf.int64), training=False))

            def classify(token_ids):
                return labelled(_run_fixed_shape(tpu_func, token_ids, truncation))

            module.tpu_func = tpu_func
            options["function_aliases"] = {TPU_ALIAS: tpu_func}
            extras["tpu_func"] = {"input": f"int32 [{batch}, {length}]"}

        @tf.function(
            input_signature=[tf.TensorSpec([None], tf.string, "text")], autograph=False
        )
        def serve_text(text):
            return classify(vectorizer(text))

        @tf.function(
            input_signature=[tf.TensorSpec([None, None], tf.int64, "token_ids")],
            autograph=False,
        )
        def serve_tokens(token_ids):
            return classify(token_ids)

        selection = (
            _backend_selection(classifier)
            if target == "gpu"
            else contextlib.nullcontext(0)
        )
        with fast_path_options(xla=False), selection as selected:
            if target == "gpu":
                extras["cudnn_layers"] = selected
            if target == "tpu":
                module.tpu_func.get_concrete_function()
            signatures = {
                "serving_default": serve_text.get_concrete_function(),
                "serve_tokens": serve_tokens.get_concrete_function(),
            }
            module.serve_text, module.serve_tokens = serve_text, serve_tokens
            # Still inside the block: saving traces the custom gradients.
            tf.saved_model.save(
                module,
                str(folder),
                signatures=signatures,
                options=tf.saved_model.SaveOptions(**options),
            )

    finally:
        shutil.rmtree(vocabulary_dir, ignore_errors=True)
    return extras


def _run_fixed_shape(function, token_ids, truncation):
    """Run a `[batch, length]` function on any `[N, M]` ids, on the host side.

    The padding (id 0) of each row is dropped, which masking makes exact,
    its real tokens truncated as the vectorizer truncates (`truncation:
    pre` keeps the last ones, wherever the caller put the padding), padded
    to `length`, and the rows cut into batches padded with empty rows.
    """
    import tensorflow as tf

    from textlstm.text import pad_ragged

    (spec,) = function.input_signature
    batch, length = spec.shape.as_list()
    ids = tf.cast(token_ids, tf.int32)
    ids = pad_ragged(tf.ragged.boolean_mask(ids, ids != 0), length, "post", truncation)
    count = tf.shape(ids)[0]
    ids = tf.pad(ids, [[0, (-count) % batch], [0, 0]])
    chunks = tf.reshape(ids, [-1, batch, length])
    probabilities = tf.map_fn(
        lambda chunk: function(chunk)["probabilities"],
        chunks,
        fn_output_signature=tf.float32,
    )
    return tf.reshape(probabilities, [-1, probabilities.shape[-1]])[:count]


def _write_extras(text_model, run, folder: Path, extras: dict, *, target, version):
    import keras
    import tensorflow as tf

    import textlstm

    extra = folder / _EXTRA
    extra.mkdir()
    _write_json(extra / "class_names.json", list(run.class_names))
    for name in ("config.yaml", "run.json"):
        shutil.copyfile(run.path / name, extra / name)
    vectorizer, _ = _parts(text_model)
    export_info = {
        "format": "textlstm-export-1",
        "target": target,
        "version": version,
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "source_run": str(run.path.resolve()),
        "class_names": list(run.class_names),
        "signatures": {
            "serving_default": {"inputs": {"text": "string [None]"}},
            "serve_tokens": {"inputs": {"token_ids": "int64 [None, None]"}},
        },
        "outputs": {
            "probabilities": "float32 [None, C]",
            "label_id": "int64 [None]",
            "label": "string [None]",
        },
        "sequence_length": int(vectorizer.sequence_length),
        "versions": {
            "textlstm": textlstm.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "python": sys.version.split()[0],
        },
    }
    export_info.update(extras)
    _write_json(extra / "export.json", export_info)
    _write_json(extra / "verification_samples.json", _reference(text_model))


def _write_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- #
# Backend selection (target gpu)


@contextlib.contextmanager
def _backend_selection(model):
    """While tracing in this block, fast-path LSTM/GRU layers of `model` run
    through a pair of functions sharing one `api_implements` attribute: the
    portable loop (`api_preferred_device: CPU`, the one called) and a cuDNN
    one (`GPU`, registered in the graph). Grappler's implementation selector
    picks by device at run time. Yields how many layers got the pair.
    """
    from textlstm.layers import GRU, LSTM

    patched = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        # Exactly these classes: cuDNN has no peephole or CIFG variant.
        if type(layer) in (LSTM, GRU):
            original = layer.fast_loop
            layer.fast_loop = _selected_loop(layer, original)
            patched.append((layer, original))
    try:
        yield len(patched)
    finally:
        for layer, _ in patched:
            del layer.fast_loop  # back to the class's method


def _selected_loop(layer, original):
    from textlstm.layers import LSTM

    is_lstm = isinstance(layer, LSTM)

    def fast_loop(sequences, initial_state, mask, training):
        cell = layer.cell
        if (
            training
            or not cell.use_bias
            or not layer.fast_path_applies(sequences, training)
            or (not is_lstm and not cell.reset_after)
        ):
            return original(sequences, initial_state, mask, training)
        import tensorflow as tf

        sequences = tf.convert_to_tensor(sequences)
        if mask is None:
            mask = tf.ones(tf.shape(sequences)[:2], tf.bool)
        mask = tf.cast(mask, tf.float32)
        weights = [
            tf.convert_to_tensor(w) for w in (cell.kernel, cell.recurrent_kernel)
        ]
        bias = tf.convert_to_tensor(cell.bias)
        states = [tf.convert_to_tensor(s) for s in initial_state]
        hs, state = _select(
            is_lstm, layer.go_backwards, sequences, mask, *states, *weights, bias
        )
        time_mask = tf.expand_dims(tf.transpose(mask), -1)
        if layer.go_backwards:
            time_mask = tf.reverse(time_mask, [0])
        final = [hs[-1], state] if is_lstm else [hs[-1]]
        return layer.pack_outputs(hs, final, time_mask)

    return fast_loop


def _select(is_lstm, go_backwards, sequences, mask, *tensors):
    """Call the portable function and register the cuDNN one beside it."""
    import tensorflow as tf

    api = f"textlstm_{'lstm' if is_lstm else 'gru'}_{uuid.uuid4().hex}"
    portable = _portable_lstm if is_lstm else _portable_gru
    cudnn = _cudnn_lstm if is_lstm else _cudnn_gru

    def attributes(device):
        return {
            "api_implements": api,
            "api_preferred_device": device,
            "go_backwards": bool(go_backwards),
        }

    cpu = tf.function(
        functools.partial(portable, go_backwards),
        experimental_attributes=attributes("CPU"),
        autograph=False,
    )
    gpu = tf.function(
        functools.partial(cudnn, go_backwards),
        experimental_attributes=attributes("GPU"),
        autograph=False,
    )
    outputs = cpu(sequences, mask, *tensors)
    registered = gpu.get_concrete_function(sequences, mask, *tensors)
    registered.add_to_graph()
    return outputs


def _time_major_projection(go_backwards, sequences, mask, kernel, bias):
    """`x W + b` time-major (reversed for `go_backwards`), and the mask
    `(time, batch, 1)`, as `RecurrentLayer.input_projection` computes them.
    """
    import tensorflow as tf

    x = tf.transpose(sequences, (1, 0, 2))
    m = tf.expand_dims(tf.transpose(mask), -1)
    if go_backwards:
        x, m = tf.reverse(x, [0]), tf.reverse(m, [0])
    steps, batch = tf.shape(x)[0], tf.shape(x)[1]
    xw = tf.matmul(tf.reshape(x, (-1, x.shape[-1])), kernel) + bias
    return tf.reshape(xw, (steps, batch, -1)), m


def _portable_lstm(go_backwards, sequences, mask, h0, c0, kernel, recurrent, bias):
    from textlstm.layers import fast_tf

    def loop(sequences, mask, h0, c0):
        xw, m = _time_major_projection(go_backwards, sequences, mask, kernel, bias)
        hs, cs = fast_tf.lstm(xw, h0, c0, recurrent, m)
        return hs, cs[-1]

    inputs = [sequences, mask, h0, c0]
    return fast_tf.sharded(loop, inputs, recurrent, axes=[1, 0])


def _portable_gru(go_backwards, sequences, mask, h0, kernel, recurrent, bias):
    from textlstm.layers import fast_tf

    def loop(sequences, mask, h0):
        xw, m = _time_major_projection(go_backwards, sequences, mask, kernel, bias[0])
        hs = fast_tf.gru(xw, h0, recurrent, bias[1], m)
        return hs, hs[-1]

    return fast_tf.sharded(loop, [sequences, mask, h0], recurrent, axes=[1, 0])


def _cudnn_or_portable(go_backwards, sequences, mask, cudnn_fn, portable_fn):
    """cuDNN needs right-padded masks (or their reverse with go_backwards);
    anything else runs the portable loop inside the GPU function.
    """
    import tensorflow as tf

    keep = mask > 0
    lengths = tf.reduce_sum(tf.cast(keep, tf.int32), 1)
    right_padded = tf.reduce_all(
        tf.equal(keep, tf.sequence_mask(lengths, tf.shape(mask)[1]))
    )
    return tf.cond(right_padded, lambda: cudnn_fn(lengths), portable_fn)


def _to_carried(go_backwards, outputs, final, initial, lengths):
    """cuDNN outputs (batch-major, zeros after each length) -> the fast
    path's carried states, time-major and in its (possibly reversed) order.
    """
    import tensorflow as tf

    valid = tf.sequence_mask(lengths, tf.shape(outputs)[1])[..., None]
    if go_backwards:
        outputs = tf.reverse_sequence(
            outputs, tf.maximum(lengths, 1), seq_axis=1, batch_axis=0
        )
        carried = tf.reverse(tf.where(valid, outputs, initial[:, None]), [1])
    else:
        carried = tf.where(valid, outputs, final[:, None])
    return tf.transpose(carried, (1, 0, 2))


def _cudnn_params(weights, biases):
    import tensorflow as tf

    flat = [tf.reshape(tf.transpose(w), [-1]) for w in weights]
    return tf.concat(flat + [tf.reshape(b, [-1]) for b in biases], 0)


def _cudnn_call(go_backwards, sequences, lengths, rnn_mode, params, h0, c0=None):
    """`CudnnRNNV3` on batch-major `sequences`; returns `(outputs, h, c)`."""
    import tensorflow as tf

    # cuDNN fails on empty sequences: run them one step, then restore the
    # initial state for them.
    safe = tf.maximum(lengths, 1)
    if go_backwards:
        sequences = tf.reverse_sequence(sequences, safe, seq_axis=1, batch_axis=0)
    outputs, h, c, _, _ = tf.raw_ops.CudnnRNNV3(
        input=sequences,
        input_h=tf.expand_dims(h0, 1),
        input_c=0 if c0 is None else tf.expand_dims(c0, 1),
        params=params,
        sequence_lengths=safe,
        rnn_mode=rnn_mode,
        is_training=False,
        time_major=False,
    )
    empty = (lengths == 0)[:, None]
    h = tf.where(empty, h0, tf.squeeze(h, 1))
    if c0 is not None:
        c = tf.where(empty, c0, tf.squeeze(c, 1))
    return outputs, h, c


def _cudnn_lstm(go_backwards, sequences, mask, h0, c0, kernel, recurrent, bias):
    import tensorflow as tf

    def cudnn(lengths):
        # cuDNN has a second bias per gate: zeros keep the Keras math.
        params = _cudnn_params(
            tf.split(kernel, 4, axis=1) + tf.split(recurrent, 4, axis=1),
            tf.split(tf.concat([tf.zeros_like(bias), bias], 0), 8),
        )
        outputs, h, c = _cudnn_call(
            go_backwards, sequences, lengths, "lstm", params, h0, c0
        )
        return _to_carried(go_backwards, outputs, h, h0, lengths), c

    def portable():
        return _portable_lstm(
            go_backwards, sequences, mask, h0, c0, kernel, recurrent, bias
        )

    return _cudnn_or_portable(go_backwards, sequences, mask, cudnn, portable)


def _cudnn_gru(go_backwards, sequences, mask, h0, kernel, recurrent, bias):
    import tensorflow as tf

    def cudnn(lengths):
        # Keras' gate order is z, r, h; cuDNN's (CUDA) is r, z, h.
        w = tf.split(kernel, 3, axis=1)
        u = tf.split(recurrent, 3, axis=1)
        b = tf.split(tf.reshape(bias, [-1]), 6)
        params = _cudnn_params(
            [w[1], w[0], w[2], u[1], u[0], u[2]],
            [b[1], b[0], b[2], b[4], b[3], b[5]],
        )
        outputs, h, _ = _cudnn_call(go_backwards, sequences, lengths, "gru", params, h0)
        return _to_carried(go_backwards, outputs, h, h0, lengths), h

    def portable():
        return _portable_gru(go_backwards, sequences, mask, h0, kernel, recurrent, bias)

    return _cudnn_or_portable(go_backwards, sequences, mask, cudnn, portable)


# --------------------------------------------------------------------------- #
# Verification


def sample_texts(vocabulary: Sequence[str], count: int = 100, seed: int = 0) -> list:
    """Texts that exercise an export: in-vocabulary word salads and the edge
    cases of SPEC §8 (empty, 100k characters, non-ASCII, control characters,
    HTML, invalid UTF-8 bytes).

    Returns:
        A list of `bytes` (UTF-8, except the deliberately invalid ones).
    """
    rng = np.random.default_rng(seed)
    words = [w for w in vocabulary[2:] if w] or ["film"]
    texts = [
        " ".join(rng.choice(words, size=int(rng.integers(1, 60)))) for _ in range(count)
    ]
    long_words = " ".join(rng.choice(words, size=30_000))[:100_000]
    edge = [
        "",
        " ",
        "\t\n\r  \n",
        long_words,
        "x" * 100_000,
        ("ünïcödé " * 15_000)[:100_000],
        "日本語のレビュー、とても良い映画でした",
        "Très bon film, naïve façade — «quel régal»",
        "فيلم رائع جدا",
        "👍🏽🎬🍿 great 😡",
        "e\u0301 combining, zero\u200bwidth, bidi \u202e override",
        "\x00",
        "good\x00film\x00",
        "\x01\x02\x07\x08\x1b[31mred\x1b[0m\x7f",
        "<br /><b>bold</b> &amp; &#169; <script>x</script>",
        "\ufeffbom and \u2028line separator\u2029",
        " ".join(words[:5]).upper(),
    ]
    encoded = [text.encode("utf-8") for text in texts + edge]
    encoded += [b"\xff\xfe\xfd", b"ok \xc3\x28 broken", b"\xed\xa0\x80 surrogate"]
    return encoded


def _reference(text_model) -> dict:
    """Sample inputs and the Keras model's outputs on them."""
    import tensorflow as tf

    vectorizer, classifier = _parts(text_model)
    texts = sample_texts(vectorizer.get_vocabulary(include_special_tokens=True))
    probabilities, ids = [], []
    for start in range(0, len(texts), 64):
        batch = tf.constant(texts[start : start + 64], tf.string)
        probabilities.append(np.asarray(text_model(batch, training=False)))
        ids.append(np.asarray(vectorizer(batch)))
    ids = np.concatenate(ids)
    # Token batches of other widths than the vectorizer's: serve_tokens
    # takes any [N, M].
    token_ids = [ids[:40], ids[40:60, : max(1, ids.shape[1] // 3)], ids[60:61, :1]]
    token_probabilities = [
        np.asarray(classifier(tf.constant(batch), training=False))
        for batch in token_ids
    ]
    return {
        "texts_b64": [base64.b64encode(t).decode("ascii") for t in texts],
        "probabilities": np.concatenate(probabilities).tolist(),
        "token_ids": [batch.tolist() for batch in token_ids],
        "token_probabilities": [p.tolist() for p in token_probabilities],
        "tpu_token_ids": ids[:8].tolist(),
        "tpu_probabilities": np.concatenate(probabilities)[:8].tolist(),
    }


def verify_export(
    path: str | os.PathLike, *, run_dir: str | os.PathLike | None = None
) -> VerificationReport:
    """Verify an export in a fresh process that can import only TensorFlow.

    Checks: the signatures (names, dtypes, shapes), parity with the Keras
    model within 1e-5 on the sample texts and token ids of
    `assets.extra/verification_samples.json`, label consistency, that Keras
    and textlstm were not imported, that every op is a stock TensorFlow op,
    and per target: no `CudnnRNN*` or must-compile XLA function (`cpu`),
    cuDNN functions paired with portable ones (`gpu`), `tpu_func` alias
    compiled with XLA on this host's CPU and matching Keras (`tpu`).

    Args:
        path: An export version folder, or a model base (its latest version).
        run_dir: Recompute the Keras reference from this run folder's
            `model.keras` instead of using the one stored at export time.

    Returns:
        A `VerificationReport` (check `.ok`).
    """
    path = resolve_export(path)
    info_path = path / _EXTRA / "export.json"
    if not info_path.is_file():
        raise ExportError(
            f"{path} was not written by textlstm export ({info_path} missing)"
        )
    info = json.loads(info_path.read_text(encoding="utf-8"))
    samples_path = path / _EXTRA / "verification_samples.json"
    with tempfile.TemporaryDirectory() as scratch:
        if run_dir is not None:
            from textlstm.models import load_text_classifier

            samples_path = Path(scratch) / "samples.json"
            _write_json(samples_path, _reference(load_text_classifier(run_dir)))
        samples = json.loads(samples_path.read_text(encoding="utf-8"))
        report_path = Path(scratch) / "probe.json"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        completed = subprocess.run(
            [
                sys.executable,
                "-I",
                str(_PROBE),
                str(path),
                str(samples_path),
                str(report_path),
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        if not report_path.is_file():
            tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
            probe = {
                "errors": [
                    f"probe exited with {completed.returncode}: " + " | ".join(tail)
                ]
            }
        else:
            probe = json.loads(report_path.read_text(encoding="utf-8"))
    checks, diffs = _checks(probe, samples, info)
    return VerificationReport(
        path=path, target=info["target"], checks=checks, max_abs_diff=diffs, probe=probe
    )


_EXPECTED_SIGNATURES = {
    "serving_default": {"text": ("string", [None])},
    "serve_tokens": {"token_ids": ("int64", [None, None])},
}


def _checks(probe: dict, samples: dict, info: dict) -> tuple[list[Check], dict]:
    checks: list[Check] = []
    diffs: dict[str, float] = {}
    target = info["target"]
    num_classes = len(info["class_names"])

    def check(name, ok, detail=""):
        checks.append(Check(name, bool(ok), detail))

    errors = probe.get("errors", [])
    check(
        "fresh process",
        not errors,
        "loaded with tf.saved_model.load"
        if not errors
        else errors[0].strip().splitlines()[-1],
    )
    modules = probe.get("modules", {})
    check(
        "TensorFlow only",
        modules and not any(modules.values()),
        "keras, tf_keras and textlstm never imported"
        if modules and not any(modules.values())
        else f"imported: {[k for k, v in modules.items() if v]}",
    )

    signatures = probe.get("signatures", {})
    problems = []
    for name, inputs in _EXPECTED_SIGNATURES.items():
        found = signatures.get(name)
        if found is None:
            problems.append(f"{name} missing")
            continue
        for key, (dtype, shape) in inputs.items():
            spec = found["inputs"].get(key)
            if spec != {"dtype": dtype, "shape": shape}:
                problems.append(f"{name} input {key}: {spec}")
        outputs = found["outputs"]
        expected = {
            "probabilities": {"dtype": "float32", "shape": [None, num_classes]},
            "label_id": {"dtype": "int64", "shape": [None]},
            "label": {"dtype": "string", "shape": [None]},
        }
        for key, spec in expected.items():
            if outputs.get(key) != spec:
                problems.append(f"{name} output {key}: {outputs.get(key)}")
    check(
        "signatures",
        signatures and not problems,
        "; ".join(problems)
        or "serving_default(text) and serve_tokens(token_ids) -> "
        f"probabilities [None, {num_classes}], label_id, label",
    )

    def parity(name, got, expected):
        if not got:
            check(f"parity {name}", False, "no output")
            return
        got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
        if got.shape != expected.shape:
            check(f"parity {name}", False, f"shape {got.shape} != {expected.shape}")
            return
        diff = float(np.max(np.abs(got - expected))) if got.size else 0.0
        diffs[name] = diff
        check(
            f"parity {name}",
            diff <= TOLERANCE and np.all(np.isfinite(got)),
            f"max |export - keras| = {diff:.2e} on {len(got)} inputs "
            f"(<= {TOLERANCE:g})",
        )

    serving = probe.get("serving_default")
    if serving:
        parity("serving_default", serving["probabilities"], samples["probabilities"])
        ids = serving["label_id"]
        labels_ok = ids == np.argmax(serving["probabilities"], -1).tolist()
        labels_ok &= serving["label"] == [info["class_names"][i] for i in ids]
        check("labels", labels_ok, "label_id = argmax, label = class_names[label_id]")
    else:
        check("parity serving_default", False, "not run")
    tokens = probe.get("serve_tokens")
    if tokens:
        got = [row for batch in tokens for row in batch["probabilities"]]
        expected = [row for batch in samples["token_probabilities"] for row in batch]
        parity("serve_tokens", got, expected)
    else:
        check("parity serve_tokens", False, "not run")

    ops = probe.get("ops")
    if ops is None:
        check("op audit", False, "not run")
        return checks, diffs
    check(
        "stock ops",
        not ops["unregistered"],
        f"{len(ops['op_types'])} op types in {ops['num_functions']} functions, all "
        "registered in stock TensorFlow"
        if not ops["unregistered"]
        else f"not stock TensorFlow: {ops['unregistered']}",
    )
    methods = ops.get("method_names", {})
    check(
        "predict method",
        all(methods.get(n) == "tensorflow/serving/predict" for n in SIGNATURES),
        "both signatures are tensorflow/serving/predict",
    )
    cudnn = ops["cudnn"]
    must_compile = ops["xla_must_compile"]
    if target in ("cpu", "tpu"):
        check("no cuDNN ops", not cudnn, "no CudnnRNN* op" if not cudnn else str(cudnn))
    check(
        "no must-compile XLA",
        not must_compile,
        "no _XlaMustCompile function" if not must_compile else str(must_compile[:3]),
    )
    if target == "gpu":
        groups = ops["api_implements"]
        if info.get("cudnn_layers") == 0:
            ok = not groups and not cudnn
            found = (
                "none needed: no textlstm LSTM or GRU layer to pair with cuDNN; "
                "the portable loops run on GPUs as they are"
            )
        else:
            pairs = all(set(g) == {"CPU", "GPU"} for g in groups.values())
            ok = bool(groups and pairs and cudnn)
            found = (
                f"{len(groups)} implementation pairs (CPU portable / GPU cuDNN), "
                f"CudnnRNNV3 in {len(cudnn)} functions"
            )
        check(
            "cuDNN selection",
            ok,
            found
            if ok
            else f"api_implements groups {groups}, cuDNN functions {sorted(cudnn)}",
        )
    if target == "tpu":
        aliases = ops.get("function_aliases", {})
        check(
            "tpu_func alias",
            any(alias == TPU_ALIAS for alias in aliases.values()),
            f"function_aliases {sorted(set(aliases.values()))}",
        )
        tpu = probe.get("tpu_func")
        if tpu:
            check(
                "tpu_func XLA",
                tpu["hlo_chars"] > 0,
                f"compiled with jit_compile=True on CPU ({tpu['input']['dtype']} "
                f"{tpu['input']['shape']}, {tpu['hlo_chars']} chars of HLO)",
            )
            parity("tpu_func", tpu["probabilities"], samples["tpu_probabilities"])
        else:
            check("tpu_func XLA", False, "not run")
    return checks, diffs


# --------------------------------------------------------------------------- #
# Prediction from an export


def load_export_predictor(
    path: str | os.PathLike, *, batch_size: int = 256
) -> Callable[[Sequence[str | bytes]], tuple[np.ndarray, list[str]]]:
    """A predictor on an export: `predict(texts) -> (probabilities, class_names)`.

    Loads the SavedModel with `tf.saved_model.load` (no Keras) and calls its
    `serving_default` signature in batches. Any string gets a prediction:
    `str` is UTF-8 encoded (unpaired surrogates replaced), `bytes` are passed
    as they are.

    Args:
        path: An export version folder, or a model base (its latest version).
        batch_size: Texts per signature call.

    Returns:
        A callable from a sequence of texts to a float32 array
        `[len(texts), C]` and the class names.

    Example:

    ```python
    predict = load_export_predictor("exports/quickstart")
    probabilities, class_names = predict(["what a film", ""])
    ```
    """
    import tensorflow as tf

    path = resolve_export(path)
    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    names_file = path / _EXTRA / "class_names.json"
    if names_file.is_file():
        class_names = json.loads(names_file.read_text(encoding="utf-8"))
    else:  # exported elsewhere: ask the model for the label of each class
        class_names = None
    num_classes = int(serve.structured_outputs["probabilities"].shape[-1])

    def predict(texts):
        encoded = [
            t if isinstance(t, bytes) else str(t).encode("utf-8", "replace")
            for t in texts
        ]
        parts = [np.zeros((0, num_classes), np.float32)]
        for start in range(0, len(encoded), batch_size):
            batch = tf.constant(encoded[start : start + batch_size], tf.string)
            parts.append(serve(text=batch)["probabilities"].numpy())
        return np.concatenate(parts), list(class_names or range(num_classes))

    predict.path = path
    predict.loaded = loaded
    return predict
