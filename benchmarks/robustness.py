"""Do the IMDB models read? Test accuracy, counterfactual dev pairs, checks.

For each variant (a preset plus the levers of issue 31: human pairs,
automatic counterfactuals, ...) this trains the model on IMDB's training
split (or reuses a finished run folder), and records in
`benchmarks/results/robustness.json`:

- accuracy on IMDB's 25,000 test reviews (`metrics.json` of the run);
- on the shared *dev* counterfactual pairs (Kaushik et al.'s 245 CAD dev
  pairs and Gardner et al.'s 100 contrast-set dev pairs): accuracy on the
  originals, on the edits, consistency and flips (`evaluate --pairs`);
- `textlstm check`'s failure rate per capability (movie wording).

The `tfidf` variant is a word+bigram tf-idf logistic regression (the
baseline of the issue), with the CAD training pairs weighted x5 in
`tfidf+pairs`; it needs scikit-learn (`pip install -e ".[bench]"`).

Only dev files are read: the held-out test pairs are never touched.

Usage:

    python benchmarks/robustness.py imdb_bilstm imdb_bilstm+pairs
    python benchmarks/robustness.py imdb_bilstm --run runs/imdb_bilstm-2026...
    python benchmarks/robustness.py --list

The data folder is `TFDS_DATA_DIR`, else `../shared/data/tfds`; the pairs
are read from `../shared/data/imdb_counterfactual`. Without them the script
stops with a message (exit code 2).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "robustness.json"
SHARED = ROOT.parent / "shared" / "data"
PAIRS = SHARED / "imdb_counterfactual"
CAD_TRAIN = PAIRS / "cad_train_paired.tsv"
DEV_SETS = {
    "cad_dev": [PAIRS / "cad_dev_paired.tsv"],
    "contrast_dev": [
        PAIRS / "contrast_dev_original.tsv",
        PAIRS / "contrast_dev_contrast.tsv",
    ],
}

#: name -> (preset, overrides). Keep the names stable: the docs' table and
#: results/robustness.json are keyed by them.
VARIANTS = {
    "imdb_bilstm": ("imdb_bilstm", []),
    "imdb_bilstm+counterfactuals": ("imdb_bilstm", ["data.counterfactuals=0.5"]),
    "imdb_bilstm+pairs": (
        "imdb_bilstm",
        [f"data.pairs={CAD_TRAIN}", "data.pairs_repeat=5"],
    ),
    "imdb_bilstm+pairs+counterfactuals": (
        "imdb_bilstm",
        [f"data.pairs={CAD_TRAIN}", "data.pairs_repeat=5", "data.counterfactuals=0.5"],
    ),
    "imdb_robust": ("imdb_robust", []),
    "imdb_robust+counterfactuals1.0": ("imdb_robust", ["data.counterfactuals=1.0"]),
    "imdb_robust+attention": ("imdb_robust", ["model.pooling=attention"]),
}
BASELINES = ("tfidf", "tfidf+pairs")


def tfds_dir() -> Path:
    """The tfds folder holding imdb_reviews, or exit 2 with how to get one."""
    chosen = Path(os.environ.get("TFDS_DATA_DIR") or SHARED / "tfds")
    if not (chosen / "imdb_reviews" / "plain_text" / "1.0.0").is_dir():
        sys.exit(
            f"error: no prepared imdb_reviews in {chosen} (nothing is downloaded); "
            "set TFDS_DATA_DIR to a folder holding imdb_reviews/plain_text/1.0.0"
        )
    return chosen


def train_variant(name: str, run_dir: str | None, root: str | None) -> Path:
    """Train the variant's model into `root/NAME` (or take `run_dir`)."""
    if run_dir:
        return Path(run_dir)
    from textlstm.config import load_config
    from textlstm.training import fit

    preset, overrides = VARIANTS[name]
    config = load_config(preset, [f"data.data_dir={tfds_dir()}", *overrides])
    parent = Path(root) if root else Path(tempfile.mkdtemp(prefix="robustness-"))
    folder = parent / name.replace("+", "_")
    if (folder / "model.keras").is_file():
        print(f"{folder}: finished, scoring it")
        return folder
    fit(config, folder, verbose=2, log=print, resume=folder.exists())
    return folder


