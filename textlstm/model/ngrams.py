"""A bag-of-n-grams logistic regression, averaged with the network.

On long reviews a linear model of word and word-pair counts is hard to beat
(NBSVM, Wang & Manning 2012), and it errs on other texts than a recurrent
network does: on IMDB, a tf-idf bigram logistic regression (90.6%) averaged
with the pretrained `imdb_lm` classifier (90.8%) scored 91.5%. With
`model.ngram_ensemble: N`, `textlstm fit` trains such a model after the
network and the run's `model.keras` averages the two:

```
p(text) = (1 - w) * network(ids) + w * ngrams(ids),   w = model.ngram_weight
```

`NgramLogits` reads the same token ids as the network (so the exports, the
vocabulary and the standardizer are unchanged): each id is a unigram
feature, each run of 2..N ids a hashed feature (`model.ngram_buckets`
slots after the vocabulary). A text's feature vector is sklearn's
`TfidfVectorizer(sublinear_tf=True)`: `(1 + log count) * idf`, L2-normalized,
with `idf = log((1 + n) / (1 + df)) + 1` from the training split, and 0 for
features seen in fewer than two training texts (`min_df=2`).
`NgramLogits` computes it in the graph (TensorFlow ops), so the SavedModel
needs nothing more than its weights.

Imports TensorFlow.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf

__all__ = [
    "MixedProbabilities",
    "NgramLogits",
    "build_ngram_model",
    "document_frequencies",
    "fit_ngram_model",
]

#: Features seen in fewer training texts get weight 0 (sklearn's min_df).
MIN_DF = 2
#: Adam's rate for the n-gram model: its features are L2-normalized (each
#: about 0.05), so its weights have far to go.
NGRAM_RATE = 0.01
NGRAM_EPOCHS = 8
#: Epochs without a lower validation loss before the n-gram model stops.
NGRAM_PATIENCE = 2
#: A large odd multiplier that spreads an n-gram's ids over the buckets.
_MIX = 2654435761


@keras.saving.register_keras_serializable(package="textlstm")
class NgramLogits(keras.layers.Layer):
    """Class scores of a linear model on sublinear tf-idf n-gram features.

    Args:
        num_classes: Number of classes.
        vocabulary_size: Token ids are `0..vocabulary_size - 1`; 0 is
            padding and never a feature.
        ngrams: Longest n-gram (1: words only).
        buckets: Hash slots of the 2..`ngrams`-grams.

    Call arguments:
        token_ids: int `(batch, time)`, 0 = padding.

    Returns:
        float32 logits `(batch, num_classes)`.

    Weights: `kernel` `(vocabulary_size + buckets, num_classes)`, `bias`,
    and the non-trainable `idf` (`set_idf`).
    """

    def __init__(self, num_classes, vocabulary_size, ngrams=2, buckets=2**20, **kwargs):
        super().__init__(**kwargs)
        if ngrams < 1:
            raise ValueError(f"ngrams must be at least 1, got {ngrams}")
        self.num_classes = int(num_classes)
        self.vocabulary_size = int(vocabulary_size)
        self.ngrams = int(ngrams)
        self.buckets = int(buckets) if ngrams > 1 else 0
        self.num_features = self.vocabulary_size + self.buckets

    def build(self, input_shape=None):
        self.kernel = self.add_weight(
            shape=(self.num_features, self.num_classes),
            initializer="zeros",
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.num_classes,), initializer="zeros", name="bias"
        )
        self.idf = self.add_weight(
            shape=(self.num_features,),
            initializer="ones",
            trainable=False,
            name="idf",
        )

    def set_idf(self, document_counts: np.ndarray, num_documents: int) -> None:
        """Set `idf` from the training split's document frequencies."""
        if not self.built:
            self.build()
        counts = np.asarray(document_counts, np.float64)
        idf = np.log((1.0 + num_documents) / (1.0 + counts)) + 1.0
        idf[counts < MIN_DF] = 0.0
        self.idf.assign(idf.astype(np.float32))

    def features(self, token_ids):
        """The distinct features of each text: `(rows, ids, counts)`, flat."""
        ids = tf.cast(token_ids, tf.int64)
        valid = ids > 0
        columns = [ids]
        masks = [valid]
        for n in range(2, self.ngrams + 1):
            hashed = ids[:, : tf.shape(ids)[1] - n + 1]
            mask = valid[:, : tf.shape(ids)[1] - n + 1]
            for k in range(1, n):
                following = ids[:, k : tf.shape(ids)[1] - n + 1 + k]
                hashed = hashed * self.vocabulary_size + following
                mask = mask & valid[:, k : tf.shape(ids)[1] - n + 1 + k]
            # Low bits of the product: the n-gram's slot (2**63 never reached
            # for a 2-gram; longer ones wrap, which only reshuffles slots).
            slot = tf.math.floormod(
                tf.bitwise.bitwise_and(hashed * _MIX, 0x7FFFFFFFFFFF), self.buckets
            )
            columns.append(self.vocabulary_size + slot)
            masks.append(mask)
        features = tf.concat(columns, axis=1)
        mask = tf.concat(masks, axis=1)
        rows = tf.broadcast_to(
            tf.range(tf.shape(ids, out_type=tf.int64)[0])[:, None], tf.shape(features)
        )
        keys = tf.boolean_mask(rows * self.num_features + features, mask)
        distinct, _, counts = tf.unique_with_counts(keys, out_idx=tf.int64)
        return (
            distinct // self.num_features,
            distinct % self.num_features,
            tf.cast(counts, tf.float32),
        )

    def call(self, token_ids):
        rows, features, counts = self.features(token_ids)
        batch = tf.shape(token_ids)[0]
        values = (1.0 + tf.math.log(counts)) * tf.gather(self.idf, features)
        norms = tf.sqrt(tf.math.unsorted_segment_sum(tf.square(values), rows, batch))
        scores = tf.math.unsorted_segment_sum(
            values[:, None] * tf.gather(self.kernel, features), rows, batch
        )
        return scores / tf.maximum(norms, 1e-12)[:, None] + self.bias

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "vocabulary_size": self.vocabulary_size,
            "ngrams": self.ngrams,
            "buckets": self.buckets or 2**20,
        }


