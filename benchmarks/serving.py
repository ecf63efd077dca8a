"""Benchmark: latency of an exported `serving_default` vs the Keras model.

Trains the `quickstart` preset into a temporary folder (or reuses a run
with `--run-dir`), exports it with `textlstm.export.export_saved_model`
(target `cpu`, verified) and times, in this one process with the same
thread settings, one call on a batch of raw review texts (from the
synthetic test split) of size 1 and 32:

- `export`: the SavedModel's `serving_default` signature, loaded with
  `tf.saved_model.load` (what TF Serving runs, minus its RPC layer);
- `keras_predict`: the run's `model.keras`, `model.predict(x)`;
- `keras_predict_on_batch`: `model.predict_on_batch(x)` (what
  `textlstm predict` calls);
- `keras_tf_function`: `model(x)` inside a `tf.function` on strings.

Each call is synchronous (outputs fetched as NumPy). The implementations
are timed in turns, one call of each per round, after a warm-up, so that
load from other processes hits them alike; p50 and p99 are over the
rounds. Prints one JSON line per measurement, then a table, and writes
`benchmarks/results/serving.json`.

    python benchmarks/serving.py                        # train, export, time
    python benchmarks/serving.py --run-dir runs/quickstart-20261125-053402
    python benchmarks/serving.py --rounds 100           # quicker
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from textlstm.config import load_config  # noqa: E402
from textlstm.data import load_dataset  # noqa: E402
from textlstm.export import export_saved_model  # noqa: E402
from textlstm.models import load_text_classifier  # noqa: E402
from textlstm.training import fit, read_run  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "serving.json"
BATCH_SIZES = (1, 32)
IMPLEMENTATIONS = (
    "export",
    "export_xla",
    "keras_predict",
    "keras_predict_on_batch",
    "keras_tf_function",
)


def callables(exports: dict, run_dir: Path) -> dict:
    """Each implementation as `f(batch of strings) -> probabilities`."""
    serve = {
        name: tf.saved_model.load(str(path)).signatures["serving_default"]
        for name, path in exports.items()
    }
    model = load_text_classifier(run_dir)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    def keras_call(texts):
        return model(texts, training=False)

    return {
        "export": lambda x: serve["export"](text=x)["probabilities"].numpy(),
        "export_xla": lambda x: serve["export_xla"](text=x)["probabilities"].numpy(),
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
        assert difference <= 1e-5, (name, difference)
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
        "| p50 vs export (1 / 32) |",
        "| --- | --- | --- | --- |",
    ]
    for name in IMPLEMENTATIONS:
        cells = []
        ratios = []
        for batch_size in BATCH_SIZES:
            row = by[name, batch_size]
            cells.append(f"{row['p50_ms']:.2f} / {row['p99_ms']:.2f}")
            ratios.append(row["p50_ms"] / by["export", batch_size]["p50_ms"])
        ratio = " / ".join(f"{r:.2f}×" for r in ratios)
        lines.append(f"| `{name}` | {cells[0]} | {cells[1]} | {ratio} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run-dir", help="Reuse this finished run folder.")
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="textlstm-serving-") as scratch:
        scratch = Path(scratch)
        if args.run_dir:
            run_dir = Path(args.run_dir)
        else:
            run_dir = scratch / "run"
            print(f"Training the quickstart preset into {run_dir}", file=sys.stderr)
            fit(load_config("quickstart"), run_dir, verbose=0)
        print("Exporting (target cpu, portable and --xla, verified)", file=sys.stderr)
        export = export_saved_model(run_dir, scratch / "export", target="cpu")
        xla = export_saved_model(run_dir, scratch / "xla", target="cpu", xla=True)
        exports = {"export": export.path, "export_xla": xla.path}
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
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpu_count": os.cpu_count(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        },
        "model": {
            "preset": run_info.config["name"],
            "sequence_length": run_info.config["text"]["sequence_length"],
            "units": run_info.config["model"]["units"],
            "export_target": "cpu",
            "verification_passed": export.report.ok and xla.report.ok,
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
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_suffix(".tmp")
    temporary.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(temporary, out)


if __name__ == "__main__":
    main()
