"""Test accuracy and wall time of the paths a user takes with their own data.

Each case is one `textlstm fit` command line, run in its own process exactly
as a user would type it, on IMDB's CSV copy in `../shared/data/imdb` (read
where it is, never downloaded or copied into the project). Results go to
`benchmarks/results/accuracy.json`, one entry per case, replaced on each
run, with the command, accuracy, macro-F1, epochs and wall time.

The small-data cases train on the first 2,000 reviews of `train.csv.gz`
(the file is shuffled and balanced) and score on the first 5,000 of
`test.csv.gz` (to keep a run short on 2 cores; the full 25,000 give the
same ranking, +-0.7 points of binomial noise at 5,000).

Usage:

    python benchmarks/accuracy.py                       # every case
    python benchmarks/accuracy.py imdb2k_default_path   # some cases
    python benchmarks/accuracy.py --list
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "accuracy.json"
SHARED = ROOT.parent / "shared" / "data" / "imdb"

#: name -> (what it measures, the `textlstm fit` arguments). `{train}` and
#: `{test}` are the subset files.
CASES = {
    "imdb2k_default_path": (
        "the default path on a user's CSV before this work: the quickstart "
        "preset's model with the source switched to csv",
        [
            "--set", "data.source=csv",
            "--set", "data.train={train}",
            "--set", "data.test={test}",
        ],
    ),
    "imdb2k_text_classifier": (
        "textlstm fit --data FILE: the text_classifier preset, auto sizes, "
        "early stopping on validation",
        ["--data", "{train}", "--set", "data.test={test}"],
    ),
}  # fmt: skip


def subsets(folder: Path, train_rows: int, test_rows: int) -> dict[str, Path]:
    """Write the first rows of IMDB's train and test CSVs to `folder`."""
    files = {}
    for name, rows in (("train", train_rows), ("test", test_rows)):
        source = SHARED / f"{name}.csv.gz"
        if not source.is_file():
            sys.exit(f"error: {source} not found (the shared IMDB CSV copy)")
        target = folder / f"imdb_{name}_{rows}.csv"
        with gzip.open(source, "rt", encoding="utf-8", newline="") as file:
            reader = csv.reader(file)
            with open(target, "w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)
                for index, row in enumerate(reader):
                    if index > rows:
                        break
                    writer.writerow(row)
        files[name] = target
    return files


def run_case(name: str, files: dict[str, Path], root: Path) -> dict:
    """Run one case's `textlstm fit` and read what it recorded."""
    purpose, arguments = CASES[name]
    arguments = [a.format(**{k: str(v) for k, v in files.items()}) for a in arguments]
    run_dir = root / name
    command = ["textlstm", "fit", *arguments, "--run-dir", str(run_dir), "--quiet"]
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "textlstm.cli.main", *command[1:]],
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"error: {name} failed:\n{result.stderr[-2000:]}")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    info = json.loads((run_dir / "run.json").read_text())
    return {
        "case": name,
        "measures": purpose,
        "command": " ".join(command[:-3])
        .replace(str(files["train"]), "TRAIN.csv")
        .replace(str(files["test"]), "TEST.csv"),
        "test_examples": metrics["num_examples"],
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "epochs": info["epochs_completed"],
        "best_epoch": info.get("best_epoch"),
        "text_sizing": {
            key: report["value"]
            for key, report in (info.get("text_sizing") or {}).items()
        },
        "wall_time_s": round(seconds, 1),
    }


def record(entries: list[dict]) -> None:
    recorded = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    recorded.setdefault("cases", {}).update({e["case"]: e for e in entries})
    recorded["machine"] = f"{platform.platform()}, {os.cpu_count()} CPUs"
    temporary = RESULTS.with_name(f".tmp-{os.getpid()}-{RESULTS.name}")
    temporary.write_text(json.dumps(recorded, indent=2) + "\n")
    os.replace(temporary, RESULTS)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="cases to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the cases")
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--test-rows", type=int, default=5000)
    args = parser.parse_args(argv)
    if args.list:
        for name, (purpose, _) in CASES.items():
            print(f"{name}: {purpose}")
        return
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    with tempfile.TemporaryDirectory() as folder:
        files = subsets(Path(folder), args.train_rows, args.test_rows)
        entries = []
        for name in args.cases or list(CASES):
            entry = run_case(name, files, Path(folder) / "runs")
            print(json.dumps(entry), flush=True)
            entries.append(entry)
            record([entry])
    print(f"{'case':28} {'accuracy':>9} {'epochs':>6} {'wall s':>8}")
    for entry in entries:
        print(
            f"{entry['case']:28} {entry['accuracy']:9.4f} {entry['epochs']:6d} "
            f"{entry['wall_time_s']:8.1f}"
        )


if __name__ == "__main__":
    main()
