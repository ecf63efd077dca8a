"""The next-token language model around a classifier's encoder.

`build_language_model(config, vectorizer)` takes the embedding and the
recurrent layers of the classifier `textlstm.model.build_classifier`
builds for the same config (the same layers, names and shapes, so their
weights move to a classifier one to one), and puts a softmax over the
vocabulary on every step: token `t + 1` is predicted from tokens `0..t`.

Training uses the sampled softmax (`tf.nn.sampled_softmax_loss`), whose
cost grows with `pretrain.num_sampled`, not the vocabulary; the negatives
are drawn from the log-uniform (Zipf) distribution that suits a vocabulary
sorted by frequency, with stateless ops keyed by the seed and the step, so
a resumed run draws the same ones. Evaluation (held-out loss and
perplexity) uses the full softmax. TensorFlow backend only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf

from textlstm import model as models
from textlstm.model.transfer import encoder_layer_names

__all__ = ["LanguageModel", "build_language_model", "log_uniform_candidates"]


def build_language_model(
    config: Mapping, vectorizer, *, embeddings=None
) -> LanguageModel:
    """The language model on the encoder of `config`'s classifier.

    Args:
        config: A resolved config: `model` (the encoder), `pretrain`
            (`num_sampled`, `embedding_dropout`) and `train.seed` (the
            sampler's seed).
        vectorizer: The adapted vectorizer (sets the vocabulary size).
        embeddings: Pretrained word vectors to start the embedding from
            (`textlstm.model.embeddings.embeddings_for_config`), or None.

    Returns:
        A built, uncompiled `LanguageModel`.
    """
    # Every recurrent layer returns sequences unless the last one feeds
    # `pooling: last`; any other pooling keeps the layers as they are.
    model = {**config["model"], "pooling": "mean", "head_units": 0}
    if config["pretrain"]["embedding_dropout"] is not None:
        model["embedding_dropout"] = config["pretrain"]["embedding_dropout"]
    classifier = models.build_classifier(
        {**config, "model": model}, vectorizer, num_classes=2, embeddings=embeddings
    )
    last = encoder_layer_names(model)[-1]
    encoder = keras.Model(
        classifier.input, classifier.get_layer(last).output, name="encoder"
    )
    language_model = LanguageModel(
        encoder,
        vocabulary_size=int(vectorizer.vocabulary_size()),
        num_sampled=config["pretrain"]["num_sampled"],
        seed=config["train"]["seed"],
    )
    language_model(np.zeros((1, 2), "int64"))  # creates every variable
    return language_model


def log_uniform_candidates(
    targets: tf.Tensor, num_sampled: int, range_max: int, seed: tf.Tensor
):
    """Negatives for `tf.nn.sampled_softmax_loss`, drawn without state.

    The same distribution as `tf.random.log_uniform_candidate_sampler` with
    `unique=False`: `P(k) = log((k + 2) / (k + 1)) / log(range_max + 1)`,
    but from `tf.random.stateless_uniform`, so the draw depends only on
    `seed` (shape `[2]`).

    Args:
        targets: `int64 [n]` true classes.
        num_sampled: Negatives to draw (with replacement).
        range_max: The number of classes.
        seed: `int32/int64 [2]`.

    Returns:
        `(sampled, true_expected_count, sampled_expected_count)`, the
        `sampled_values` argument of `tf.nn.sampled_softmax_loss`.
    """
    log_range = math.log(range_max + 1.0)
    uniform = tf.random.stateless_uniform([num_sampled], seed, dtype=tf.float64)
    sampled = tf.cast(tf.floor(tf.exp(uniform * log_range)), tf.int64) - 1
    sampled = tf.clip_by_value(sampled, 0, range_max - 1)

    def expected_count(ids):
        ids = tf.cast(ids, tf.float64)
        probability = (tf.math.log(ids + 2.0) - tf.math.log(ids + 1.0)) / log_range
        return tf.cast(probability * num_sampled, tf.float32)

    return sampled, expected_count(targets[:, tf.newaxis]), expected_count(sampled)


class LanguageModel(keras.Model):
    """An encoder and a softmax over the vocabulary at every step.

    Trained with `fit` on batches of token ids `(ids, anything)`: inputs
    `ids[:, :-1]`, targets `ids[:, 1:]`, padding (id 0) left out of the
    loss. `loss` is the mean sampled-softmax loss per token while training
    and the full-softmax cross-entropy per token in `evaluate`, so
    `exp(val_loss)` is the perplexity. TensorFlow backend only.

    Args:
        encoder: A model from token ids `(batch, time)` to features
            `(batch, time, units)`.
        vocabulary_size: Classes of the softmax.
        num_sampled: Negatives of the sampled softmax per batch (at most
            the vocabulary size).
        seed: Seed of the negatives.
        **kwargs: `keras.Model` arguments (`name`).

    Call arguments:
        inputs: `int64 (batch, time)` token ids.

    Returns:
        The encoder's features `(batch, time, units)`.
    """

    def __init__(self, encoder, vocabulary_size, num_sampled, seed, **kwargs):
        super().__init__(name=kwargs.pop("name", "language_model"), **kwargs)
        self.encoder = encoder
        self.vocabulary_size = int(vocabulary_size)
        self.num_sampled = min(int(num_sampled), self.vocabulary_size)
        self.seed = int(seed)
        units = encoder.output.shape[-1]
        self.softmax_weights = self.add_weight(
            shape=(self.vocabulary_size, units),
            initializer="glorot_uniform",
            name="softmax_weights",
        )
        self.softmax_biases = self.add_weight(
            shape=(self.vocabulary_size,), initializer="zeros", name="softmax_biases"
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, inputs, training=False):
        return self.encoder(inputs, training=training)

    def _features(self, ids, training: bool):
        """The features at the steps whose next token is not padding."""
        targets = ids[:, 1:]
        features = tf.cast(self(ids[:, :-1], training=training), tf.float32)
        keep = tf.not_equal(targets, 0)
        return tf.boolean_mask(features, keep), tf.boolean_mask(targets, keep)

    def train_step(self, data):
        ids = tf.cast(data[0] if isinstance(data, tuple) else data, tf.int64)
        step = tf.cast(self.optimizer.iterations, tf.int64)
        seed = tf.stack([tf.constant(self.seed, tf.int64), step])
        with tf.GradientTape() as tape:
            features, targets = self._features(ids, training=True)
            losses = tf.nn.sampled_softmax_loss(
                weights=self.softmax_weights,
                biases=self.softmax_biases,
                labels=targets[:, tf.newaxis],
                inputs=features,
                num_sampled=self.num_sampled,
                num_classes=self.vocabulary_size,
                sampled_values=log_uniform_candidates(
                    targets, self.num_sampled, self.vocabulary_size, seed
                ),
            )
            count = tf.cast(tf.size(losses), tf.float32)
            loss = tf.math.divide_no_nan(tf.reduce_sum(losses), count)
            if self.losses:  # model.recurrent_l2
                loss += tf.add_n(self.losses)
        variables = self.trainable_variables
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply(gradients, variables)
        self.loss_tracker.update_state(losses)
        return {"loss": self.loss_tracker.result()}

    def full_softmax_losses(self, features, targets):
        """Exact cross-entropy over the whole vocabulary: the log-sum-exp of
        the logits less the target's logit, taken from its own row of the
        softmax weights (measured ~30% faster here than
        `sparse_softmax_cross_entropy_with_logits`, which also builds the
        softmax itself)."""
        logits = tf.matmul(features, self.softmax_weights, transpose_b=True)
        logits += self.softmax_biases
        target_logits = tf.reduce_sum(
            features * tf.gather(self.softmax_weights, targets), axis=-1
        ) + tf.gather(self.softmax_biases, targets)
        return tf.reduce_logsumexp(logits, axis=-1) - target_logits

    def test_step(self, data):
        ids = tf.cast(data[0] if isinstance(data, tuple) else data, tf.int64)
        features, targets = self._features(ids, training=False)
        self.loss_tracker.update_state(self.full_softmax_losses(features, targets))
        return {"loss": self.loss_tracker.result()}
