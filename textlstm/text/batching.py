"""Batches of token ids for training and evaluation, with optional length
bucketing (texts of similar length together, so long texts pad less).

>>> bucket_boundaries(100)
[16, 24, 36, 54, 81]
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["bucket_boundaries", "count_examples", "make_batches"]


def make_batches(
    ds: tf.data.Dataset,
    vectorizer,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int,
    bucketing: bool = False,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Vectorize, cache, shuffle, batch and prefetch `(text, label)` examples.

    Texts are vectorized once (in large batches) and the ids cached in
    memory; each epoch then reshuffles the cached ids (seeded, so the same
    seed gives the same order of batches).

    Args:
        ds: Unbatched `(text, label)` dataset, as in `DatasetBundle`.
        vectorizer: The layer from `build_vectorizer`.
        batch_size: Examples per batch.
        shuffle: Reshuffle every epoch (for training).
        seed: Shuffle seed.
        bucketing: Group texts of similar length into the same batch and trim
            each batch's padding to the bucket edge (`bucket_boundaries`)
            above its longest text. Batches then have shape
            `[batch, L]` with `L <= sequence_length`, so the model's token
            input must accept any length (`shape=(None,)`); with masking the
            predictions are the same.
        drop_remainder: Drop the last batch when it is smaller than
            `batch_size` (static shapes for XLA and TPUs; without bucketing).

    Returns:
        A dataset of `(token_ids int64 [batch, length], label int64 [batch])`.

    Example:

    >>> from textlstm.text import build_vectorizer
    >>> ds = tf.data.Dataset.from_tensor_slices((["good", "bad"], [1, 0]))
    >>> vectorizer = build_vectorizer({"sequence_length": 3}, ds)
    >>> batches = make_batches(ds, vectorizer, 2, shuffle=False, seed=0)
    >>> [(ids.shape, labels.numpy().tolist()) for ids, labels in batches]
    [(TensorShape([2, 3]), [1, 0])]
    """
    size = int(ds.cardinality())
    ids = (
        ds.batch(1024)
        .map(lambda text, label: (vectorizer(text), tf.cast(label, tf.int64)))
        .unbatch()
    )
    if size >= 0:  # unbatch() forgets it; Keras then knows the epoch length
        ids = ids.apply(tf.data.experimental.assert_cardinality(size))
    ids = ids.cache()
    if shuffle:
        buffer = size if size > 0 else 10_000
        ids = ids.shuffle(min(buffer, 50_000), seed=seed, reshuffle_each_iteration=True)
    if bucketing:
        ids = _bucket(ids, batch_size, getattr(vectorizer, "padding", "post"))
    else:
        ids = ids.batch(batch_size, drop_remainder=drop_remainder)
    return ids.prefetch(tf.data.AUTOTUNE)


def bucket_boundaries(sequence_length: int, smallest: int = 16) -> list[int]:
    """Length bucket edges growing by 1.5x up to `sequence_length`.

    Example:

    >>> bucket_boundaries(200)
    [16, 24, 36, 54, 81, 121, 181]
    """
    edges, edge = [], smallest
    while edge < sequence_length:
        edges.append(edge)
        edge = int(edge * 1.5)
    return edges


def _bucket(ids: tf.data.Dataset, batch_size: int, padding: str) -> tf.data.Dataset:
    sequence_length = ids.element_spec[0].shape[-1]
    boundaries = bucket_boundaries(sequence_length)

    def length(token_ids, label):
        return tf.math.count_nonzero(token_ids, dtype=tf.int32)

    # Each batch is cut to the bucket edge above its longest text, not to the
    # text itself: a handful of shapes instead of one per length, so traced
    # functions and XLA-compiled loops are reused across batches.
    edges = tf.constant([*boundaries, sequence_length], tf.int32)

    def trim(token_ids, labels):
        longest = tf.reduce_max(
            tf.math.count_nonzero(token_ids, axis=1, dtype=tf.int32)
        )
        width = tf.gather(edges, tf.searchsorted(edges, [longest])[0])
        if padding == "post":
            return token_ids[:, :width], labels
        return token_ids[:, sequence_length - width :], labels

    return ids.bucket_by_sequence_length(
        length,
        bucket_boundaries=boundaries,
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        no_padding=True,
    ).map(trim)


def count_examples(dataset: tf.data.Dataset) -> int:
    """The number of elements of `dataset` (iterating it if TF cannot tell)."""
    cardinality = int(dataset.cardinality())
    if cardinality >= 0:
        return cardinality
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
