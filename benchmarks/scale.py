"""Benchmark: training throughput under each tf.distribute strategy, and
what gradient traffic costs on paper.

Measured here (a correctness demo on this 2-core machine, not a speed-up:
two workers share the same two cores), each as its own `textlstm fit`
process on the quickstart preset, examples/second over the training phase
(`run.json` `wall_times.training_s`, so data loading and evaluation are
left out):

- `default`: one process, Keras `Model.fit`;
- `mirrored`: one process, `MirroredStrategy` over 2 logical CPUs;
- `multi_worker`: `textlstm fit --local-workers 2` (2 processes on
  127.0.0.1, `MultiWorkerMirroredStrategy`).

On paper, for each IMDB preset: the bytes one worker sends and receives per
step (dense gradients by ring all-reduce, `2 (N - 1) / N` times their size;
the embedding's sparse rows by all-gather, `(N - 1) / N` of the global
batch's rows), and what that costs at 8 and 64 workers on a 10 Gb/s and a
100 Gb/s network. Writes `benchmarks/results/scale.json`.

    python benchmarks/scale.py                 # measure and compute
    python benchmarks/scale.py --paper-only    # only the on-paper table
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "scale.json"
OVERRIDES = ["data.size=5000", "train.epochs=2"]
#: Tokens per review after standardization, IMDB's mean (words; bigram
#: presets add as many bigram tokens). Sets the embedding's sparse rows.
IMDB_MEAN_TOKENS = 270
#: Gradients all-reduced per step: `train.clipnorm` needs the norm of each
#: summed dense gradient (one all-reduce), then the optimizer sums once more.
CLIP_PASSES = 2

MIRRORED = """
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from textlstm.config import load_config
from textlstm.training import fit
fit(load_config("quickstart", sys.argv[2:]), sys.argv[1], verbose=0)
"""


def textlstm(*arguments) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from textlstm.cli.main import main; main()",
        *arguments,
    ]


def measure(name: str, work: Path) -> dict:
    run_dir = work / name
    sets = [arg for override in OVERRIDES for arg in ("--set", override)]
    if name == "default":
        command = textlstm("fit", "--run-dir", str(run_dir), "--quiet", *sets)
    elif name == "mirrored":
        command = [
            sys.executable,
            "-c",
            MIRRORED,
            str(run_dir),
            *OVERRIDES,
            "train.strategy=mirrored",
        ]
    else:
        command = textlstm(
            "fit", "--local-workers", "2", "--run-dir", str(run_dir), "--quiet", *sets
        )
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode:
        raise SystemExit(f"{name} failed:\n{result.stderr[-3000:]}")
    info = json.loads((run_dir / "run.json").read_text())
    metrics = json.loads((run_dir / "metrics.json").read_text())
    train = info["num_examples"]["train"]
    seconds = info["wall_times"]["training_s"]
    return {
        "strategy": name,
        "replicas": info["environment"]["replicas"],
        "workers": info.get("cluster", {}).get("num_workers", 1),
        "train_examples": train,
        "epochs": info["epochs_completed"],
        "training_s": seconds,
        "examples_per_s": round(train * info["epochs_completed"] / seconds, 1),
        "test_accuracy": metrics["accuracy"],
        "command_wall_s": round(wall, 1),
    }


def paper(preset: str) -> dict:
    """Gradient bytes per step of `preset` and their cost on a network."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from textlstm import model as models
    from textlstm.config import load_config

    config = load_config(preset)
    model = models.build_classifier(config, num_classes=2)
    embedding = model.get_layer("embedding")
    sparse_params = int(sum(w.numpy().size for w in embedding.trainable_weights))
    dense_params = int(model.count_params()) - sparse_params
    dim = config["model"]["embedding_dim"]
    tokens = IMDB_MEAN_TOKENS * (2 if config["text"]["ngrams"] == 2 else 1)
    tokens = min(tokens, config["text"]["sequence_length"])
    batch = config["train"]["batch_size"]
    passes = CLIP_PASSES if config["train"]["clipnorm"] else 1
    dense_bytes = dense_params * 4
    rows_bytes = batch * tokens * (dim * 4 + 8)  # float32 row + int64 index
    costs = {}
    for workers in (8, 64):
        sent = passes * 2 * (workers - 1) / workers * dense_bytes
        sent += (workers - 1) / workers * rows_bytes
        for gbit in (10, 100):
            key = f"{workers}_workers_{gbit}gbps_ms"
            costs[key] = round(sent * 8 / (gbit * 1e9) * 1000, 2)
        costs[f"{workers}_workers_bytes"] = int(sent)
    return {
        "preset": preset,
        "global_batch": batch,
        "dense_parameters": dense_params,
        "embedding_parameters": sparse_params,
        "dense_gradient_bytes": dense_bytes,
        "embedding_rows_bytes_per_step": rows_bytes,
        "dense_embedding_bytes_if_dense": sparse_params * 4,
        "allreduce_passes": passes,
        **costs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paper-only", action="store_true")
    args = parser.parse_args()
    previous = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    measured = previous.get("measured", [])
    if not args.paper_only:
        measured = []
        with tempfile.TemporaryDirectory() as work:
            for name in ("default", "mirrored", "multi_worker"):
                row = measure(name, Path(work))
                print(json.dumps(row), flush=True)
                measured.append(row)
        base = measured[0]["examples_per_s"]
        for row in measured:
            row["ratio_to_default"] = round(row["examples_per_s"] / base, 3)
    on_paper = [paper(p) for p in ("imdb_bilstm", "imdb_gru", "imdb_lm")]
    for row in on_paper:
        print(json.dumps(row), flush=True)
    RESULTS.write_text(
        json.dumps(
            {
                "machine": {
                    "platform": platform.platform(),
                    "cpu_count": os.cpu_count(),
                    "python": platform.python_version(),
                },
                "config": {"preset": "quickstart", "overrides": OVERRIDES},
                "measured": measured,
                "assumptions": {
                    "imdb_mean_tokens": IMDB_MEAN_TOKENS,
                    "allreduce": "ring: 2 (N - 1) / N x bytes sent per worker",
                    "sparse_rows": "all-gather of the global batch's rows",
                },
                "on_paper": on_paper,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