def score_model(run_dir: Path) -> dict:
    """IMDB test accuracy (the run's), dev pairs and check failure rates."""
    from textlstm.robustness.behaviour import check_model
    from textlstm.robustness.pairs import evaluate_pairs

    metrics = json.loads((run_dir / "metrics.json").read_text())
    entry = {"imdb_test_accuracy": metrics["accuracy"], "pairs": {}}
    for set_name, files in DEV_SETS.items():
        scored = evaluate_pairs(run_dir, files, batch_size=64)
        entry["pairs"][set_name] = _pair_summary(scored)
    try:
        entry["check"] = _check_summary(check_model(run_dir).to_dict())
    except Exception as error:  # noqa: BLE001 - the pairs still count
        print(f"check failed: {error!r}", file=sys.stderr)
    run = json.loads((run_dir / "run.json").read_text())
    entry["wall_time_s"] = run.get("wall_time_s")
    entry["reading_data"] = {
        key: {
            k: v for k, v in value.items() if k in ("pairs", "repeat", "kept", "tried")
        }
        for key, value in (run.get("reading_data") or {}).items()
        if isinstance(value, dict)
    }
    entry["run_dir"] = str(run_dir)
    return entry


def _pair_summary(scored: dict) -> dict:
    keys = ("num_pairs", "original_accuracy", "edited_accuracy", "consistency")
    return {key: scored[key] for key in (*keys, "flip_rate", "mean_shift")}


def _check_summary(report: dict) -> dict:
    """Failure rate per capability (all its tests' cases together)."""
    return {
        values["name"]: round(values["failure_rate"], 4)
        for values in report["capabilities"]
    }


# --------------------------------------------------------------------------- #
# The tf-idf baseline


