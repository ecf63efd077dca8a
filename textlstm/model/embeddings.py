"""Pretrained word vectors from a local file, as rows of the embedding matrix.

`model.embeddings` names a text file of word vectors: one word and its
values per line, separated by spaces. GloVe files, word2vec's text format
and fastText's `.vec` files (whose first line is `count dimension`) all
read, gzip-compressed or not (recognized by content, not by name). Files
are never downloaded.

The file is streamed line by line and only the vectors of vocabulary
tokens are kept, so memory stays `vocabulary x dimension` however large the
file is. Every line's number of values is checked; the values themselves
are parsed for the first vector and for the words the vocabulary has.

Case: a vocabulary token takes the vector of the same word. A token the
file lacks takes the vector of the file's first word that lowercases to it
(`Paris` for `paris` when the texts are lowercased and the file is cased,
as fastText's and word2vec's are); an exact match always wins.

Rows: id 0 (padding) is zeros; `[UNK]` and the tokens the file lacks keep
the embedding layer's initialization (`PretrainedEmbeddings.initialize`).

This module imports no TensorFlow.

Example:

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "vectors.txt"
>>> _ = path.write_text("film 0.5 -1\\nThe 2 3\\nactor 1 1\\n")
>>> vectors = load_embeddings(path, ["", "[UNK]", "the", "film", "plot"], 2)
>>> vectors.found.tolist(), vectors.num_found, vectors.vocabulary
([False, False, True, True, False], 2, 3)
>>> vectors.vectors[3].tolist()
[0.5, -1.0]
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from textlstm.errors import ConfigError, DataError

__all__ = ["PretrainedEmbeddings", "embeddings_for_config", "load_embeddings"]

_KEY = "model.embeddings"
_UNK = "[UNK]"


@dataclasses.dataclass(eq=False)  # holds arrays: == would be ambiguous
class PretrainedEmbeddings:
    """The vectors a file gave a vocabulary.

    Attributes:
        path: The file read.
        dimension: Values per vector.
        vectors: float32 `(vocabulary size, dimension)`: row `i` is token
            `i`'s vector, zeros where `found[i]` is false.
        found: bool `(vocabulary size,)`: which tokens the file has.
        vocabulary: Tokens that can be found: the vocabulary less padding
            and `[UNK]` (the denominator of `coverage`).
    """

    path: str
    dimension: int
    vectors: np.ndarray
    found: np.ndarray
    vocabulary: int

    @property
    def num_found(self) -> int:
        """Vocabulary tokens the file has a vector for."""
        return int(self.found.sum())

    @property
    def coverage(self) -> float:
        """`num_found / vocabulary` (0 for an empty vocabulary)."""
        return self.num_found / self.vocabulary if self.vocabulary else 0.0

    def initialize(self, weights: np.ndarray) -> np.ndarray:
        """The embedding matrix `weights` with the file's vectors put in.

        Rows of found tokens take their vector, row 0 (padding) becomes
        zeros, the others (`[UNK]`, tokens the file lacks) stay as given.
        """
        weights = np.array(weights, dtype=np.float32)  # a copy
        if weights.shape != self.vectors.shape:
            raise ValueError(
                f"embedding weights of shape {weights.shape}, vectors of "
                f"shape {self.vectors.shape}"
            )
        weights[self.found] = self.vectors[self.found]
        weights[0] = 0.0
        return weights

    def summary(self) -> dict:
        """What run.json records: path, dimension, found, vocabulary, coverage."""
        return {
            "path": self.path,
            "dimension": self.dimension,
            "found": self.num_found,
            "vocabulary": self.vocabulary,
            "coverage": round(self.coverage, 6),
        }

    def describe(self) -> str:
        """One line for the log: how many tokens the file covered."""
        return (
            f"Embeddings: {self.num_found:,} of {self.vocabulary:,} vocabulary "
            f"tokens found in {os.path.basename(self.path)} "
            f"({100 * self.coverage:.1f}%)"
        )


def embeddings_for_config(
    config: Mapping,
    vectorizer,
    *,
    log: Callable[[str], None] | None = None,
) -> PretrainedEmbeddings | None:
    """The vectors of `config["model"]["embeddings"]` for a vectorizer.

    Args:
        config: A resolved config (reads `model.embeddings` and
            `model.embedding_dim`).
        vectorizer: The adapted vectorizer (`vectorizer.get_vocabulary()`).
        log: Called with the coverage line (`PretrainedEmbeddings.describe`).

    Returns:
        A `PretrainedEmbeddings`, or `None` when `model.embeddings` is null.

    Raises:
        DataError, ConfigError: as `load_embeddings`.
    """
    model = config["model"]
    if not model["embeddings"]:
        return None
    if vectorizer is None:
        raise ValueError(f"{_KEY} needs the vectorizer (its vocabulary)")
    embeddings = load_embeddings(
        model["embeddings"], vectorizer.get_vocabulary(), model["embedding_dim"]
    )
    if log is not None:
        log(embeddings.describe())
    return embeddings


def load_embeddings(
    path: str | os.PathLike,
    vocabulary: Sequence[str],
    dimension: int | None = None,
) -> PretrainedEmbeddings:
    """Read the vectors of `vocabulary`'s tokens from a word-vector file.

    Args:
        path: A GloVe, word2vec (text) or fastText `.vec` file, or a
            gzip-compressed one.
        vocabulary: The tokens by id: id 0 padding (`""`), `[UNK]` (id 1),
            then the words (`vectorizer.get_vocabulary()`).
        dimension: The expected dimension (`model.embedding_dim`), or
            `None` to take the file's.

    Returns:
        A `PretrainedEmbeddings`.

    Raises:
        DataError: the file is missing or unreadable, is empty, or has a
            line with the wrong number of values or a value that is not a
            number (naming the file and the line).
        ConfigError: the file's dimension is not `dimension`.
    """
    path = os.fspath(path)
    if path.endswith(".bin"):
        raise DataError(
            f"{path}: word2vec binary files are not supported ({_KEY}); save it "
            "as text (gensim: save_word2vec_format(..., binary=False))"
        )
    special = _special_ids(vocabulary)
    ids = {token: i for i, token in enumerate(vocabulary) if i not in special}
    rows: dict[int, np.ndarray] = {}
    exact: set[int] = set()
    file_dimension = None
    for number, word, fields in _records(path):
        if file_dimension is None:
            file_dimension = len(fields)
            _check_dimension(path, file_dimension, dimension)
            _parse(path, number, fields)
        targets = _targets(word, ids, exact, rows)
        if targets:
            vector = _parse(path, number, fields)
            rows.update((index, vector) for index in targets)
    if file_dimension is None:
        raise DataError(f"{path}: no word vectors in the file ({_KEY})")
    vectors = np.zeros((len(vocabulary), file_dimension), np.float32)
    found = np.zeros(len(vocabulary), bool)
    for index, row in rows.items():
        vectors[index], found[index] = row, True
    return PretrainedEmbeddings(
        path, file_dimension, vectors, found, len(vocabulary) - len(special)
    )


def _targets(word: str, ids: Mapping, exact: set, rows: Mapping) -> list[int]:
    """The token ids a file word gives its vector to (see the module doc).

    Its own token, unless an earlier line had the same word; and the token
    of its lowercase form, unless an earlier line gave that one a vector.
    """
    targets = []
    index = ids.get(word)
    if index is not None and index not in exact:
        exact.add(index)
        targets.append(index)
    lower = ids.get(word.lower())
    if lower is not None and lower not in rows and lower not in targets:
        targets.append(lower)
    return targets


def _special_ids(vocabulary: Sequence[str]) -> set[int]:
    """Padding (id 0) and `[UNK]` (id 1 when present): no file word for them."""
    return {0} | {i for i, token in enumerate(vocabulary[:2]) if token == _UNK}


def _check_dimension(path: str, found: int, expected: int | None) -> None:
    if expected is not None and found != expected:
        raise ConfigError(
            f"{_KEY}: {path} has {found}-dimensional vectors, "
            f"model.embedding_dim is {expected}"
        )


def _records(path: str) -> Iterator[tuple[int, str, list[str]]]:
    """`(line number, word, value strings)` of every vector line.

    Blank lines and a fastText header (`count dimension`) are skipped; a
    line whose number of values differs from the first vector's is an
    error. A word is decoded with replacement characters where it is not
    UTF-8 (no vocabulary token can match it then, and that is all).
    """
    dimension = None
    for number, raw in _lines(path):
        fields = raw.decode("utf-8", errors="replace").rstrip().split(" ")
        if fields == [""]:
            continue
        if dimension is None:
            if number == 1 and len(fields) == 2 and all(map(str.isdigit, fields)):
                dimension = int(fields[1])  # fastText's `count dimension`
                continue
            dimension = len(fields) - 1
            if dimension < 1:
                raise DataError(f"{path}: line {number}: a word without values")
        extra = len(fields) - 1 - dimension
        # Extra fields are a word with spaces in it (GloVe has a few), unless
        # the word would end with a number: then the line has too many values.
        if extra < 0 or (extra > 0 and _is_number(fields[extra])):
            raise DataError(
                f"{path}: line {number}: expected {dimension} values, "
                f"found {len(fields) - 1}"
            )
        yield number, " ".join(fields[: extra + 1]), fields[extra + 1 :]


def _lines(path: str) -> Iterator[tuple[int, bytes]]:
    """The numbered lines of a plain or gzip file, as bytes."""
    try:
        with open(path, "rb") as file:
            compressed = file.read(2) == b"\x1f\x8b"
        opener = gzip.open if compressed else open
        with opener(path, "rb") as file:
            yield from enumerate(file, 1)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found ({_KEY})") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, expected a file ({_KEY})") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataError(f"{path}: damaged gzip file ({error})") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from None


def _parse(path: str, number: int, fields: list[str]) -> np.ndarray:
    try:
        vector = np.array(fields, dtype=np.float32)
    except ValueError:
        bad = next(value for value in fields if not _is_number(value))
        raise DataError(f"{path}: line {number}: not a number: {bad!r}") from None
    if not np.isfinite(vector).all():
        raise DataError(f"{path}: line {number}: a value is not finite")
    return vector


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
