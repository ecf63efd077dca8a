"""Training data that teaches reading: pairs and counterfactuals added to train.

`augment_training(bundle, data_config)` returns the dataset with more
training texts, and what it added, for `run.json`:

- `data.pairs` (and `data.pair_edits`): human counterfactual pairs, both
  texts of each pair, `data.pairs_repeat` times (Kaushik et al. 2020: a
  model trained on both sides of minimal edits learns the words that
  changed, not the review it recognises); a pair with a text in the
  validation or test split is left out, so that they stay unseen;
- `data.counterfactuals: RATE`: that share of the training texts edited
  automatically (`counterfactuals.make_counterfactuals`, with a polarity
  lexicon learned from the training split) and relabelled, for datasets
  that have no human pairs (Wang & Culotta 2021).

Only the training split changes; validation and test stay as the source
gives them. The bundle's fingerprint covers what was added, so a resumed
run refuses changed pairs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping

import numpy as np
import tensorflow as tf

from textlstm.data import DatasetBundle
from textlstm.errors import DataError
from textlstm.robustness.counterfactuals import (
    PolarityLexicon,
    make_counterfactuals,
    summarize_counterfactuals,
)
from textlstm.robustness.pairs import PairSet, read_pairs

__all__ = ["augment_training"]

#: Counterfactual examples shown in run.json, for a reader to judge them.
EXAMPLES_KEPT = 5


def augment_training(
    bundle: DatasetBundle,
    data: Mapping,
    *,
    seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> tuple[DatasetBundle, dict | None, PairSet | None]:
    """Add pairs and automatic counterfactuals to the training split.

    Args:
        bundle: The dataset as the source gives it.
        data: The resolved `data` config section (`pairs`, `pair_edits`,
            `pairs_repeat`, `counterfactuals`).
        seed: Seed of the counterfactuals' draw.
        log: Called with one-line progress messages.

    Returns:
        `(bundle, report, pairs)`: the bundle with the texts added at the
        end of its training split (training shuffles) and a new
        fingerprint; a JSON-ready report of what was added; and the human
        pairs (once) for `train.pair_loss`, or None. None and None when
        nothing was added.

    Raises:
        textlstm.errors.DataError: a pair file is bad, or counterfactuals
            are asked of a dataset that has not two classes.
    """
    log = log or (lambda message: None)
    texts: list[str] = []
    labels: list[int] = []
    report: dict = {}
    pair_sets: list[PairSet] = []
    if data.get("pairs"):
        pairs, report["pairs"] = _pairs(bundle, data)
        repeat = int(data.get("pairs_repeat", 1))
        texts += (pairs.originals + pairs.edits) * repeat
        labels += np.tile(
            np.concatenate([pairs.original_labels, pairs.edit_labels]), repeat
        ).tolist()
        pair_sets.append(pairs)
        log(report["pairs"]["message"])
    if data.get("counterfactuals"):
        made, report["counterfactuals"] = _counterfactuals(
            bundle, data["counterfactuals"], seed
        )
        texts += made.edits
        labels += made.edit_labels.tolist()
        # Not pairs of the pairwise term: with them, training on IMDB died
        # in epoch 1 twice (a segfault inside TensorFlow), not yet understood.
        log(report["counterfactuals"]["message"])
    if not report:
        return bundle, None, None
    extra = tf.data.Dataset.from_tensor_slices(
        (tf.constant(texts, tf.string, [len(texts)]), tf.constant(labels, tf.int64))
    )
    digest = hashlib.sha256(bundle.fingerprint.encode())
    digest.update(repr(sorted(_fingerprinted(report).items())).encode())
    augmented = DatasetBundle(
        train=bundle.train.concatenate(extra),
        validation=bundle.validation,
        test=bundle.test,
        class_names=bundle.class_names,
        fingerprint=digest.hexdigest()[:16],
    )
    report["added"] = len(texts)
    return augmented, report, _joined(pair_sets, bundle.class_names)


def _pairs(bundle: DatasetBundle, data: Mapping) -> tuple[PairSet, dict]:
    files = [data["pairs"]] + ([data["pair_edits"]] if data.get("pair_edits") else [])
    pairs, held_out = _outside_evaluation(
        read_pairs(files, bundle.class_names, key="data.pairs"), bundle
    )
    repeat = int(data.get("pairs_repeat", 1))
    sha = hashlib.sha256()
    for file in files:
        with open(file, "rb") as handle:
            sha.update(handle.read())
    times = f" x {repeat}" if repeat > 1 else ""
    plural = "s" * (len(pairs) != 1)
    report = {
        "files": [str(file) for file in files],
        "sha256": sha.hexdigest(),
        "pairs": len(pairs),
        "dropped": held_out,
        "repeat": repeat,
        "texts": 2 * len(pairs) * repeat,
        "message": f"Adding {len(pairs):,} counterfactual pair{plural}{times}: "
        f"{2 * len(pairs) * repeat:,} training texts ({pairs.name})"
        + (
            f"; {held_out:,} pairs left out: a text of theirs is in the "
            "validation or test split"
            if held_out
            else ""
        ),
    }
    return pairs, report


def _counterfactuals(bundle: DatasetBundle, rate: float, seed: int):
    if len(bundle.class_names) != 2:
        raise DataError(
            f"data.counterfactuals: automatic counterfactuals need two classes, "
            f"the dataset has {len(bundle.class_names)} "
            f"({', '.join(bundle.class_names)})"
        )
    texts, labels = [], []
    for text, label in bundle.train.as_numpy_iterator():
        texts.append(text.decode("utf-8", errors="replace"))
        labels.append(int(label))
    lexicon = PolarityLexicon.fit(texts, labels, positive=1)
    made = make_counterfactuals(texts, labels, lexicon, rate=rate, seed=seed)
    summary = summarize_counterfactuals(made, len(texts), rate=rate)
    summary["message"] = f"Counterfactuals: {summary['message']}"
    summary.update(rate=rate, seed=seed)
    summary["lexicon"] = {
        name: lexicon.words_for(label)[:20]
        for name, label in zip(bundle.class_names, (0, 1))
    }
    summary["examples"] = [
        {"edits": [list(edit) for edit in item.edits], "label": int(item.label)}
        for item in made[:EXAMPLES_KEPT]
    ]
    pairs = PairSet(
        originals=[texts[item.index] for item in made],
        edits=[item.text for item in made],
        original_labels=np.array([labels[item.index] for item in made], np.int64),
        edit_labels=np.array([int(item.label) for item in made], np.int64),
        class_names=list(bundle.class_names),
        name="counterfactuals",
    )
    return pairs, summary


def _outside_evaluation(pairs: PairSet, bundle: DatasetBundle) -> tuple[PairSet, int]:
    """The pairs none of whose texts is in the validation or test split
    (whitespace aside): training on them would leak those splits."""
    held = {
        _key(text.decode("utf-8", errors="replace"))
        for split in (bundle.validation, bundle.test)
        for text, _ in split.as_numpy_iterator()
    }
    keep = [
        i
        for i, (original, edit) in enumerate(zip(pairs.originals, pairs.edits))
        if _key(original) not in held and _key(edit) not in held
    ]
    if len(keep) == len(pairs):
        return pairs, 0
    kept = PairSet(
        originals=[pairs.originals[i] for i in keep],
        edits=[pairs.edits[i] for i in keep],
        original_labels=pairs.original_labels[keep],
        edit_labels=pairs.edit_labels[keep],
        class_names=pairs.class_names,
        name=pairs.name,
        where=[pairs.where[i] for i in keep] if pairs.where else None,
    )
    return kept, len(pairs) - len(keep)


def _key(text: str) -> str:
    return " ".join(text.split())


def _joined(pair_sets: list[PairSet], class_names) -> PairSet | None:
    if not pair_sets:
        return None
    return PairSet(
        originals=[text for pairs in pair_sets for text in pairs.originals],
        edits=[text for pairs in pair_sets for text in pairs.edits],
        original_labels=np.concatenate([p.original_labels for p in pair_sets]),
        edit_labels=np.concatenate([p.edit_labels for p in pair_sets]),
        class_names=list(class_names),
        name=" + ".join(pairs.name for pairs in pair_sets),
    )


def _fingerprinted(report: dict) -> dict:
    """What changes the training data: files' digests, counts, rates."""
    pairs = report.get("pairs") or {}
    made = report.get("counterfactuals") or {}
    return {
        "pairs": pairs.get("sha256"),
        "repeat": pairs.get("repeat"),
        "counterfactuals": made.get("rate"),
        "seed": made.get("seed"),
    }
