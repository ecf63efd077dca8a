"""Train an IMDB preset end to end and record its test accuracy and time.

Runs `textlstm.training.fit` (what `textlstm fit --config PRESET` runs) on
the real `imdb_reviews` data, read offline from a prepared TensorFlow
Datasets folder, scores the full 25,000-review test split, and records
accuracy, macro-F1, wall time and epochs in `benchmarks/results/imdb.json`
(one entry per preset and implementation, replaced on each run).

Usage:

    python benchmarks/imdb.py imdb_bilstm              # custom layers
    python benchmarks/imdb.py imdb_bilstm --impl keras # built-in layers
    python benchmarks/imdb.py imdb_gru --data-dir /data/tfds

The data folder is `--data-dir`, else `TFDS_DATA_DIR`, else `../shared/data/tfds`
next to this checkout. Nothing is downloaded: without a prepared copy the
script stops with a message that says how to point at one (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "imdb.json"
SHARED = ROOT.parent / "shared" / "data" / "tfds"
PREPARED = Path("imdb_reviews") / "plain_text" / "1.0.0" / "dataset_info.json"


def data_dir(explicit: str | None) -> Path:
    """The tfds folder to read, or exit 2 with how to get one."""
    candidates = [explicit, os.environ.get("TFDS_DATA_DIR"), str(SHARED)]
    chosen = next(Path(c).expanduser() for c in candidates if c)
    if not (chosen / PREPARED).is_file():
        print(
            f"error: no prepared imdb_reviews in {chosen} (and nothing is "
            "downloaded); pass --data-dir or set TFDS_DATA_DIR to a folder "
            "holding imdb_reviews/plain_text/1.0.0, e.g. ../shared/data/tfds",
            file=sys.stderr,
        )
        sys.exit(2)
    return chosen


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset", choices=("imdb_bilstm", "imdb_gru"))
    parser.add_argument("--impl", choices=("textlstm", "keras"), default="textlstm")
    parser.add_argument("--data-dir", help="prepared TensorFlow Datasets folder")
    parser.add_argument("--run-dir", help="run folder (default: a new temp folder)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override"
    )
    parser.add_argument("--no-record", action="store_true", help="don't write JSON")
    args = parser.parse_args(argv)

    folder = data_dir(args.data_dir)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tempfile

    import keras
    import tensorflow as tf

    from textlstm.config import load_config
    from textlstm.training import fit, write_json

    overrides = [f"data.data_dir={folder}", f"model.impl={args.impl}", *args.set]
    config = load_config(args.preset, overrides)
    run_dir = args.run_dir or tempfile.mkdtemp(prefix=f"{args.preset}-{args.impl}-")
    result = fit(config, run_dir, verbose=2, log=print)
    metrics = result.metrics
    entry = {
        "preset": args.preset,
        "impl": args.impl,
        "overrides": args.set,
        "test_accuracy": metrics["accuracy"],
        "test_macro_f1": metrics["macro_f1"],
        "test_examples": metrics["num_examples"],
        "epochs": result.epochs_completed,
        "stopped_early": result.stopped_early,
        "wall_time_s": round(result.wall_time_s, 1),
        "epoch_times_s": [row.get("seconds") for row in result.history],
        "val_accuracy": [row.get("val_accuracy") for row in result.history],
        "run_dir": str(result.run_dir),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "versions": {"tensorflow": tf.__version__, "keras": keras.__version__},
        "date": time.strftime("%Y-%m-%d"),
    }
    print(json.dumps(entry))
    if not args.no_record:
        recorded = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        recorded[f"{args.preset}/{args.impl}"] = entry
        write_json(RESULTS, recorded)


if __name__ == "__main__":
    main()
