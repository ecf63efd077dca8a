"""Readers for the file sources: csv / tsv / jsonl files and aclImdb folders.

Each reader returns raw rows `(text, raw_label, where)`, `where` naming the
file and line for error messages. Files may be gzip-compressed (`.gz`).
Every problem becomes a one-line `DataError`.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
from pathlib import Path

from textlstm.errors import DataError

Row = tuple[str, object, str]


def read_bytes(path: Path, key: str) -> bytes:
    """The bytes of a file (gunzipped for `.gz`); `DataError` if unreadable."""
    if not path.exists():
        raise DataError(f"{path}: file not found ({key})")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a file ({key})")
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot read ({error})") from None


def decode(raw: bytes, path: Path) -> str:
    """UTF-8 text (a leading BOM dropped); `DataError` with line on bad bytes.

    Example:

    >>> decode(b"ok\\n\\xff", Path("a.txt"))
    Traceback (most recent call last):
    ...
    textlstm.errors.DataError: a.txt: line 2: not valid UTF-8 (byte 0xff at column 1)
    """
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise DataError(
            f"{path}: line {line}: not valid UTF-8 "
            f"(byte 0x{raw[error.start]:02x} at column {column})"
        ) from None


def read_table_file(
    path: Path, fmt: str, text_column: str, label_column: str, key: str, delimiter=None
) -> tuple[list[Row], str]:
    """Rows of a csv/tsv/jsonl file and the sha256 of its bytes.

    Args:
        path: The file.
        fmt: `"csv"`, `"tsv"` or `"jsonl"`.
        text_column: Name of the text column / key.
        label_column: Name of the label column / key.
        key: The config key that named the file, for messages.
        delimiter: Field separator for csv/tsv (default `,` / tab).

    Returns:
        `(rows, digest)`.
    """
    raw = read_bytes(path, key)
    text = decode(raw, path)
    if fmt == "jsonl":
        rows = _jsonl_rows(text, path, text_column, label_column)
    else:
        separator = delimiter or ("\t" if fmt == "tsv" else ",")
        rows = _csv_rows(text, path, separator, text_column, label_column)
    if not rows:
        raise DataError(f"{path}: no examples ({key})")
    return rows, hashlib.sha256(raw).hexdigest()


def _csv_rows(
    text: str, path: Path, delimiter: str, text_column: str, label_column: str
) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[Row] = []
    line = 1
    try:
        header = next(reader, None)
        if header is None:
            return rows
        columns = [name.strip() for name in header]
        text_at = _column(columns, text_column, "text_column", path)
        label_at = _column(columns, label_column, "label_column", path)
        line = reader.line_num + 1
        for record in reader:
            if record:  # blank lines are skipped
                if len(record) != len(columns):
                    raise DataError(
                        f"{path}: line {line}: expected {len(columns)} fields, "
                        f"found {len(record)}"
                    )
                label = record[label_at].strip()
                if not label:
                    raise DataError(f"{path}: line {line}: empty label")
                rows.append((record[text_at], label, f"{path}: line {line}"))
            line = reader.line_num + 1
    except csv.Error as error:
        raise DataError(f"{path}: line {line}: malformed CSV ({error})") from None
    return rows


def _column(columns: list[str], name: str, key: str, path: Path) -> int:
    if name not in columns:
        raise DataError(
            f"{path}: no column {name!r} (data.{key}); columns: {', '.join(columns)}"
        )
    return columns.index(name)


def jsonl_records(text: str, path: Path) -> list[tuple[dict, str]]:
    """The JSON objects of a JSONL text, each with its `file: line N`;
    blank lines skipped; `DataError` naming the line otherwise."""
    records = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}: line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(
                f"{where}: invalid JSON ({error.msg} at column {error.colno})"
            ) from None
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object")
        records.append((record, where))
    return records


def _jsonl_rows(
    text: str, path: Path, text_column: str, label_column: str
) -> list[Row]:
    rows: list[Row] = []
    for record, where in jsonl_records(text, path):
        for name, key in ((text_column, "text_column"), (label_column, "label_column")):
            if name not in record:
                raise DataError(f"{where}: no key {name!r} (data.{key})")
        value, label = record[text_column], record[label_column]
        if label is None or label == "" or isinstance(label, (list, dict)):
            raise DataError(f"{where}: bad label {label!r}")
        rows.append(("" if value is None else str(value), label, where))
    return rows


def read_class_folders(
    folder: Path, class_names: list[str]
) -> tuple[list[Row], hashlib._Hash]:
    """Rows of `folder/<class_name>/*.txt`, the class name as raw label.

    Returns:
        `(rows, digest)`: rows sorted by class then file name, and the running
        sha256 over the relative paths and bytes of the files.
    """
    digest = hashlib.sha256()
    rows: list[Row] = []
    for name in class_names:
        class_folder = folder / name
        if not class_folder.is_dir():
            raise DataError(f"{class_folder}: class folder not found")
        for path in sorted(class_folder.glob("*.txt")):
            raw = read_bytes(path, "data.path")
            digest.update(f"{folder.name}/{name}/{path.name}\0".encode())
            digest.update(raw)
            rows.append((decode(raw, path), name, str(path)))
    if not rows:
        raise DataError(
            f"{folder}: no examples (no .txt files in {', '.join(class_names)})"
        )
    return rows, digest


def class_folders(root: Path, splits: list[Path]) -> list[str]:
    """Class names: sub-folders present in every split folder, sorted.

    aclImdb's `train/unsup` (unlabelled, absent from `test/`) is thus left
    out without special-casing it.
    """
    common = None
    for split in splits:
        names = {entry.name for entry in split.iterdir() if entry.is_dir()}
        common = names if common is None else common & names
    if not common:
        listed = ", ".join(os.fspath(split.name) for split in splits)
        raise DataError(f"{root}: no class folders common to {listed} (data.path)")
    return sorted(common)
