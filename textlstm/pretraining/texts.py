"""The texts a language model is pretrained on.

The training split of the config's dataset (`textlstm.data.load_dataset`,
labels ignored; never the validation or test split), plus the optional
unlabeled texts of `pretrain.unlabeled`:

| `pretrain.unlabeled` | texts |
| --- | --- |
| a folder | every `*.txt` file below it, one text each (aclImdb's `train/unsup`) |
| `.txt` file | one text per non-empty line |
| `.csv` / `.tsv` file | the column `pretrain.text_column` (header row) |
| `.jsonl` file | the field `pretrain.text_column` of each object |

Files may be gzip-compressed (`.gz`). A seeded share
(`pretrain.holdout_fraction`) is held out to measure perplexity.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from textlstm import data as data_lib
from textlstm.config import explicit_values
from textlstm.data.files import decode, read_bytes
from textlstm.errors import DataError

__all__ = ["PretrainTexts", "load_pretraining_texts", "read_unlabeled"]

_KEY = "pretrain.unlabeled"


@dataclasses.dataclass
class PretrainTexts:
    """What `load_pretraining_texts` returns.

    Attributes:
        train: The texts to train on.
        holdout: The held-out texts (perplexity).
        fingerprint: A digest of the sources, the split and the texts'
            order: a resumed run must see the same.
        sources: How many texts each source gave (`train_split`,
            `unlabeled`).
    """

    train: list[str]
    holdout: list[str]
    fingerprint: str
    sources: dict


def load_pretraining_texts(config: Mapping) -> PretrainTexts:
    """The training split's texts and `pretrain.unlabeled`'s, shuffled
    (seed `train.seed`) and split into train and holdout.

    Raises:
        DataError: a source cannot be read or gives no text.
    """
    seed = config["train"]["seed"]
    bundle = data_lib.load_dataset(explicit_values(config, "data"), seed=seed)
    texts = [
        value.decode("utf-8", errors="replace")
        for value in bundle.train.map(lambda text, label: text).as_numpy_iterator()
    ]
    pretrain = config["pretrain"]
    digest = bundle.fingerprint
    sources = {"train_split": len(texts), "unlabeled": 0}
    if pretrain["unlabeled"]:
        unlabeled, unlabeled_digest = read_unlabeled(
            Path(pretrain["unlabeled"]), pretrain["text_column"]
        )
        texts += unlabeled
        sources["unlabeled"] = len(unlabeled)
        digest += unlabeled_digest
    if len(texts) < 2:
        raise DataError(f"pretrain: {len(texts)} text, at least 2 are needed")
    order = np.random.default_rng(seed).permutation(len(texts))
    held = max(1, round(pretrain["holdout_fraction"] * len(texts)))
    fingerprint = hashlib.sha256(
        f"{digest}|{pretrain['holdout_fraction']}|{seed}".encode()
    ).hexdigest()[:16]
    return PretrainTexts(
        train=[texts[i] for i in order[held:]],
        holdout=[texts[i] for i in order[:held]],
        fingerprint=fingerprint,
        sources=sources,
    )


def read_unlabeled(path: Path, text_column: str = "text") -> tuple[list[str], str]:
    """The texts of a `pretrain.unlabeled` file or folder and their digest.

    Raises:
        DataError: missing, unreadable, of an unknown kind, or empty; the
            message names the file (and line).
    """
    if path.is_dir():
        files = sorted(path.rglob("*.txt"))
        texts = [decode(read_bytes(file, _KEY), file).strip() for file in files]
        digest = hashlib.sha256()
        for file, value in zip(files, texts):
            digest.update(f"{file.relative_to(path)}\0{value}\0".encode())
        digest = digest.hexdigest()
    else:
        raw = read_bytes(path, _KEY)
        texts = _texts(decode(raw, path), path, text_column)
        digest = hashlib.sha256(raw).hexdigest()
    texts = [value for value in texts if value.strip()]
    if not texts:
        raise DataError(f"{path}: no texts ({_KEY})")
    return texts, digest


def _texts(content: str, path: Path, text_column: str) -> list[str]:
    kind = path.name.removesuffix(".gz").rpartition(".")[2].lower()
    if kind == "txt":
        return content.splitlines()
    if kind in ("csv", "tsv"):
        reader = csv.reader(
            io.StringIO(content, newline=""), delimiter="," if kind == "csv" else "\t"
        )
        header = [name.strip() for name in next(reader, [])]
        if text_column not in header:
            raise DataError(
                f"{path}: no column {text_column!r} (pretrain.text_column); "
                f"columns: {', '.join(header)}"
            )
        at = header.index(text_column)
        return [row[at] for row in reader if len(row) > at]
    if kind == "jsonl":
        return [
            _field(line, number, path, text_column)
            for number, line in enumerate(content.split("\n"), start=1)
            if line.strip()
        ]
    raise DataError(
        f"{path}: {_KEY} must be a .txt, .csv, .tsv or .jsonl file (or .gz of "
        "one) or a folder of .txt files"
    )


def _field(line: str, number: int, path: Path, text_column: str) -> str:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: line {number}: invalid JSON ({error.msg})") from None
    if not isinstance(record, dict) or text_column not in record:
        raise DataError(
            f"{path}: line {number}: no key {text_column!r} (pretrain.text_column)"
        )
    return "" if record[text_column] is None else str(record[text_column])
