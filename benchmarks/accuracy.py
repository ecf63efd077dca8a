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

The `endings_*` cases stand in for sentence-level datasets, none of which
is offline here: the last sentences (at most 25 words) of the first 9,600
training and 2,000 test reviews, labelled as their review. Their labels
are noisier than a sentence-polarity set's (an ending need not carry the
verdict), so compare the cases with each other, not with published
figures.

The pretraining cases run `textlstm pretrain --config imdb_lm` first, on
IMDB's 49,730 unlabeled reviews (`unsup.csv.gz`) and the 25,000 training
reviews (their labels unused; never a test review), once for all cases that
share it (`--work-dir` keeps it between calls), then fine-tune with
`model.init_from`; their wall time includes the pretraining. The full-data
cases read the tfds copy (`../shared/data/tfds`) and score all 25,000 test
reviews.

Usage:

    python benchmarks/accuracy.py                       # every case
    python benchmarks/accuracy.py imdb2k_default_path   # some cases
    python benchmarks/accuracy.py --list
    python benchmarks/accuracy.py imdb_lm_pretrained imdb2k_lm_pretrained \
        --work-dir /tmp/accuracy                        # reuse the LM run
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "accuracy.json"
SHARED = ROOT.parent / "shared" / "data" / "imdb"
TFDS = ROOT.parent / "shared" / "data" / "tfds"

#: name -> what it measures, the `textlstm pretrain` arguments (or None) and
#: the `textlstm fit` arguments. `{train}` and `{test}` are the subset files,
#: `{lm}` the pretrain run's folder, `{unsup}` IMDB's unlabeled reviews.
#: Cases with the same pretrain arguments share one pretrain run.
LM = ["--config", "imdb_lm", "--set", "pretrain.unlabeled={unsup}"]
#: The 2,000-review cases, pretrained or not: 32 steps an epoch, so more
#: epochs at a higher rate than the full-data preset (the same for both).
SMALL_DATA = [
    "--set", "data.source=csv", "--set", "data.train={train}",
    "--set", "data.test={test}", "--set", "train.epochs=10",
    "--set", "train.learning_rate=0.003",
]  # fmt: skip
#: What pretraining changes, measured without the n-gram model beside it.
LSTM_ALONE = ["--set", "model.ngram_ensemble=0"]
#: The small-data fine-tuning, chosen on 5,000 other test reviews (rows
#: 10,000-15,000 of test.csv.gz, never the 5,000 scored here): adversarial
#: steps of 5% of the embedding norm instead of the preset's 2% took the
#: pretrained LSTM from 83.9% to 85.5% there (docs/performance.md).
RECIPE = ["--set", "train.adversarial=0.05"]
#: The best from-scratch fine-tuning there (83.0%, against 81.5% and 82.4%).
UNFREEZING = ["--set", "train.gradual_unfreezing=true"]
#: Train and test rows of the short-text sets: the ending of each review
#: (`ending`), one or two sentences of at most 25 words, labelled as the
#: review. A stand-in for sentence-level datasets (none is offline here):
#: as many training texts as a sentence-polarity set, and noisier labels
#: (an ending need not carry the review's verdict).
ENDINGS = (9600, 2000)
ENDING_FILES = [
    "--data", "{endings_train}", "--set", "data.test={endings_test}",
]  # fmt: skip
CASES = {
    "imdb2k_default_path": (
        "the default path on a user's CSV before this work: the quickstart "
        "preset's model with the source switched to csv",
        None,
        [
            "--set", "data.source=csv",
            "--set", "data.train={train}",
            "--set", "data.test={test}",
        ],
    ),
    "imdb2k_text_classifier": (
        "textlstm fit --data FILE: the text_classifier preset, auto sizes, "
        "early stopping on validation",
        None,
        ["--data", "{train}", "--set", "data.test={test}"],
    ),
    "imdb2k_text_classifier_no_adversarial": (
        "the same without adversarial training (train.adversarial=0): what "
        "that lever adds",
        None,
        [
            "--data", "{train}", "--set", "data.test={test}",
            "--set", "train.adversarial=0",
        ],
    ),
    "endings_default_path": (
        "short texts (review endings, 9,600 / 2,000): the quickstart preset's "
        "model with the source switched to csv",
        None,
        [
            "--set", "data.source=csv",
            "--set", "data.train={endings_train}",
            "--set", "data.test={endings_test}",
        ],
    ),
    "endings_text_classifier": (
        "short texts: textlstm fit --data FILE (the text_classifier preset)",
        None,
        ENDING_FILES,
    ),
    "endings_text_classifier_no_adversarial": (
        "short texts: the text_classifier preset without adversarial training",
        None,
        [*ENDING_FILES, "--set", "train.adversarial=0"],
    ),
    "imdb_lm_pretrained": (
        "imdb_lm on all 25,000 training reviews, its encoder pretrained as a "
        "language model on the 49,730 unlabeled and the training reviews",
        LM,
        ["--config", "imdb_lm", "--set", "model.init_from={lm}"],
    ),
    "imdb_lm_pretrained_7_epochs": (
        "imdb_lm pretrained as above for 7 epochs (validated after epochs 4 "
        "and 7): what more epochs of the language model add",
        [*LM, "--set", "pretrain.epochs=7", "--set", "pretrain.validate_every=4"],
        ["--config", "imdb_lm", "--set", "model.init_from={lm}"],
    ),
    "imdb_lm_pretrained_no_adversarial": (
        "imdb_lm pretrained as above, fine-tuned without adversarial "
        "training (train.adversarial=0): what that lever adds",
        LM,
        [
            "--config", "imdb_lm", "--set", "model.init_from={lm}",
            "--set", "train.adversarial=0",
        ],
    ),
    "imdb_lm_scratch": (
        "the same imdb_lm model from scratch",
        None,
        ["--config", "imdb_lm"],
    ),
    "imdb2k_lm_pretrained": (
        "imdb_lm's LSTM alone (no n-gram model) fine-tuned on 2,000 labeled "
        "reviews with the small-data recipe, pretrained as above",
        LM,
        [
            "--config", "imdb_lm", "--set", "model.init_from={lm}",
            *SMALL_DATA, *LSTM_ALONE, *RECIPE,
        ],
    ),
    "imdb2k_lm_scratch": (
        "the same from scratch (the same command without model.init_from)",
        None,
        ["--config", "imdb_lm", *SMALL_DATA, *LSTM_ALONE, *RECIPE],
    ),
    "imdb2k_lm_scratch_unfreezing": (
        "the same LSTM from scratch with the fine-tuning that suited it best "
        "(gradual unfreezing, the preset's 2% adversarial steps)",
        None,
        ["--config", "imdb_lm", *SMALL_DATA, *LSTM_ALONE, *UNFREEZING],
    ),
    "imdb2k_lm_pretrained_auto_weight": (
        "imdb2k_lm_pretrained averaged with the preset's n-gram model at the "
        "share chosen on validation (model.ngram_weight=auto): the path for "
        "a small labeled set",
        LM,
        [
            "--config", "imdb_lm", "--set", "model.init_from={lm}",
            *SMALL_DATA, *RECIPE, "--set", "model.ngram_weight=auto",
        ],
    ),
    "imdb2k_lm_scratch_auto_weight": (
        "the same from scratch",
        None,
        [
            "--config", "imdb_lm", *SMALL_DATA, *RECIPE,
            "--set", "model.ngram_weight=auto",
        ],
    ),
    "imdb2k_lm_pretrained_even_average": (
        "the preset as it is on 2,000 labeled reviews, pretrained: its LSTM "
        "and n-gram model averaged half and half",
        LM,
        ["--config", "imdb_lm", "--set", "model.init_from={lm}", *SMALL_DATA],
    ),
    "imdb2k_lm_scratch_even_average": (
        "the same from scratch",
        None,
        ["--config", "imdb_lm", *SMALL_DATA],
    ),
}  # fmt: skip


