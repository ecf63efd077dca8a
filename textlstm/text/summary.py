"""Dataset summary: examples per class and split, lengths, vocabulary coverage."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from textlstm.text.standardization import standardize

PERCENTILES = (50, 90, 95, 99)
SPLITS = ("train", "validation", "test")


def summarize(bundle, vectorizer=None) -> dict:
    """Count and measure every split of a `DatasetBundle` (one pass each).

    Args:
        bundle: The `DatasetBundle` from `load_dataset`.
        vectorizer: Optional adapted vectorizer; adds the vocabulary size,
            the share of tokens it knows (coverage) and the share of texts
            longer than its `sequence_length` (truncated), per split.

    Returns:
        A JSON-serializable dict: `class_names`, `splits` (per split:
        `examples`, `per_class`, `words` length statistics after
        standardization, `empty` texts) and, with a vectorizer, `vocabulary`.

    Example:

    >>> from textlstm.data import load_dataset
    >>> bundle = load_dataset({"size": 40, "test_size": 10})
    >>> summary = summarize(bundle)
    >>> summary["splits"]["test"]["examples"], summary["class_names"]
    (10, ['neg', 'pos'])
    """
    summary: dict = {"class_names": list(bundle.class_names), "splits": {}}
    if vectorizer is not None:
        vocabulary = {
            "size": int(vectorizer.vocabulary_size()),
            "sequence_length": _sequence_length(vectorizer),
            "coverage": {},
            "truncated": {},
        }
        summary["vocabulary"] = vocabulary
    for split in SPLITS:
        stats = _measure(getattr(bundle, split), len(bundle.class_names), vectorizer)
        counts = stats.pop("counts")
        summary["splits"][split] = {
            "examples": int(counts.sum()),
            "per_class": {
                name: int(count) for name, count in zip(bundle.class_names, counts)
            },
            **{key: stats[key] for key in ("words", "empty")},
        }
        if vectorizer is not None:
            vocabulary["coverage"][split] = stats["coverage"]
            vocabulary["truncated"][split] = stats["truncated"]
    return summary


def _sequence_length(vectorizer) -> int | None:
    length = getattr(vectorizer, "sequence_length", None)
    if length is None:
        length = getattr(vectorizer, "_output_sequence_length", None)
    return None if length is None else int(length)


def _measure(ds: tf.data.Dataset, num_classes: int, vectorizer) -> dict:
    counts = np.zeros(num_classes, dtype=np.int64)
    words, known, total, truncated = [], 0, 0, 0
    length = _sequence_length(vectorizer) if vectorizer is not None else None
    for texts, labels in ds.batch(1024):
        counts += np.bincount(labels.numpy(), minlength=num_classes)[:num_classes]
        words.append(tf.strings.split(standardize(texts)).row_lengths().numpy())
        if vectorizer is not None:
            ids = _all_ids(vectorizer, texts)
            total += int(tf.size(ids.flat_values))
            known += int(tf.math.count_nonzero(ids.flat_values > 1))
            if length is not None:
                truncated += int(tf.math.count_nonzero(ids.row_lengths() > length))
    lengths = np.concatenate(words) if words else np.zeros(0, dtype=np.int64)
    examples = int(counts.sum())
    return {
        "counts": counts,
        "words": _length_stats(lengths),
        "empty": int((lengths == 0).sum()),
        "coverage": round(known / total, 4) if total else None,
        "truncated": round(truncated / examples, 4) if examples else None,
    }


def _all_ids(vectorizer, texts) -> tf.RaggedTensor:
    """Every token id of each text, before padding and truncation."""
    if hasattr(vectorizer, "token_ids"):
        return vectorizer.token_ids(texts)
    ids = vectorizer(texts)  # a plain TextVectorization: padded with 0
    return tf.RaggedTensor.from_tensor(ids, padding=0)


def _length_stats(lengths: np.ndarray) -> dict:
    if len(lengths) == 0:
        return {}
    stats = {"min": int(lengths.min()), "mean": round(float(lengths.mean()), 1)}
    for q in PERCENTILES:
        stats[f"p{q}"] = int(np.percentile(lengths, q))
    stats["max"] = int(lengths.max())
    return stats


def format_summary(summary: dict) -> list[str]:
    """Format a `summarize()` dict as aligned text lines for the terminal.

    Args:
        summary: The dict from `summarize`.

    Returns:
        Lines without trailing newlines.

    Example:

    >>> lines = format_summary({
    ...     "class_names": ["neg", "pos"],
    ...     "splits": {"train": {"examples": 3, "per_class": {"neg": 1, "pos": 2},
    ...                          "words": {"min": 1, "mean": 2.0, "p50": 2,
    ...                                    "max": 3}, "empty": 0}},
    ... })
    >>> print("\\n".join(lines))
    split         examples       neg       pos   words p50   p90   max  empty
    train                3         1         2           2     -     3      0
    """
    names = summary["class_names"]
    header = f"{'split':<12}{'examples':>10}" + "".join(f"{n[:9]:>10}" for n in names)
    header += f"{'words p50':>12}{'p90':>6}{'max':>6}{'empty':>7}"
    lines = [header]
    for split, stats in summary["splits"].items():
        words = stats.get("words", {})
        line = f"{split:<12}{stats['examples']:>10}"
        line += "".join(f"{stats['per_class'].get(n, 0):>10}" for n in names)
        line += "".join(
            f"{words.get(key, '-'):>{width}}"
            for key, width in (("p50", 12), ("p90", 6), ("max", 6))
        )
        line += f"{stats.get('empty', 0):>7}"
        lines.append(line)
    vocabulary = summary.get("vocabulary")
    if vocabulary:
        coverage = ", ".join(
            f"{split} {_percent(value)}"
            for split, value in vocabulary["coverage"].items()
        )
        lines.append(f"vocabulary: {vocabulary['size']} tokens; coverage {coverage}")
        if vocabulary.get("sequence_length"):
            truncated = ", ".join(
                f"{split} {_percent(value)}"
                for split, value in vocabulary["truncated"].items()
            )
            lines.append(
                f"longer than {vocabulary['sequence_length']} tokens "
                f"(truncated): {truncated}"
            )
    return lines


def _percent(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"
