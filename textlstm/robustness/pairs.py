"""Counterfactual pairs: an original text and a minimal edit with the other label.

A model that reads changes its answer when a person edits the words that
carry the label; a model that recognises texts (or counts words) keeps the
original's answer. `read_pairs` reads such pairs from files and
`pair_metrics` measures both sides: accuracy on the originals, on the
edits, consistency (both right) and how often the prediction flips.

Two layouts are read (CSV, TSV or JSONL, gzip too, format from the suffix):

- **one file, paired by an id column** (`pair_id`, `batch_id`, `pair` or
  `id`): the two rows with the same id are one pair, the first of them the
  original (the order of Kaushik et al.'s `*_paired.tsv` files);
- **two row-aligned files**: row *i* of the first file (the originals) and
  row *i* of the second (the edits) are one pair (Gardner et al.'s
  contrast sets).

The text and label columns are found by name (`text`/`review`/`sentence`,
`label`/`sentiment`/`class`, any case) unless given. Labels are matched
to the model's class names as `match_label` says: `Positive`, `pos`,
`POS` and `1` all name the class `pos` of `[neg, pos]`.

Example:

>>> import numpy as np
>>> pairs = PairSet(
...     originals=["good", "bad"], edits=["not good", "not bad"],
...     original_labels=np.array([1, 0]), edit_labels=np.array([0, 1]),
...     class_names=["neg", "pos"], name="tiny",
... )
>>> metrics = pair_metrics(
...     pairs,
...     np.array([[0.1, 0.9], [0.8, 0.2]]),   # originals: both right
...     np.array([[0.3, 0.7], [0.2, 0.8]]),   # edits: the first unchanged
... )
>>> metrics["original_accuracy"], metrics["edited_accuracy"], metrics["consistency"]
(1.0, 0.5, 0.5)
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textlstm.data.files import decode, jsonl_records, read_bytes
from textlstm.errors import DataError
from textlstm.evaluation.metrics import classification_metrics, round_metric
from textlstm.runs.atomic import write_json

__all__ = [
    "PairSet",
    "evaluate_pairs",
    "match_label",
    "pair_metrics",
    "read_pairs",
    "save_pair_metrics",
]

#: Column names tried, in order and ignoring case, when none is given.
TEXT_COLUMNS = ("text", "review", "sentence", "content")
LABEL_COLUMNS = ("label", "sentiment", "class", "polarity")
PAIR_COLUMNS = ("pair_id", "batch_id", "pair", "id")
#: Pairs shown in the summary whose prediction moved least towards the edit.
WORST_SHOWN = 5


@dataclass
class PairSet:
    """Pairs of texts: `originals[i]` and its edit `edits[i]`.

    Attributes:
        originals: The original texts.
        edits: The edited texts, one per original.
        original_labels: Class ids of the originals, shape `(n,)`.
        edit_labels: Class ids of the edits (never the original's).
        class_names: Name of each class id (the model's classes).
        name: What the pairs are called in reports (the file's name).
        where: For each pair, the file and line of its original.
    """

    originals: list[str]
    edits: list[str]
    original_labels: np.ndarray
    edit_labels: np.ndarray
    class_names: list[str]
    name: str = "pairs"
    where: list[str] | None = None

    def __len__(self) -> int:
        return len(self.originals)


# --------------------------------------------------------------------------- #
# Labels


def match_label(raw, class_names: Sequence[str]) -> int | None:
    """The class id a raw label names, or None.

    Tried in order: the exact name; the name ignoring case; an integer as
    an index (`1` is the second class); a unique class whose name starts
    the label or that the label starts, ignoring case (`Positive` -> `pos`,
    `neg` -> `negative`).

    >>> [match_label(v, ["neg", "pos"]) for v in ("pos", "Positive", "NEG", 1, "0")]
    [1, 1, 0, 1, 0]
    >>> match_label("neutral", ["neg", "pos"]) is None
    True
    """
    names = [str(name) for name in class_names]
    text = str(raw).strip()
    if text in names:
        return names.index(text)
    lowered = [name.lower() for name in names]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    if text.lstrip("-").isdigit() and 0 <= int(text) < len(names):
        return int(text)
    key = text.lower()
    starts = [
        i
        for i, name in enumerate(lowered)
        if key and (key.startswith(name) or name.startswith(key))
    ]
    return starts[0] if len(starts) == 1 else None


def _label_id(raw, class_names: Sequence[str], where: str) -> int:
    found = match_label(raw, class_names)
    if found is None:
        raise DataError(
            f"{where}: label {str(raw)!r} is not one of the model's classes "
            f"{', '.join(map(str, class_names))}"
        )
    return found


# --------------------------------------------------------------------------- #
# Reading


@dataclass
class _Row:
    text: str
    label: object
    pair: str | None
    where: str


def read_pairs(
    paths: Sequence[str | os.PathLike],
    class_names: Sequence[str],
    *,
    text_column: str | None = None,
    label_column: str | None = None,
    pair_column: str | None = None,
    key: str = "--pairs",
) -> PairSet:
    """Read pairs from one id-paired file or two row-aligned files.

    Args:
        paths: One file whose rows are paired by an id column, or two files
            (originals, then edits) paired row by row.
        class_names: The model's classes; the files' labels are matched to
            them with `match_label`.
        text_column: The text column; default: found by name.
        label_column: The label column; default: found by name.
        pair_column: The id column of a one-file set; default: found by name.
        key: What named the files, for messages (`--pairs`, `data.pairs`).

    Returns:
        A `PairSet` named after the file(s).

    Raises:
        textlstm.errors.DataError: a file cannot be read, a column is
            missing, a row is unpaired, a pair's two labels are equal, or a
            label names no class. The message names the file and line.
    """
    paths = [Path(path) for path in paths]
    if len(paths) not in (1, 2):
        raise DataError(
            f"pairs come in one file paired by an id column or two row-aligned "
            f"files, got {len(paths)} files"
        )
    columns = (text_column, label_column, key)
    if len(paths) == 1:
        rows = _read_rows(paths[0], *columns, pair_column=pair_column or "")
        originals, edits = _pair_by_id(rows, paths[0])
        name = paths[0].name
    else:
        originals = _read_rows(paths[0], *columns)
        edits = _read_rows(paths[1], *columns)
        if len(originals) != len(edits):
            raise DataError(
                f"{paths[0]} has {len(originals):,} rows and {paths[1]} has "
                f"{len(edits):,}; row-aligned pair files need the same number"
            )
        name = f"{paths[0].name} + {paths[1].name}"
    return _pair_set(originals, edits, list(map(str, class_names)), name)


def _pair_set(originals, edits, class_names, name) -> PairSet:
    original_labels = np.array(
        [_label_id(row.label, class_names, row.where) for row in originals], np.int64
    )
    edit_labels = np.array(
        [_label_id(row.label, class_names, row.where) for row in edits], np.int64
    )
    for original, edit, a, b in zip(originals, edits, original_labels, edit_labels):
        if a == b:
            raise DataError(
                f"{edit.where}: the edit has the same label as its original "
                f"({original.where}): {class_names[a]!r}; an edit must flip the label"
            )
    return PairSet(
        originals=[row.text for row in originals],
        edits=[row.text for row in edits],
        original_labels=original_labels,
        edit_labels=edit_labels,
        class_names=class_names,
        name=name,
        where=[row.where for row in originals],
    )


def _pair_by_id(rows: list[_Row], path: Path) -> tuple[list[_Row], list[_Row]]:
    groups: dict[str, list[_Row]] = {}
    for row in rows:
        groups.setdefault(row.pair, []).append(row)
    for pair, members in groups.items():
        if len(members) != 2:
            raise DataError(
                f"{members[-1].where}: pair {pair!r} has {len(members)} "
                f"row{'s' if len(members) > 1 else ''}; a pair is 2 rows "
                "(the original, then its edit)"
            )
    return [m[0] for m in groups.values()], [m[1] for m in groups.values()]


def _read_rows(
    path: Path,
    text_column: str | None,
    label_column: str | None,
    key: str,
    pair_column=None,
) -> list[_Row]:
    """Rows of a pair file; `pair_column=""` finds the id column by name."""
    text = decode(read_bytes(path, key), path)
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    fmt = suffixes[-1].lstrip(".") if suffixes else ""
    if fmt == "jsonl":
        records = jsonl_records(text, path)
    elif fmt in ("csv", "tsv"):
        records = _csv_records(text, path, "\t" if fmt == "tsv" else ",")
    else:
        raise DataError(f"{path}: pair files are .csv, .tsv or .jsonl (gzip too)")
    if not records:
        raise DataError(f"{path}: no rows")
    keys = list(records[0][0])
    text_key = _column(keys, text_column, TEXT_COLUMNS, "text", path)
    label_key = _column(keys, label_column, LABEL_COLUMNS, "label", path)
    pair_key = None
    if pair_column is not None:
        pair_key = _column(keys, pair_column or None, PAIR_COLUMNS, "pair id", path)
    rows = []
    for record, where in records:
        for key in filter(None, (text_key, label_key, pair_key)):
            if key not in record:
                raise DataError(f"{where}: no {key!r}")
        label = record[label_key]
        if label is None or str(label).strip() == "":
            raise DataError(f"{where}: empty label")
        pair = None if pair_key is None else str(record[pair_key]).strip()
        rows.append(_Row(str(record[text_key] or ""), label, pair, where))
    return rows


def _column(keys, given, candidates, what: str, path: Path) -> str:
    if given is not None:
        if given not in keys:
            raise DataError(f"{path}: no column {given!r}; columns: {', '.join(keys)}")
        return given
    lowered = {key.lower(): key for key in keys}
    for candidate in candidates:
        if candidate in lowered:
            return lowered[candidate]
    raise DataError(
        f"{path}: no {what} column (looked for {', '.join(candidates)}); "
        f"columns: {', '.join(keys)}"
    )


def _csv_records(text: str, path: Path, delimiter: str) -> list[tuple[dict, str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records, line = [], 1
    try:
        header = [name.strip() for name in next(reader, [])]
        line = reader.line_num + 1
        for fields in reader:
            if fields:
                where = f"{path}: line {line}"
                if len(fields) != len(header):
                    raise DataError(
                        f"{where}: expected {len(header)} fields, found {len(fields)}"
                    )
                records.append((dict(zip(header, fields)), where))
            line = reader.line_num + 1
    except csv.Error as error:
        raise DataError(f"{path}: line {line}: malformed CSV ({error})") from None
    if not header:
        raise DataError(f"{path}: no rows")
    return records


# --------------------------------------------------------------------------- #
# Metrics


def pair_metrics(
    pairs: PairSet, original_probabilities: np.ndarray, edit_probabilities: np.ndarray
) -> dict:
    """How a model's predictions hold on the originals and move on the edits.

    Args:
        pairs: The pairs.
        original_probabilities: The model's probabilities on
            `pairs.originals`, shape `(n, num_classes)`.
        edit_probabilities: The same on `pairs.edits`.

    Returns:
        A JSON-ready dict: `pairs` (the set's name), `num_pairs`,
        `original_accuracy`, `edited_accuracy`, `consistency` (the share of
        pairs with both texts right), `flip_rate` (the share whose
        predicted class differs between the two texts), `mean_shift` (the
        mean gain of the edit's label's probability from original to edit:
        1 for a model that flips with certainty, 0 for one that does not
        move), `originals` and `edits` (each side's
        `classification_metrics`), and `least_moved`: the pairs whose
        prediction moved least towards the edit's label.
    """
    original_probabilities = np.asarray(original_probabilities, np.float64)
    edit_probabilities = np.asarray(edit_probabilities, np.float64)
    rows = np.arange(len(pairs))
    original_right = original_probabilities.argmax(1) == pairs.original_labels
    edit_right = edit_probabilities.argmax(1) == pairs.edit_labels
    flipped = original_probabilities.argmax(1) != edit_probabilities.argmax(1)
    shift = (
        edit_probabilities[rows, pairs.edit_labels]
        - original_probabilities[rows, pairs.edit_labels]
    )
    names = pairs.class_names
    return {
        "pairs": pairs.name,
        "num_pairs": len(pairs),
        "original_accuracy": _share(original_right),
        "edited_accuracy": _share(edit_right),
        "consistency": _share(original_right & edit_right),
        "flip_rate": _share(flipped),
        "mean_shift": round_metric(float(shift.mean())) if len(pairs) else 0.0,
        "originals": classification_metrics(
            pairs.original_labels, original_probabilities, names, split="originals"
        ),
        "edits": classification_metrics(
            pairs.edit_labels, edit_probabilities, names, split="edits"
        ),
        "least_moved": _least_moved(pairs, shift, edit_probabilities),
    }


def _share(mask: np.ndarray) -> float:
    return round_metric(float(mask.mean())) if len(mask) else 0.0


def _least_moved(pairs: PairSet, shift: np.ndarray, edit_probabilities) -> list[dict]:
    shown = []
    for i in np.argsort(shift, kind="stable")[:WORST_SHOWN]:
        shown.append(
            {
                "where": pairs.where[i] if pairs.where else str(i),
                "edit_label": pairs.class_names[pairs.edit_labels[i]],
                "predicted": pairs.class_names[int(edit_probabilities[i].argmax())],
                "shift": round_metric(float(shift[i])),
                "edit": pairs.edits[i],
            }
        )
    return shown


def evaluate_pairs(
    path: str | os.PathLike,
    pair_files: Sequence[str | os.PathLike],
    *,
    batch_size: int = 64,
    **columns,
) -> dict:
    """`pair_metrics` of a run folder's model or an export on a pair file.

    Args:
        path: A run folder (its `model.keras`) or an export (a version
            folder, or a model base for its latest version).
        pair_files: One id-paired file or two row-aligned files, as
            `read_pairs` takes them.
        batch_size: Texts per model call.
        **columns: `text_column`, `label_column`, `pair_column` for
            `read_pairs`.

    Returns:
        The `pair_metrics` dict, plus `model` (the path) and `class_names`.
    """
    from textlstm.evaluation import load_predictor  # heavy: TensorFlow

    predict, class_names = load_predictor(path, batch_size=batch_size)
    pairs = read_pairs(pair_files, class_names, **columns)
    metrics = pair_metrics(pairs, predict(pairs.originals), predict(pairs.edits))
    return {**metrics, "model": str(path), "class_names": class_names}


def save_pair_metrics(run_dir: str | os.PathLike, metrics: dict) -> Path:
    """Write `metrics` to `RUN_DIR/pairs/<pair file name>.json` (atomically).

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> save_pair_metrics(folder, {"pairs": "dev pairs.tsv + b.tsv"}).name
    'dev_pairs.tsv_b.tsv.json'
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", metrics["pairs"]).strip("_") or "pairs"
    return write_json(Path(run_dir) / "pairs" / f"{name}.json", metrics)
