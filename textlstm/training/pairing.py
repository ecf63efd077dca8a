"""The pairwise term of `train.pair_loss`: the two texts of a pair move apart.

A counterfactual pair is an original text and a minimal edit of it with the
other label. Training on both as plain examples teaches each label; the
pairwise term also asks that the *edit* moves the model, as gradient
supervision (Teney et al. 2020) and contrastive counterfactual training
(Kaushik et al. 2021) do. With `z = log p` the model's log-probabilities,
`y_o`, `y_e` the original's and the edit's labels,

```
delta = [z_e(y_e) - z_e(y_o)] - [z_o(y_e) - z_o(y_o)]
pair  = -log sigmoid(delta) = softplus(-delta)
loss  = loss(batch) + train.pair_loss * mean(pair over a batch of pairs)
```

`delta` is how far the edit moved the log-odds towards its own label
(a logit difference: softmax's normalizer cancels). A model that answers
the same for both texts has `delta = 0` and pays `log 2`; one that moves
with the edit pays nearly nothing. The gradient is simple:
`d pair / d delta = -sigmoid(-delta)`.

Each training step takes `train.pair_batch_size` pairs (drawn, shuffled,
from `data.pairs`, repeated for as long as training lasts) beside its
batch; `install(model, weight)`
replaces the compiled classifier's `train_step` (the instance's, so
nothing of it is saved with the model).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from textlstm.robustness.pairs import PairSet

__all__ = [
    "install",
    "pair_batches",
    "pair_term",
    "pairs_for_training",
    "with_pairs",
]

#: Keeps the logs finite where a probability underflows to 0.
_EPSILON = 1e-7


def pair_term(original_probabilities, edit_probabilities, original_labels, edit_labels):
    """The mean of `softplus(-delta)` over a batch of pairs (see the module).

    Args:
        original_probabilities: The model's probabilities on the originals,
            `(pairs, classes)`.
        edit_probabilities: The same on the edits.
        original_labels: Class ids of the originals, `(pairs,)`.
        edit_labels: Class ids of the edits, `(pairs,)`.

    Returns:
        A scalar tensor.

    >>> import numpy as np
    >>> same = np.array([[0.5, 0.5]], np.float32)
    >>> round(float(pair_term(same, same, [1], [0])), 4)   # log 2
    0.6931
    """
    log_o = tf.math.log(tf.clip_by_value(original_probabilities, _EPSILON, 1.0))
    log_e = tf.math.log(tf.clip_by_value(edit_probabilities, _EPSILON, 1.0))
    y_o = tf.cast(original_labels, tf.int32)
    y_e = tf.cast(edit_labels, tf.int32)

    def at(log_p, labels):
        return tf.gather(log_p, labels, axis=1, batch_dims=1)

    delta = (at(log_e, y_e) - at(log_e, y_o)) - (at(log_o, y_e) - at(log_o, y_o))
    return tf.reduce_mean(tf.math.softplus(-delta))


def pair_batches(
    pairs: PairSet, vectorizer, batch_size: int, *, seed: int = 0
) -> tf.data.Dataset:
    """Endless shuffled batches `(original ids, edit ids, y_o, y_e)` of pairs.

    Each batch is cut to its longest text (on the vectorizer's padding
    side), so long `text.sequence_length`s cost only what the pairs need.
    """

    def ids(texts):
        batches = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
        return batches.batch(256).map(vectorizer).unbatch()

    labels = tf.data.Dataset.from_tensor_slices(
        (pairs.original_labels.astype("int64"), pairs.edit_labels.astype("int64"))
    )
    pre = getattr(vectorizer, "padding", "post") == "pre"

    def trim(originals, edits, y_o, y_e):
        width = tf.reduce_max(
            tf.math.count_nonzero(
                tf.concat([originals, edits], 0), axis=1, dtype=tf.int32
            )
        )
        width = tf.maximum(width, 1)
        if pre:
            return originals[:, -width:], edits[:, -width:], y_o, y_e
        return originals[:, :width], edits[:, :width], y_o, y_e

    together = tf.data.Dataset.zip(ids(pairs.originals), ids(pairs.edits), labels)
    return (
        together.map(lambda o, e, y: (o, e, y[0], y[1]))
        .cache()
        .repeat()
        .shuffle(min(len(pairs), 10_000), seed=seed)
        .batch(batch_size)
        .map(trim)
    )


def with_pairs(batches: tf.data.Dataset, pairs: tf.data.Dataset) -> tf.data.Dataset:
    """Training batches `((ids, pair_o, pair_e), (labels, y_o, y_e))`."""
    return tf.data.Dataset.zip(batches, pairs).map(
        lambda batch, pair: ((batch[0], pair[0], pair[1]), (batch[1], pair[2], pair[3]))
    )


def install(model: keras.Model, weight: float) -> None:
    """Train the compiled token-ids `model` with the pairwise term from now on.

    Its training data must be `with_pairs` batches; evaluation and
    prediction are unchanged. The history gains `pair_loss`, the term's
    mean over the epoch (unweighted).

    Args:
        model: A classifier of `textlstm.model.build_classifier`, compiled.
        weight: `train.pair_loss`, > 0.
    """
    tracker = keras.metrics.Mean(name="pair_loss")

    def train_step(data):
        (ids, pair_o, pair_e), (labels, y_o, y_e) = data
        weights = model.trainable_weights
        with tf.GradientTape() as tape:
            y_pred = model(ids, training=True)
            loss = model.compute_loss(x=ids, y=labels, y_pred=y_pred, training=True)
            term = pair_term(
                model(pair_o, training=True), model(pair_e, training=True), y_o, y_e
            )
            scaled = model.optimizer.scale_loss(loss + weight * term)
        gradients = tape.gradient(scaled, weights)
        model.optimizer.apply_gradients(zip(gradients, weights))
        # The "loss" Keras reports stays the classification loss, as with
        # train.adversarial (Keras keeps no public handle on this tracker).
        model._loss_tracker.update_state(loss, sample_weight=tf.shape(ids)[0])
        tracker.update_state(term)
        metrics = model.compute_metrics(ids, labels, y_pred)
        return {**metrics, "pair_loss": tracker.result()}

    reset = model.reset_metrics

    def reset_metrics():
        reset()
        tracker.reset_state()

    model.train_step = train_step
    model.reset_metrics = reset_metrics
    model.train_function = None  # rebuilt with the new step at the next fit


def pairs_for_training(config, data) -> tf.data.Dataset | None:
    """`pair_batches` for `train.pair_loss` (None when off): the pairs of
    `data.pairs` that `data`, a `PreparedData`, holds."""
    train = config["train"]
    if not train["pair_loss"] or data.pairs is None or not len(data.pairs):
        return None
    return pair_batches(
        data.pairs, data.vectorizer, train["pair_batch_size"], seed=train["seed"]
    )
