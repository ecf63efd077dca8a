"""Shared pieces of the data sources: the config check, splits, labels."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from textlstm.config import section_config
from textlstm.config.schema import defaults
from textlstm.errors import ConfigError, DataError

#: The `data` section's defaults, derived from `textlstm.config.schema` (kept for
#: code that imported it; the schema is the source).
DATA_DEFAULTS: dict[str, Any] = defaults("data")


@dataclasses.dataclass
class DatasetBundle:
    """The three splits of a dataset and its class names.

    Attributes:
        train: Unbatched `(text tf.string [], label tf.int64 [])` dataset.
        validation: Same, for validation.
        test: Same, for the final evaluation.
        class_names: Name of each label id, in id order.
        fingerprint: Stable hash of the data source, its content and the
            parameters (seed, fractions...) that shaped the splits.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    test: tf.data.Dataset
    class_names: list[str]
    fingerprint: str


@dataclasses.dataclass
class Table:
    """One split held in memory: texts, label ids and where each row came from."""

    texts: list[str]
    labels: np.ndarray
    where: list[str]  # "file: line n" of each row, for error messages

    def take(self, index: np.ndarray) -> Table:
        return Table(
            [self.texts[i] for i in index],
            self.labels[index],
            [self.where[i] for i in index],
        )


def data_config(data: dict | None) -> dict[str, Any]:
    """Return the `data` config with defaults filled in and values checked.

    The defaults and checks are the schema's (`textlstm.config.schema`), so a
    value is refused here with the message `load_config` gives, as a
    `DataError`.

    Args:
        data: A possibly partial `data` config dict.

    Returns:
        A new dict with every key of the `data` section (unknown keys kept).

    Raises:
        DataError: naming the key, the bad value and the allowed values.

    Example:

    >>> data_config({"source": "csv", "train": "a.csv"})["validation_fraction"]
    0.1
    >>> data_config({"test_fraction": 0.95})
    Traceback (most recent call last):
    ...
    textlstm.errors.DataError: data.test_fraction: 0.95 is above the maximum 0.9
    """
    try:
        return section_config("data", data)
    except ConfigError as error:
        raise DataError(str(error)) from None


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Pick a seeded, stratified `fraction` of the rows to hold out.

    Every class with at least two examples gives at least one row when
    `fraction > 0` and keeps at least one.

    Args:
        labels: Integer label of each row.
        fraction: Share of each class to hold out, in `[0, 1)`.
        seed: Seed (or list of ints) for `numpy.random.default_rng`.

    Returns:
        Boolean mask, `True` for held-out rows.

    Example:

    >>> stratified_holdout(np.array([0, 0, 0, 0, 1, 1]), 0.5, seed=0).sum()
    np.int64(3)
    """
    rng = np.random.default_rng(seed)
    held = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        count = int(round(fraction * len(rows)))
        if fraction > 0 and len(rows) >= 2:
            count = min(max(count, 1), len(rows) - 1)
        held[rng.permutation(rows)[:count]] = True
    return held


def split_table(table: Table, fraction: float, seed, what: str) -> tuple[Table, Table]:
    """Split a table into (kept, held-out) rows, stratified and seeded."""
    held = stratified_holdout(table.labels, fraction, [seed, salt(what)])
    return table.take(np.flatnonzero(~held)), table.take(np.flatnonzero(held))


def salt(what: str) -> int:
    """A stable integer from a name, to derive per-purpose seeds."""
    return int(hashlib.sha256(what.encode()).hexdigest()[:8], 16)


def shuffled(table: Table, seed: int) -> Table:
    """The same rows in a seeded random order (class-ordered sources mix)."""
    rng = np.random.default_rng([seed, salt("order")])
    return table.take(rng.permutation(len(table.texts)))


def to_dataset(table: Table) -> tf.data.Dataset:
    """An unbatched `(text, label)` dataset of a table."""
    texts = tf.constant(table.texts, dtype=tf.string, shape=[len(table.texts)])
    labels = tf.constant(table.labels, dtype=tf.int64, shape=[len(table.labels)])
    return tf.data.Dataset.from_tensor_slices((texts, labels))


_INTEGER = re.compile(r"-?[0-9]+")


class LabelMap:
    """Maps raw labels (strings or integers) to ids `0..C-1`.

    Integer labels (or strings of digits, as CSV gives) are ordered
    numerically; other labels alphabetically. With `class_names` given, a
    label is looked up by name first, and an integer label that is not a name
    is taken as an index into `class_names` (labels 0/1 with `[neg, pos]`).

    Example:

    >>> labels = LabelMap.fit(["pos", "neg", "pos"], None)
    >>> labels.class_names, labels.ids(["neg", "pos"], ["a:1", "a:2"])
    (['neg', 'pos'], array([0, 1]))
    """

    def __init__(self, class_names: list[str], by_index: bool = False):
        self.class_names = class_names
        self.by_index = by_index
        self._ids = {name: i for i, name in enumerate(class_names)}

    @classmethod
    def fit(cls, raw: Sequence, class_names: list[str] | None) -> LabelMap:
        """Class names from the training labels (or the given ones)."""
        if class_names is not None:
            return cls([str(name) for name in class_names], by_index=True)
        integer = all(_is_integer(value) for value in raw)
        values = {_normal(value) for value in raw}
        return cls([str(value) for value in sorted(values, key=_order(integer))])

    def ids(self, raw: Sequence, where: Sequence[str]) -> np.ndarray:
        """Label ids of raw labels; `DataError` naming the row otherwise."""
        ids = np.empty(len(raw), dtype=np.int64)
        for i, (value, place) in enumerate(zip(raw, where)):
            key = str(_normal(value))
            if key in self._ids:
                ids[i] = self._ids[key]
            elif self.by_index and _is_index(value, len(self.class_names)):
                ids[i] = _normal(value)  # an index into the given class_names
            else:
                raise DataError(
                    f"{place}: label {key!r} is not one of the classes "
                    f"{', '.join(self.class_names)}"
                )
        return ids


def _is_index(value, count: int) -> bool:
    return _is_integer(value) and 0 <= _normal(value) < count


def _is_integer(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, str) and bool(_INTEGER.fullmatch(value.strip()))


def _normal(value):
    if _is_integer(value):
        return int(float(value)) if isinstance(value, float) else int(value)
    return str(value)


def _order(integer: bool):
    return (lambda value: int(value)) if integer else (lambda value: str(value))


def check_classes(labels: np.ndarray, class_names: list[str], where: str, column: str):
    """`DataError` when the training labels hold fewer than two classes."""
    if len(labels) == 0:
        raise DataError(f"{where}: no examples")
    present = np.unique(labels)
    if len(present) < 2:
        name = class_names[int(present[0])] if len(present) else "?"
        raise DataError(
            f"{where}: label column {column!r} has a single class {name!r}; "
            "need at least 2"
        )


def fingerprint(config: dict, seed: int, content: str) -> str:
    """Hex digest over the data config, the seed and a content digest."""
    payload = json.dumps(
        {"data": config, "seed": seed, "content": content},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
