"""`text.max_tokens: auto` and `text.sequence_length: auto`: sizes chosen
from the training split.

The rules, each measured on the standardized training texts (the tokens the
vectorizer will see, n-grams included):

- **max_tokens**: every token seen at least `MIN_COUNT` (2) times, but no
  more than the most frequent ones that cover `COVERAGE` (99%) of all token
  occurrences, and at most `MAX_TOKENS` (50,000); plus padding and `[UNK]`.
  A token seen once cannot generalize (its embedding is trained on one
  text), and the long tail beyond 99% coverage costs parameters that a
  small dataset cannot fit.
- **sequence_length**: the `LENGTH_PERCENTILE` (95th) percentile of the
  texts' token counts, rounded up to a multiple of 8, at most
  `MAX_SEQUENCE_LENGTH` (800): one text in twenty is truncated (on the side
  `text.truncation` says), and the batch is not padded to the longest
  outlier.

The values chosen are written into the resolved `config.yaml` of the run and
explained in `run.json` (`text_sizing`).

>>> import tensorflow as tf
>>> texts = tf.data.Dataset.from_tensor_slices(
...     ["a good film", "a bad film", "a good plot", "odd"])
>>> sizes = choose_text_sizes({"max_tokens": "auto", "sequence_length": "auto"}, texts)
>>> sizes["max_tokens"]["value"], sizes["sequence_length"]["value"]
(5, 8)
"""

from __future__ import annotations

import collections
import math
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from textlstm.text.standardization import standardize_text, text_config

__all__ = [
    "AUTO",
    "COVERAGE",
    "LENGTH_PERCENTILE",
    "MAX_SEQUENCE_LENGTH",
    "MAX_TOKENS",
    "MIN_COUNT",
    "choose_text_sizes",
    "resolve_text_sizes",
    "token_counts",
]

#: The value of `text.max_tokens` / `text.sequence_length` that asks for this.
AUTO = "auto"
#: Fewest occurrences for a token to get its own id.
MIN_COUNT = 2
#: Share of the training token occurrences the vocabulary covers at most.
COVERAGE = 0.99
#: Largest vocabulary `auto` picks (padding and `[UNK]` excluded).
MAX_TOKENS = 50_000
#: Percentile of the texts' lengths `auto` keeps whole.
LENGTH_PERCENTILE = 95
#: Longest `sequence_length` `auto` picks.
MAX_SEQUENCE_LENGTH = 800
_BATCH = 1024


def token_counts(text: Mapping, texts: tf.data.Dataset) -> tuple[dict, np.ndarray]:
    """Count the tokens of the training texts as the vectorizer splits them.

    Args:
        text: The `text` config (its standardization, level and n-grams).
        texts: String scalars, or `(text, label)` pairs, unbatched.

    Returns:
        `(counts, lengths)`: occurrences of each token (bytes), and the
        number of tokens of each text.
    """
    config = text_config(_placeholders(text))
    if isinstance(texts.element_spec, tuple):
        texts = texts.map(lambda text_, *_: text_)
    counts: collections.Counter = collections.Counter()
    lengths = []
    for batch in texts.batch(_BATCH):
        tokens = _tokens(batch, config)
        lengths.append(tokens.row_lengths().numpy())
        counts.update(tokens.flat_values.numpy().tolist())
    return dict(counts), np.concatenate(lengths) if lengths else np.zeros(0, int)


def _tokens(batch: tf.Tensor, config: Mapping) -> tf.RaggedTensor:
    """The tokens of a batch as `TextVectorizer` makes them (its
    standardization, then Keras' whitespace or character split and n-grams)."""
    standardized = standardize_text(
        batch,
        lowercase=config["lowercase"],
        strip_html=config["strip_html"],
        strip_punctuation=config["strip_punctuation"],
    )
    if config["level"] == "character":
        tokens = tf.strings.unicode_split(standardized, "UTF-8")
    else:
        tokens = tf.strings.split(standardized)
    if config["ngrams"] > 1:
        widths = tuple(range(1, config["ngrams"] + 1))
        tokens = tf.strings.ngrams(tokens, ngram_width=widths, separator=" ")
    return tokens


def choose_text_sizes(text: Mapping, texts: tf.data.Dataset) -> dict:
    """The `auto` sizes of a `text` config, with the numbers behind them.

    Args:
        text: The `text` config; only keys set to `"auto"` are chosen.
        texts: The training texts (unbatched).

    Returns:
        `{key: {"value": ..., ...why}}` for each `auto` key (empty if none).
    """
    keys = [k for k in ("max_tokens", "sequence_length") if text.get(k) == AUTO]
    if not keys:
        return {}
    counts, lengths = token_counts(text, texts)
    chosen = {}
    if "max_tokens" in keys:
        chosen["max_tokens"] = _vocabulary_size(counts)
    if "sequence_length" in keys:
        chosen["sequence_length"] = _sequence_length(lengths)
    return chosen


def resolve_text_sizes(text: Mapping, texts: tf.data.Dataset) -> tuple[dict, dict]:
    """`text` with its `auto` sizes replaced by numbers, and the report.

    >>> resolve_text_sizes({"max_tokens": 100}, None)
    ({'max_tokens': 100}, {})
    """
    chosen = choose_text_sizes(text, texts) if texts is not None else {}
    resolved = dict(text)
    resolved.update({key: report["value"] for key, report in chosen.items()})
    return resolved, chosen


def _vocabulary_size(counts: Mapping) -> dict:
    frequencies = np.sort(np.fromiter(counts.values(), int, len(counts)))[::-1]
    total = int(frequencies.sum())
    repeated = int((frequencies >= MIN_COUNT).sum())
    covered = np.cumsum(frequencies) / max(total, 1)
    for_coverage = int(np.searchsorted(covered, COVERAGE) + 1) if total else 0
    tokens = max(1, min(repeated, for_coverage, MAX_TOKENS))
    kept = int(frequencies[:tokens].sum())
    return {
        "value": tokens + 2,  # padding and [UNK]
        "distinct_tokens": len(frequencies),
        "seen_twice_or_more": repeated,
        "for_99_percent_coverage": for_coverage,
        "coverage": round(kept / total, 4) if total else 0.0,
    }


def _sequence_length(lengths: np.ndarray) -> dict:
    percentile = float(np.percentile(lengths, LENGTH_PERCENTILE)) if len(lengths) else 1
    value = min(MAX_SEQUENCE_LENGTH, max(8, 8 * math.ceil(percentile / 8)))
    return {
        "value": int(value),
        "percentile_95": round(percentile, 1),
        "longest": int(lengths.max()) if len(lengths) else 0,
        "truncated_share": round(float((lengths > value).mean()), 4)
        if len(lengths)
        else 0.0,
    }


def _placeholders(text: Mapping) -> dict:
    """`text` with `auto` sizes replaced by valid numbers (for splitting)."""
    return {
        **text,
        **{k: 8 for k in ("max_tokens", "sequence_length") if text.get(k) == AUTO},
    }