def _imdb_csv(split: str) -> tuple[list[str], list[int]]:
    with gzip.open(SHARED / "imdb" / f"{split}.csv.gz", "rt", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [row["text"] for row in rows], [int(row["label"]) for row in rows]


def score_tfidf(with_pairs: bool) -> dict:
    """Word+bigram tf-idf logistic regression, trained on IMDB train (plus
    the CAD training pairs x5), scored like the models."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        sys.exit(
            "error: the tf-idf baseline needs scikit-learn: pip install -e '.[bench]'"
        )
    import numpy as np

    from textlstm.robustness.pairs import pair_metrics, read_pairs

    texts, labels = _imdb_csv("train")
    weights = [1.0] * len(texts)
    if with_pairs:
        pairs = read_pairs([CAD_TRAIN], ["neg", "pos"])
        texts += pairs.originals + pairs.edits
        labels += pairs.original_labels.tolist() + pairs.edit_labels.tolist()
        weights += [5.0] * (2 * len(pairs))
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    model = LogisticRegression(C=4.0, max_iter=2000)
    model.fit(vectorizer.fit_transform(texts), labels, sample_weight=weights)
    test_texts, test_labels = _imdb_csv("test")
    predicted = model.predict(vectorizer.transform(test_texts))
    entry = {"imdb_test_accuracy": round(float(np.mean(predicted == test_labels)), 6)}
    entry["pairs"] = {}
    for set_name, files in DEV_SETS.items():
        pairs = read_pairs(files, ["neg", "pos"])
        scored = pair_metrics(
            pairs,
            model.predict_proba(vectorizer.transform(pairs.originals)),
            model.predict_proba(vectorizer.transform(pairs.edits)),
        )
        entry["pairs"][set_name] = _pair_summary({**scored})
    return entry


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="*", metavar="VARIANT")
    parser.add_argument("--run", help="score this finished run folder (one variant)")
    parser.add_argument(
        "--runs-root", help="train into ROOT/NAME, reusing finished runs there"
    )
    parser.add_argument("--list", action="store_true", help="list the variants")
    parser.add_argument(
        "--table", action="store_true", help="print the recorded results as Markdown"
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="explain one dev pair with each variant's run (--runs-root): PNGs "
        "in benchmarks/results and the rank of the edited words",
    )
    parser.add_argument("--no-record", action="store_true", help="don't write JSON")
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(RESULTS.read_text())))
        return
    if args.explain:
        explain_pair(args.variants, Path(args.runs_root or "."))
        return
    if args.list or not args.variants:
        print("\n".join([*VARIANTS, *BASELINES]))
        return
    unknown = [v for v in args.variants if v not in VARIANTS and v not in BASELINES]
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(unknown)} (see --list)")
    if args.run and len(args.variants) != 1:
        parser.error("--run scores one variant")
    if not CAD_TRAIN.is_file():
        sys.exit(f"error: {PAIRS} is absent (the shared counterfactual pairs)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for name in args.variants:
        started = time.perf_counter()
        if name in BASELINES:
            entry = score_tfidf(with_pairs=name == "tfidf+pairs")
        else:
            entry = score_model(train_variant(name, args.run, args.runs_root))
            entry["overrides"] = VARIANTS[name][1]
        entry.update(
            seconds=round(time.perf_counter() - started, 1),
            machine=f"{platform.machine()}, {os.cpu_count()} CPUs",
            date=time.strftime("%Y-%m-%d"),
        )
        print(json.dumps({name: entry}, indent=1))
        if not args.no_record:
            _record(name, entry)


def explain_pair(variants: list[str], root: Path) -> None:
    """Explain the shortest CAD dev pair with each variant's run: the two
    PNGs per variant go to benchmarks/results, and how the edited tokens rank
    by |attribution| among the edit's tokens to results/robustness.json."""
    import difflib
    import shutil

    from textlstm.evaluation import load_predictor
    from textlstm.explain import explain_run
    from textlstm.robustness.pairs import read_pairs

    pairs = read_pairs(DEV_SETS["cad_dev"], ["neg", "pos"])
    # The shortest pair whose edit the first variant gets wrong and the last
    # right (before and after); the shortest pair if there is none.
    right = []
    for name in (variants[0], variants[-1]):
        predict, _ = load_predictor(root / name.replace("+", "_"))
        right.append(predict(pairs.edits).argmax(1) == pairs.edit_labels)
    telling = [k for k in range(len(pairs)) if right[-1][k] and not right[0][k]]
    i = min(telling or range(len(pairs)), key=lambda k: len(pairs.originals[k]))
    texts = [pairs.originals[i], pairs.edits[i]]
    recorded = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in variants:
        folder = Path(tempfile.mkdtemp(prefix="explain-"))
        result = explain_run(root / name.replace("+", "_"), texts, folder)
        for side, number in (("original", 1), ("edit", 2)):
            shutil.copy(
                folder / f"text-{number:03d}.png",
                RESULTS.parent / f"robustness_{name.replace('+', '_')}_{side}.png",
            )
        original, edit = result.explanations
        changed = {
            j
            for tag, _, _, j1, j2 in difflib.SequenceMatcher(
                None, original.tokens, edit.tokens
            ).get_opcodes()
            if tag != "equal"
            for j in range(j1, j2)
        }
        order = sorted(
            range(len(edit.tokens)), key=lambda j: -abs(edit.attributions[j])
        )
        entry = {
            "pair": pairs.where[i],
            "original": {"text": texts[0], "probabilities": original.probabilities},
            "edit": {"text": texts[1], "probabilities": edit.probabilities},
            "edited_tokens": [edit.tokens[j] for j in sorted(changed)],
            "top_tokens": [edit.tokens[j] for j in order[:5]],
            "edited_ranks": sorted(order.index(j) + 1 for j in changed),
        }
        print(json.dumps({name: entry}, indent=1))
        recorded.setdefault(name, {})["explained_pair"] = entry
    from textlstm.runs.atomic import write_json

    write_json(RESULTS, recorded)


def markdown_table(recorded: dict) -> str:
    """The docs' tables: accuracy and pairs, then check failure rates."""
    order = [*BASELINES, *VARIANTS]
    recorded = {
        name: recorded[name]
        for name in sorted(recorded, key=lambda n: order.index(n) if n in order else 99)
        if "pairs" in recorded[name]
    }
    lines = [
        "| variant | IMDB test | CAD dev: originals | edits | consistency "
        "| contrast dev: originals | edits | consistency |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, entry in recorded.items():
        cells = [f"{100 * entry['imdb_test_accuracy']:.1f}"]
        for set_name in DEV_SETS:
            scored = entry["pairs"][set_name]
            cells += [
                f"{100 * scored[key]:.1f}"
                for key in ("original_accuracy", "edited_accuracy", "consistency")
            ]
        lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    checked = {name: e["check"] for name, e in recorded.items() if e.get("check")}
    if checked:
        capabilities = list(next(iter(checked.values())))
        lines += ["", "| variant | " + " | ".join(capabilities) + " |"]
        lines.append("| --- |" + " ---: |" * len(capabilities))
        for name, rates in checked.items():
            cells = [f"{100 * rates[c]:.1f}%" for c in capabilities]
            lines.append(f"| `{name}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _record(name: str, entry: dict) -> None:
    from textlstm.runs.atomic import write_json

    recorded = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    recorded[name] = entry
    write_json(RESULTS, recorded)


if __name__ == "__main__":
    main()