@keras.saving.register_keras_serializable(package="textlstm")
class MixedProbabilities(keras.layers.Layer):
    """`(1 - weight) * first + weight * second` of two probability tensors."""

    def __init__(self, weight: float, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"weight must be in [0, 1], got {weight}")
        self.weight = float(weight)

    def call(self, inputs):
        first, second = inputs
        return (1.0 - self.weight) * first + self.weight * second

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


def build_ngram_model(
    model: Mapping, *, vocabulary_size: int, num_classes: int
) -> keras.Model:
    """The n-gram classifier of a config's `model` section: token ids ->
    probabilities (named `ngrams`; its layer `ngram_logits`)."""
    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    logits = NgramLogits(
        num_classes,
        vocabulary_size,
        ngrams=model["ngram_ensemble"],
        buckets=model["ngram_buckets"],
        name="ngram_logits",
    )(token_ids)
    probabilities = keras.layers.Softmax(dtype="float32", name="ngram_probabilities")(
        logits
    )
    return keras.Model(token_ids, probabilities, name="ngrams")


def document_frequencies(layer: NgramLogits, batches) -> tuple[np.ndarray, int]:
    """How many texts of `batches` (`(ids, label)`) hold each feature, and
    how many texts there are."""
    counts = np.zeros(layer.num_features, np.float64)
    texts = 0
    for ids, _ in batches:
        _, features, _ = layer.features(ids)
        counts += np.bincount(features.numpy(), minlength=layer.num_features)
        texts += int(ids.shape[0])
    return counts, texts


def fit_ngram_model(
    config: Mapping,
    train_batches,
    validation_batches,
    *,
    vocabulary_size: int,
    num_classes: int,
    log: Callable[[str], None] | None = None,
) -> tuple[keras.Model, dict]:
    """Train the n-gram model of `config` on token-id batches.

    Adam at `NGRAM_RATE` for up to `NGRAM_EPOCHS` epochs, keeping the
    weights of the epoch with the lowest validation loss (the training
    loss alone reaches 0 on most text sets: the model has a weight per
    n-gram).

    Returns:
        `(model, report)`: the `ngrams` model and what run.json records
        (features, epochs, best epoch, validation losses, seconds).
    """
    log = log or (lambda message: None)
    started = time.perf_counter()
    keras.utils.set_random_seed(config["train"]["seed"])
    model = build_ngram_model(
        config["model"], vocabulary_size=vocabulary_size, num_classes=num_classes
    )
    layer = model.get_layer("ngram_logits")
    counts, texts = document_frequencies(layer, train_batches)
    layer.set_idf(counts, texts)
    used = int((counts >= MIN_DF).sum())
    log(
        f"n-gram model: {used:,} of {layer.num_features:,} features in at least "
        f"{MIN_DF} of the {texts:,} training texts"
    )
    model.compile(
        optimizer=keras.optimizers.Adam(NGRAM_RATE),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    best, best_loss, best_epoch, losses = None, np.inf, 0, []
    for epoch in range(1, NGRAM_EPOCHS + 1):
        with warnings.catch_warnings():
            # The datasets' lengths are unknown to Keras; their end is expected.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            model.fit(train_batches, epochs=1, verbose=0, shuffle=False)
            loss, accuracy = model.evaluate(validation_batches, verbose=0)
        losses.append(round(float(loss), 5))
        log(
            f"n-gram model epoch {epoch}/{NGRAM_EPOCHS}: validation loss "
            f"{loss:.4f}, accuracy {accuracy:.4f}"
        )
        if loss < best_loss:
            best, best_loss, best_epoch = model.get_weights(), loss, epoch
        elif epoch - best_epoch >= NGRAM_PATIENCE:
            break
    if best is not None:
        model.set_weights(best)
    report = {
        "ngrams": layer.ngrams,
        "features_used": used,
        "features": layer.num_features,
        "best_epoch": best_epoch,
        "validation_loss": losses,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return model, report
