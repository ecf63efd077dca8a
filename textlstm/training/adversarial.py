"""Adversarial training on the embedding outputs (Miyato et al., 2017).

`train.adversarial: EPSILON` trains the classifier on each batch twice: on
the texts, and on the texts with their embedding outputs moved a small
step in the direction that raises the loss most,

```
g     = d loss(e) / d e                      (e: the embedding outputs)
r_adv = epsilon * ||e|| * g / ||g||          (norms per text, real tokens)
loss  = loss(e) + loss(e + stop_gradient(r_adv))
```

so the model learns to give the same answer for texts whose words mean
nearly the same. The step is measured relative to the text's own embedding
norm (`epsilon = 0.02`: 2% of it), which makes it independent of how large
the embedding vectors grow: Miyato et al. normalize the embeddings instead,
for the same reason. On IMDB with an LM-pretrained LSTM they measured
7.33% -> 6.21% test error; `docs/performance.md` has what it gives here.

One step costs two forward and two backward passes. `install(model,
epsilon)` replaces the compiled classifier's `train_step` (the instance's,
so nothing of it is saved with the model); evaluation and prediction are
unchanged.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from textlstm.model.forward import AfterEmbedding

__all__ = ["adversarial_perturbation", "install"]

#: Keeps the direction finite where a text's gradient is 0.
_TINY = 1e-12


def adversarial_perturbation(gradient, embedded, mask, epsilon: float) -> tf.Tensor:
    """`epsilon * ||e|| * g / ||g||` per text, 0 at padded steps.

    Args:
        gradient: d loss / d embedded, `(batch, time, dim)`.
        embedded: The embedding outputs `e`, `(batch, time, dim)`.
        mask: `(batch, time)` booleans, true at real tokens.
        epsilon: The step's norm as a fraction of `||e||`.

    Returns:
        The perturbation, `(batch, time, dim)`, with no gradient.
    """
    keep = tf.cast(mask, embedded.dtype)[:, :, None]
    gradient = tf.convert_to_tensor(gradient) * keep
    size = tf.sqrt(
        tf.reduce_sum(tf.square(embedded * keep), axis=[1, 2], keepdims=True)
    )
    steepness = tf.sqrt(tf.reduce_sum(tf.square(gradient), axis=[1, 2], keepdims=True))
    return tf.stop_gradient(epsilon * size * gradient / (steepness + _TINY))


def install(model: keras.Model, epsilon: float) -> None:
    """Train the compiled token-ids `model` adversarially from now on.

    Args:
        model: A classifier of `textlstm.model.build_classifier`, compiled
            (its loss, optimizer and metrics are used as they are).
        epsilon: > 0, the step relative to each text's embedding norm.
    """
    after = AfterEmbedding(model)

    def train_step(data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        ids = tf.convert_to_tensor(x)
        mask = tf.not_equal(ids, 0)
        weights = model.trainable_weights

        def loss_of(shift=None):
            embedded = after.embedding(ids)
            moved = embedded if shift is None else embedded + shift
            y_pred = after(moved, mask, training=True).probabilities
            loss = model.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            # Scaled under mixed precision (LossScaleOptimizer), else as is.
            return embedded, y_pred, loss, model.optimizer.scale_loss(loss)

        with tf.GradientTape() as tape:
            embedded, y_pred, loss, scaled = loss_of()
        *gradients, direction = tape.gradient(scaled, [*weights, embedded])
        shift = adversarial_perturbation(direction, embedded, mask, epsilon)
        with tf.GradientTape() as tape:
            *_, adversarial_loss = loss_of(shift)
        gradients = [
            _add(a, b)
            for a, b in zip(gradients, tape.gradient(adversarial_loss, weights))
        ]
        # The "loss" Keras reports is the clean loss, as in its own step
        # (Keras keeps no public handle on this tracker).
        model._loss_tracker.update_state(loss, sample_weight=tf.shape(ids)[0])
        model.optimizer.apply_gradients(zip(gradients, weights))
        return model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    model.train_step = train_step
    model.train_function = None  # rebuilt with the new step at the next fit


def _add(a, b):
    """a + b for gradients that may be `tf.IndexedSlices` (embedding rows)."""
    if a is None or b is None:
        return b if a is None else a
    if isinstance(a, tf.IndexedSlices) and isinstance(b, tf.IndexedSlices):
        return tf.IndexedSlices(
            tf.concat([a.values, b.values], 0),
            tf.concat([a.indices, b.indices], 0),
            a.dense_shape,
        )
    return tf.convert_to_tensor(a) + tf.convert_to_tensor(b)
