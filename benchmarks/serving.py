"""Benchmark: latency of an exported `serving_default` vs the Keras model.

Trains the `quickstart` preset into a temporary folder (or reuses a run
with `--run-dir`), exports it with `textlstm.export.export_saved_model`
(target `cpu`, with and without `--xla`, and `litert`; each verified) and
times, in this one process with the same thread settings, one call on a
batch of raw review texts (from the synthetic test split) of size 1 and 32:

- `export_padded`: the portable SavedModel as it was before its
  signatures dropped the vectorizer's padding (every row padded to
  `sequence_length`), written here from the same weights: the baseline
  of the portable export's improvement;
- `export`: the `cpu` SavedModel's `serving_default` signature, loaded with
  `tf.saved_model.load` (what TF Serving runs, minus its RPC layer);
- `export_xla`: the same with `--xla` (XLA-compiled loops, bucketed
  shapes);
- `litert`: `model.tflite` in the `ai-edge-litert` interpreter, one
  invocation per text on its token ids (tokenized outside the timing, as
  an app does before calling the model);
- `keras_predict`: the run's `model.keras`, `model.predict(x)`;
- `keras_predict_on_batch`: `model.predict_on_batch(x)` (what
  `textlstm predict` calls);
- `keras_tf_function`: `model(x)` inside a `tf.function` on strings, the
  baseline of the ratios (the layers' XLA loops, padded rows).

Each call is synchronous (outputs fetched as NumPy). The implementations
are timed in turns, one call of each per round, after a warm-up, so that
load from other processes hits them alike; p50 and p99 are over the
rounds. Prints one JSON line per measurement, then a table, and writes
`benchmarks/results/serving.json`.

    python benchmarks/serving.py                        # train, export, time
    python benchmarks/serving.py --run-dir runs/quickstart-20261125-053402
    python benchmarks/serving.py --rounds 100           # quicker
    python benchmarks/serving.py --load                 # the server under load
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import serving_load  # noqa: E402  (beside this script)
import tensorflow as tf  # noqa: E402

from textlstm.config import load_config  # noqa: E402
from textlstm.data import load_dataset  # noqa: E402
from textlstm.export import export_saved_model  # noqa: E402
from textlstm.export.litert_predictor import LiteRTPredictor  # noqa: E402
from textlstm.export.saved_model import model_parts  # noqa: E402
from textlstm.layers import fast_path_options  # noqa: E402
from textlstm.model import load_text_classifier  # noqa: E402
from textlstm.training import fit, read_run  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "serving.json"
LOAD_RESULTS = Path(__file__).parent / "results" / "serving_load.json"
BATCH_SIZES = (1, 32)
IMPLEMENTATIONS = (
    "export_padded",
    "export",
    "export_xla",
    "litert",
    "keras_predict",
    "keras_predict_on_batch",
    "keras_tf_function",
)


#: Largest |implementation - Keras| allowed (LiteRT: its own kernels).
TOLERANCES = {"litert": 1e-4}
BASELINE = "keras_tf_function"


def padded_export(run_dir: Path, folder: Path) -> Path:
    """The portable SavedModel as it was before the signatures dropped the
    vectorizer's padding: `classifier(vectorizer(text))`, every row padded
    to `sequence_length`, plain TensorFlow loops (the same weights)."""
    model = load_text_classifier(run_dir)
    vectorizer, classifier = model_parts(model)
    module = tf.Module()
    module.vectorizer, module.weights = vectorizer, list(classifier.variables)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    def serve(text):
        return {"probabilities": classifier(vectorizer(text), training=False)}

    with fast_path_options(xla=False):
        signature = serve.get_concrete_function()
        tf.saved_model.save(
            module, str(folder), signatures={"serving_default": signature}
        )
    return folder


def litert_callable(export_dir: Path):
    """The LiteRT model on each text's token ids, one invocation per text.
    The ids are computed once per batch, outside the timing: on a device the
    app tokenizes (the model takes ids), so this times the model alone."""
    predictor = LiteRTPredictor(export_dir)
    rows = {}

    def call(x):
        key = x.ref()
        if key not in rows:
            rows[key] = predictor.token_rows(list(x.numpy()))
        return np.stack([predictor.run_ids(row) for row in rows[key]])

    return call


def callables(exports: dict, run_dir: Path) -> dict:
    """Each implementation as `f(batch of strings) -> probabilities`."""
    serve = {
        name: tf.saved_model.load(str(path)).signatures["serving_default"]
        for name, path in exports.items()
        if name != "litert"
    }
    model = load_text_classifier(run_dir)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    def keras_call(texts):
        return model(texts, training=False)

    return {
        **{
            name: (lambda x, f=function: f(text=x)["probabilities"].numpy())
            for name, function in serve.items()
        },
        "litert": litert_callable(exports["litert"]),
        "keras_predict": lambda x: model.predict(x, verbose=0),
        "keras_predict_on_batch": lambda x: np.asarray(model.predict_on_batch(x)),
        "keras_tf_function": lambda x: keras_call(x).numpy(),
    }


def interleaved_latencies(functions: dict, x, rounds: int, warmup: int) -> dict:
    """Per-call wall times in ms of each function, timed in turns."""
    for function in functions.values():
        for _ in range(warmup):
            function(x)
    samples = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            function(x)
            samples[name].append((time.perf_counter() - start) * 1000)
    return samples


def run(exports: dict, run_dir: Path, texts: list, rounds: int, warmup: int):
    functions = callables(exports, run_dir)
    # Same inputs for every implementation; they agree within 1e-5.
    check = tf.constant(texts[:32])
    reference = functions["keras_predict_on_batch"](check)
    for name, function in functions.items():
        difference = float(np.abs(function(check) - reference).max())
        assert difference <= TOLERANCES.get(name, 1e-5), (name, difference)
    rows = []
    for batch_size in BATCH_SIZES:
        x = tf.constant(texts[:batch_size])
        samples = interleaved_latencies(functions, x, rounds, warmup)
        for name in IMPLEMENTATIONS:
            times = np.asarray(samples[name])
            row = {
                "implementation": name,
                "batch_size": batch_size,
                "p50_ms": round(float(np.percentile(times, 50)), 3),
                "p99_ms": round(float(np.percentile(times, 99)), 3),
                "mean_ms": round(float(times.mean()), 3),
                "calls": len(times),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def table(rows) -> str:
    by = {(r["implementation"], r["batch_size"]): r for r in rows}
    lines = [
        "| implementation | batch 1 p50 / p99 ms | batch 32 p50 / p99 ms "
        f"| p50 vs `{BASELINE}` (1 / 32) |",
        "| --- | --- | --- | --- |",
    ]
    for name in IMPLEMENTATIONS:
        cells = []
        ratios = []
        for batch_size in BATCH_SIZES:
            row = by[name, batch_size]
            cells.append(f"{row['p50_ms']:.2f} / {row['p99_ms']:.2f}")
            ratios.append(row["p50_ms"] / by[BASELINE, batch_size]["p50_ms"])
        ratio = " / ".join(f"{r:.2f}×" for r in ratios)
        lines.append(f"| `{name}` | {cells[0]} | {cells[1]} | {ratio} |")
    return "\n".join(lines)


def _load(args, run_dir: Path, scratch: Path) -> None:
    """`--load`: the server under concurrent clients (`serving_load.py`)."""
    import serving_load

    print("Exporting (cpu, verified)", file=sys.stderr)
    export = export_saved_model(run_dir, scratch / "reviews", target="cpu")
    run_info = read_run(run_dir)
    bundle = load_dataset(run_info.config["data"], run_info.config["train"]["seed"])
    texts = [t.decode("utf-8") for t, _ in bundle.test.take(256).as_numpy_iterator()]
    serving_load.main(export.path, texts, args.requests, Path(args.out or LOAD_RESULTS))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", help="Reuse this finished run folder.")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--out", help=f"default {RESULTS} ({LOAD_RESULTS} with --load)")
    parser.add_argument(
        "--load",
        action="store_true",
        help="Instead: textlstm serve under 1, 8 and 32 clients, batching on and off.",
    )
    parser.add_argument(
        "--requests", type=int, default=1600, help="--load: requests per run."
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="textlstm-serving-") as scratch:
        scratch = Path(scratch)
        if args.run_dir:
            run_dir = Path(args.run_dir)
        else:
            run_dir = scratch / "run"
            print(f"Training the quickstart preset into {run_dir}", file=sys.stderr)
            fit(load_config("quickstart"), run_dir, verbose=0)
        if args.load:
            return _load(args, run_dir, scratch)
        print("Exporting (cpu, cpu --xla, litert; verified)", file=sys.stderr)
        export = export_saved_model(run_dir, scratch / "export", target="cpu")
        xla = export_saved_model(run_dir, scratch / "xla", target="cpu", xla=True)
        lite = export_saved_model(run_dir, scratch / "litert", target="litert")
        exports = {
            "export_padded": padded_export(run_dir, scratch / "padded"),
            "export": export.path,
            "export_xla": xla.path,
            "litert": lite.path,
        }
        run_info = read_run(run_dir)
        bundle = load_dataset(run_info.config["data"], run_info.config["train"]["seed"])
        texts = [
            text.decode("utf-8")
            for text, _ in bundle.test.take(max(BATCH_SIZES)).as_numpy_iterator()
        ]
        rows = run(exports, run_dir, texts, args.rounds, args.warmup)
        words = [len(text.split()) for text in texts]
    print(table(rows))
    result = {
        "benchmark": "serving",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {**serving_load.machine(), "keras": keras.__version__},
        "model": {
            "preset": run_info.config["name"],
            "sequence_length": run_info.config["text"]["sequence_length"],
            "units": run_info.config["model"]["units"],
            "export_target": "cpu",
            "verification_passed": all(r.report.ok for r in (export, xla, lite)),
        },
        "inputs": {
            "source": "synthetic test split",
            "words_per_text_min_max": [min(words), max(words)],
        },
        "rounds": args.rounds,
        "warmup": args.warmup,
        "rows": rows,
        "table": table(rows),
    }
    serving_load.write_result(Path(args.out or RESULTS), result)


if __name__ == "__main__":
    main()
