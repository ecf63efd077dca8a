"""The shape of the token ids the exported signatures classify.

The run's vectorizer pads every text to `text.sequence_length` (200 for
`quickstart`), and the recurrent loop then steps through every padded
position: masking makes them exact no-ops, but in the portable graph each
step costs the same 15 µs whether it is padding or not (`docs/export.md`,
"Where the time goes"). So the signatures give the classifier

- portable exports: each text's ids (truncated as the vectorizer
  truncates), left-aligned and padded only to the longest text of the
  batch; `serve_tokens` drops the padding of its input wherever the client
  put it. Masking makes this exact: padding never changes a prediction.
- `--xla` exports: the same, then the width rounded up to a length bucket
  (16, 32, 64, ... up to `sequence_length`) and the batch to a power of
  two, with empty rows. XLA compiles one kernel per input shape (about
  a second each on a small CPU): the buckets bound how many a server
  compiles, whatever the traffic.

Imports TensorFlow: used only while an export is written.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

__all__ = ["Buckets", "classify_compact", "compact_ids", "text_ids"]

#: The batch buckets of `--xla` exports (larger batches: multiples of 512).
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
#: The smallest length bucket; the others double up to the sequence length.
MIN_LENGTH_BUCKET = 16


@dataclasses.dataclass(frozen=True)
class Buckets:
    """The sizes `--xla` exports round each dimension up to.

    A size beyond the largest bucket is rounded up to a multiple of it.

    >>> Buckets.for_length(200).lengths
    (16, 32, 64, 128, 200)
    >>> Buckets.for_length(10).lengths
    (10,)
    """

    lengths: tuple[int, ...]
    batches: tuple[int, ...] = BATCH_BUCKETS

    @classmethod
    def for_length(cls, sequence_length: int) -> Buckets:
        """Lengths 16, 32, 64, ... below `sequence_length`, then it."""
        lengths, size = [], MIN_LENGTH_BUCKET
        while size < sequence_length:
            lengths.append(size)
            size *= 2
        return cls(tuple(lengths) + (int(sequence_length),))

    def to_json(self) -> dict:
        return {"lengths": list(self.lengths), "batches": list(self.batches)}


def _bucket(size, sizes):
    """The first of `sizes` (sorted) >= `size`, else `size` rounded up to a
    multiple of the largest."""
    sizes = tf.constant(sizes, tf.int32)
    index = tf.searchsorted(sizes, tf.reshape(size, [1]), side="left")[0]
    largest = sizes[-1]
    beyond = (size + largest - 1) // largest * largest
    return tf.where(
        index < tf.size(sizes),
        tf.gather(sizes, tf.minimum(index, tf.size(sizes) - 1)),
        beyond,
    )


def _dense(ids: tf.RaggedTensor, buckets: Buckets | None):
    """`(ids [N', W], N)`: the ragged rows left-aligned, padded to the
    longest (at least 1 column), and with `buckets` the width and the
    number of rows rounded up to theirs (empty rows added)."""
    count = tf.cast(ids.nrows(), tf.int32)
    lengths = tf.concat([tf.cast(ids.row_lengths(), tf.int32), [1]], 0)
    width = tf.reduce_max(lengths)  # at least 1 column, even for no rows
    rows = count
    if buckets is not None:
        width = _bucket(width, buckets.lengths)
        rows = _bucket(tf.maximum(count, 1), buckets.batches)
    dense = ids.to_tensor(default_value=0)
    shape = tf.shape(dense, out_type=tf.int32)
    dense = tf.pad(dense, [[0, rows - shape[0]], [0, width - shape[1]]])
    return dense, count


def text_ids(vectorizer, texts, buckets: Buckets | None):
    """`(ids, N)` of a batch of texts: the vectorizer's token ids, truncated
    to its `sequence_length` as it truncates, without its padding."""
    ids = vectorizer.token_ids(texts)
    length = int(vectorizer.sequence_length)
    ids = ids[:, :length] if vectorizer.truncation == "post" else ids[:, -length:]
    return _dense(ids, buckets)


def compact_ids(token_ids, buckets: Buckets | None):
    """`(ids, N)` of a client's `[N, M]` token ids: the padding (id 0)
    dropped wherever it is, the rest left-aligned (no truncation)."""
    token_ids = tf.cast(token_ids, tf.int64)
    return _dense(tf.ragged.boolean_mask(token_ids, token_ids != 0), buckets)


def classify_compact(classify, ids_and_count):
    """`classify(ids)` on the rows of `text_ids` / `compact_ids`, with the
    added empty rows dropped from every output."""
    ids, count = ids_and_count
    return {name: value[:count] for name, value in classify(ids).items()}
