"""How good are the automatic counterfactuals of `textlstm.robustness`?

Fits the polarity lexicon on IMDB's 25,000 training reviews, makes
counterfactuals of 2,000 of them (drawn with `--seed`) and prints the share
kept, the edits per kept text, the time per 1,000 texts and five random
examples (the text around the first edit, before and after). Then it holds
the method against people: for the originals of Kaushik et al.'s human
counterfactual pairs (the *train* file only; every original is an IMDB
training review), which words did the people change, and which does the
method change? Overlap is counted on word positions of the original, both
sides aligned to it the same way (`difflib` over its words), against what
editing as many words at random would hit.

Usage:

    python benchmarks/counterfactuals_quality.py [--texts 2000] [--seed 0]

Reads `../shared/data/imdb/train.csv.gz` and
`../shared/data/imdb_counterfactual/cad_train_paired.tsv` next to this
checkout, never a test split; without them it says so and exits (code 0).
Prints only; nothing is written.
"""

from __future__ import annotations

import argparse
import collections
import csv
import difflib
import gzip
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
TRAIN = SHARED / "imdb" / "train.csv.gz"
PAIRS = SHARED / "imdb_counterfactual" / "cad_train_paired.tsv"

sys.path.insert(0, str(ROOT))
from textlstm.robustness.counterfactuals import (  # noqa: E402
    PolarityLexicon,
    make_counterfactuals,
    summarize_counterfactuals,
    word_spans,
)


def read_train() -> tuple[list[str], list[int]]:
    with gzip.open(TRAIN, "rt", encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    return [row["text"] for row in rows], [int(row["label"]) for row in rows]


def read_pairs(train_texts: list[str]) -> list[tuple[str, int, str]]:
    """`(original, label, human edit)` for each train pair whose original is
    an IMDB training review (the one of the two found among them)."""
    with open(PAIRS, encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file, delimiter="\t"))
    batches = collections.defaultdict(list)
    for row in rows:
        batches[row["batch_id"]].append(row)
    known = {" ".join(text.split()) for text in train_texts}
    pairs = []
    for first, second in (rows for rows in batches.values() if len(rows) == 2):
        for original, edit in ((first, second), (second, first)):
            if " ".join(original["Text"].split()) in known:
                label = int(original["Sentiment"] == "Positive")
                pairs.append((original["Text"], label, edit["Text"]))
                break
    return pairs


def changed_positions(original: str, edited: str) -> tuple[set[int], int]:
    """The word positions of `original` that `edited` changes (a word put in
    counts on the word after it), and the number of words."""
    before = [span.key for span in word_spans(original)]
    after = [span.key for span in word_spans(edited)]
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    changed = set()
    for operation, i1, i2, _, _ in matcher.get_opcodes():
        if operation in ("replace", "delete"):
            changed.update(range(i1, i2))
        elif operation == "insert":
            changed.add(min(i1, len(before) - 1))
    return changed, len(before)


def snippet(original: str, edited: str, width: int = 110) -> tuple[str, str]:
    """The two texts around their first difference."""
    start = next(
        (i for i, (a, b) in enumerate(zip(original, edited)) if a != b),
        min(len(original), len(edited)),
    )
    left = max(0, start - width // 2)
    return original[left : left + 2 * width], edited[left : left + 2 * width]


def measure_generation(texts, labels, lexicon, count: int, seed: int) -> None:
    rate = count / len(texts)
    started = time.perf_counter()
    made = make_counterfactuals(texts, labels, lexicon, rate=rate, seed=seed)
    seconds = time.perf_counter() - started
    summary = summarize_counterfactuals(made, len(texts), rate=rate)
    print(summary["message"])
    print(
        f"kept share {summary['kept_share']:.1%}, "
        f"mean edits per kept text {summary['edits_per_text']:.2f}, "
        f"{seconds / summary['tried'] * 1000:.2f} s per 1,000 texts tried"
    )
    flips = collections.Counter(
        (old.lower(), new.lower()) for c in made for old, new in c.edits
    )
    print(
        "most common edits:",
        ", ".join(f"{o}->{n or '∅'} {k}" for (o, n), k in flips.most_common(15)),
    )
    for item in random.Random(seed).sample(made, min(5, len(made))):
        before, after = snippet(texts[item.index], item.text)
        print(
            f"\n[{item.index}] label {item.source_label} -> {item.label}; "
            f"edits {item.edits}"
        )
        print(f"  before: …{before}…")
        print(f"  after:  …{after}…")


def measure_overlap(pairs, lexicon) -> None:
    texts = [original for original, _, _ in pairs]
    labels = [label for _, label, _ in pairs]
    made = make_counterfactuals(texts, labels, lexicon)
    hit = ours = theirs = expected = 0
    any_hit = 0
    for item in made:
        original, _, human = pairs[item.index]
        people, words = changed_positions(original, human)
        method, _ = changed_positions(original, item.text)
        hit += len(people & method)
        ours += len(method)
        theirs += len(people)
        expected += len(method) * len(people) / max(words, 1)
        any_hit += bool(people & method)
    print(
        f"\nhuman pairs (train): {len(pairs)} originals found among the IMDB "
        f"training reviews; the method kept {len(made)} "
        f"({len(made) / max(len(pairs), 1):.0%})"
    )
    print(
        f"of the words the method changed, {hit / max(ours, 1):.0%} were changed "
        f"by the people too (editing as many words at random: "
        f"{expected / max(ours, 1):.0%})"
    )
    print(
        f"of the words the people changed, the method changed "
        f"{hit / max(theirs, 1):.0%}; texts with at least one shared edit: "
        f"{any_hit / max(len(made), 1):.0%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000, help="texts to try")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw")
    args = parser.parse_args()
    if not TRAIN.is_file() or not PAIRS.is_file():
        print(f"skipped: {TRAIN} or {PAIRS} is absent (the shared IMDB data)")
        return
    texts, labels = read_train()
    started = time.perf_counter()
    lexicon = PolarityLexicon.fit(texts, labels)
    print(
        f"lexicon fitted on {len(texts):,} training reviews in "
        f"{time.perf_counter() - started:.1f} s: {len(lexicon.words_for(1))} "
        f"positive and {len(lexicon.words_for(0))} negative words"
    )
    print("  positive:", ", ".join(lexicon.words_for(1)[:25]))
    print("  negative:", ", ".join(lexicon.words_for(0)[:25]))
    measure_generation(texts, labels, lexicon, args.texts, args.seed)
    measure_overlap(read_pairs(texts), lexicon)


if __name__ == "__main__":
    main()