def subsets(folder: Path, train_rows: int, test_rows: int) -> dict[str, Path]:
    """Write the first rows of IMDB's train and test CSVs to `folder`, and
    the short-text sets (`ending`)."""
    files = {}
    for name, rows in (("train", train_rows), ("test", test_rows)):
        files[name] = _write_rows(folder / f"imdb_{name}_{rows}.csv", name, rows)
    for name, rows in (("train", ENDINGS[0]), ("test", ENDINGS[1])):
        files[f"endings_{name}"] = _write_rows(
            folder / f"imdb_endings_{name}_{rows}.csv", name, rows, ending
        )
    files["unsup"] = SHARED / "unsup.csv.gz"
    return files


def ending(text: str, words: int = 25) -> str:
    """The last whole sentences of `text`, at most `words` words (at least
    one sentence), with IMDB's `<br />` line breaks made spaces."""
    sentences = re.split(r"(?<=[.!?])\s+", re.sub(r"<br\s*/?>", " ", text).strip())
    kept, count = [], 0
    for sentence in reversed(sentences):
        count += len(sentence.split())
        if kept and count > words:
            break
        kept.insert(0, sentence)
    return " ".join(kept)


def _write_rows(target: Path, split: str, rows: int, change=None) -> Path:
    source = SHARED / f"{split}.csv.gz"
    if not source.is_file():
        sys.exit(f"error: {source} not found (the shared IMDB CSV copy)")
    with gzip.open(source, "rt", encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        with open(target, "w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
            writer.writeheader()
            for index, row in enumerate(reader):
                if index >= rows:
                    break
                if change is not None:
                    row["text"] = change(row["text"])
                writer.writerow(row)
    return target


def textlstm(arguments: list[str]) -> float:
    """Run `textlstm ARGUMENTS` in its own process; its wall time."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "textlstm.cli.main", *arguments, "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, "TFDS_DATA_DIR": str(TFDS)},
    )
    if result.returncode != 0:
        sys.exit(
            f"error: textlstm {' '.join(arguments)} failed:\n{result.stderr[-3000:]}"
        )
    return time.perf_counter() - started


def pretrained(arguments: list[str], root: Path) -> tuple[Path, float]:
    """The pretrain run of `arguments` (made once per root and preset
    version: an edited preset makes a new run) and its time."""
    preset = ROOT / "configs" / f"{arguments[arguments.index('--config') + 1]}.yaml"
    key = " ".join(arguments).encode() + preset.read_bytes()
    digest = hashlib.sha1(key).hexdigest()[:10]
    run_dir = root / f"lm-{digest}"
    if (run_dir / "encoder.npz").is_file():
        return run_dir, json.loads((run_dir / "run.json").read_text()).get(
            "wall_time_s", 0.0
        )
    seconds = textlstm(["pretrain", *arguments, "--run-dir", str(run_dir)])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    info = json.loads((run_dir / "run.json").read_text())
    info["wall_time_s"] = round(seconds, 1)
    info["perplexity"] = metrics.get("perplexity")
    (run_dir / "run.json").write_text(json.dumps(info, indent=2))
    return run_dir, seconds


def run_case(name: str, files: dict[str, Path], root: Path) -> dict:
    """Run one case (its pretraining if any, then `textlstm fit`)."""
    purpose, pretrain_arguments, fit_arguments = CASES[name]
    names = {k: str(v) for k, v in files.items()}
    pretrain_seconds, entry = 0.0, {}
    if pretrain_arguments is not None:
        lm, pretrain_seconds = pretrained(
            [a.format(**names) for a in pretrain_arguments], root
        )
        names["lm"] = str(lm)
        info = json.loads((lm / "run.json").read_text())
        entry["pretrain"] = {
            "perplexity": info.get("perplexity"),
            "epochs": info.get("epochs_completed"),
            "wall_time_s": round(pretrain_seconds, 1),
        }
    run_dir = root / name
    shutil.rmtree(run_dir, ignore_errors=True)  # a case's previous run
    arguments = [a.format(**names) for a in fit_arguments]
    seconds = textlstm(["fit", *arguments, "--run-dir", str(run_dir)])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    info = json.loads((run_dir / "run.json").read_text())
    command = " ".join(["textlstm", "fit", *fit_arguments]).format(
        train="TRAIN.csv",
        test="TEST.csv",
        lm="LM_RUN",
        unsup="UNSUP",
        endings_train="ENDINGS_TRAIN.csv",
        endings_test="ENDINGS_TEST.csv",
    )
    return {
        "case": name,
        "measures": purpose,
        "command": command,
        "test_examples": metrics["num_examples"],
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        # model.ngram_ensemble: the test accuracy of the network and of the
        # n-gram model alone.
        **({"components": metrics["components"]} if "components" in metrics else {}),
        "epochs": info["epochs_completed"],
        "best_epoch": info.get("best_epoch"),
        "text_sizing": {
            key: report["value"]
            for key, report in (info.get("text_sizing") or {}).items()
        },
        **entry,
        "wall_time_s": round(seconds + pretrain_seconds, 1),
    }


def record(entries: list[dict]) -> None:
    """Replace `entries`' cases in the results file, each with its machine
    and date (cases of one file may come from different runs and VMs)."""
    recorded = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    machine = f"{platform.platform()}, {os.cpu_count()} CPUs"
    day = time.strftime("%Y-%m-%d")
    recorded.setdefault("cases", {}).update(
        {e["case"]: {**e, "machine": machine, "date": day} for e in entries}
    )
    # The file-wide machine: that of the cases recorded before cases had one.
    recorded.setdefault("machine", machine)
    temporary = RESULTS.with_name(f".tmp-{os.getpid()}-{RESULTS.name}")
    temporary.write_text(json.dumps(recorded, indent=2) + "\n")
    os.replace(temporary, RESULTS)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="cases to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the cases")
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--test-rows", type=int, default=5000)
    parser.add_argument(
        "--work-dir", help="keep the runs here (pretrain runs are reused)"
    )
    args = parser.parse_args(argv)
    if args.list:
        for name, (purpose, *_) in CASES.items():
            print(f"{name}: {purpose}")
        return
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(args.work_dir or temporary)
        folder.mkdir(parents=True, exist_ok=True)
        files = subsets(folder, args.train_rows, args.test_rows)
        entries = []
        for name in args.cases or list(CASES):
            entry = run_case(name, files, folder / "runs")
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
