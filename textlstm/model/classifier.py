"""Classifiers built from a config: token ids -> class probabilities.

`build_classifier` assembles

```
token ids -> Embedding(mask_zero=True) -> recurrent layers -> pooling
          -> [Dense head] -> Dropout -> Dense softmax
```

from the `model` section of a config. The recurrent layers are this
package's (`model.impl: textlstm`) or the Keras built-ins (`keras`), one or
several stacked, optionally bidirectional. Every step is mask-aware, so
padding (id 0) never changes a prediction. `build_text_classifier` puts the
vectorizer in front, giving the end-to-end model on raw strings that a run
folder saves as `model.keras`.

Example:

>>> import numpy as np
>>> from textlstm.config import load_config
>>> config = load_config(None, ["model.units=4", "model.embedding_dim=4",
...                             "text.max_tokens=50", "model.pooling=attention"])
>>> model = build_classifier(config, num_classes=3)
>>> model(np.array([[5, 7, 9, 0, 0]])).shape
TensorShape([1, 3])
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping

import keras

import textlstm.text  # noqa: F401  (registers the vectorizer's objects for loading)
from textlstm import layers as textlstm_layers
from textlstm.errors import RunError
from textlstm.layers.pooling import AttentionPooling, MaskedPooling
from textlstm.model.embeddings import PretrainedEmbeddings, embeddings_for_config
from textlstm.model.ngrams import MixedProbabilities

__all__ = [
    "AttentionPooling",
    "MaskedPooling",
    "build_classifier",
    "build_text_classifier",
    "load_text_classifier",
    "recurrent_layer",
]

# The sequence layer of each `model.cell` (`impl: textlstm`).
_LAYERS = {
    "lstm": textlstm_layers.LSTM,
    "gru": textlstm_layers.GRU,
    "peephole_lstm": textlstm_layers.PeepholeLSTM,
    "cifg_lstm": textlstm_layers.CIFGLSTM,
    "layernorm_lstm": textlstm_layers.LayerNormLSTM,
    "simple_rnn": textlstm_layers.SimpleRNN,
}
# The Keras built-in of each cell Keras ships (`impl: keras`).
_KERAS_LAYERS = {
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
    "simple_rnn": keras.layers.SimpleRNN,
}


def recurrent_layer(
    model: Mapping, *, return_sequences: bool, name: str | None = None
) -> keras.layers.Layer:
    """One recurrent layer as described by a config's `model` section.

    Args:
        model: The `model` section (`cell`, `impl`, `units`, `dropout`,
            `recurrent_dropout`, `recurrent_l2`, `bidirectional`).
        return_sequences: Return every step, or only the last.
        name: Layer name.

    Returns:
        A `textlstm.layers.LSTM`/`GRU`/`PeepholeLSTM`/`CIFGLSTM`/
        `LayerNormLSTM`/`SimpleRNN`, or a `keras.layers.LSTM`/`GRU`/
        `SimpleRNN` (`impl: keras`), wrapped in
        `keras.layers.Bidirectional` when `model["bidirectional"]`.
    """
    cell, impl = model["cell"], model["impl"]
    options = {
        "dropout": model["dropout"],
        "recurrent_dropout": model["recurrent_dropout"],
    }
    if model["recurrent_l2"]:
        options["recurrent_regularizer"] = keras.regularizers.L2(model["recurrent_l2"])
    if impl == "keras" and cell not in _KERAS_LAYERS:
        raise ValueError(
            f"impl 'keras' supports {', '.join(_KERAS_LAYERS)}, not {cell!r}"
        )
    layer_class = (_KERAS_LAYERS if impl == "keras" else _LAYERS)[cell]
    layer = layer_class(
        model["units"], return_sequences=return_sequences, name=name, **options
    )
    if model["bidirectional"]:
        layer = keras.layers.Bidirectional(layer, name=name and f"bidirectional_{name}")
    return layer


def build_classifier(
    config: Mapping,
    vectorizer=None,
    *,
    num_classes: int,
    embeddings: PretrainedEmbeddings | None = None,
) -> keras.Model:
    """Build the classifier on token ids described by `config`.

    With `model.embeddings` set, the embedding layer starts from the file's
    vectors (`textlstm.model.embeddings`): they become the layer's weights, so
    the saved model needs no file. `model.embeddings_trainable: false`
    freezes the layer (pretrained or not).

    Args:
        config: A resolved config (`textlstm.config.load_config`); reads the
            `model` section and `text.max_tokens`.
        vectorizer: The fitted vectorizer, if any: its vocabulary size sets
            the embedding size (else `text.max_tokens`), and its vocabulary
            picks the pretrained vectors.
        num_classes: Number of classes of the softmax output.
        embeddings: The vectors already read (`embeddings_for_config`);
            default: read `model.embeddings`, if set.

    Returns:
        An uncompiled `keras.Model` from int token ids `(batch, time)`
        (0 = padding) to float32 probabilities `(batch, num_classes)`.

    Raises:
        textlstm.errors.DataError, ConfigError: the embeddings file cannot
            be used (see `textlstm.model.embeddings.load_embeddings`).
    """
    model = config["model"]
    vocabulary_size = _vocabulary_size(vectorizer, config["text"]["max_tokens"])
    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    embedding = keras.layers.Embedding(
        vocabulary_size,
        model["embedding_dim"],
        mask_zero=True,
        trainable=model["embeddings_trainable"],
        name="embedding",
    )
    x = embedding(token_ids)
    if model["embedding_dropout"]:
        x = keras.layers.Dropout(model["embedding_dropout"], name="embedding_dropout")(
            x
        )
    for index in range(model["layers"]):
        last = index == model["layers"] - 1
        x = recurrent_layer(
            model,
            return_sequences=not (last and model["pooling"] == "last"),
            name=f"{model['cell']}_{index + 1}",
        )(x)
    if model["pooling"] in ("max", "mean", "max_mean"):
        x = MaskedPooling(model["pooling"], name=f"{model['pooling']}_pooling")(x)
    elif model["pooling"] == "attention":
        x = AttentionPooling(model["attention_units"], name="attention_pooling")(x)
    if model["head_units"]:
        x = keras.layers.Dense(
            model["head_units"], activation=model["head_activation"], name="head"
        )(x)
    if model["head_dropout"]:
        x = keras.layers.Dropout(model["head_dropout"], name="head_dropout")(x)
    # float32 output even under mixed_float16: stable softmax and loss.
    probabilities = keras.layers.Dense(
        num_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    if embeddings is None:
        embeddings = embeddings_for_config(config, vectorizer)
    if embeddings is not None:
        # After every layer is built, so the other weights draw the same
        # random numbers as without pretrained vectors.
        embedding.set_weights([embeddings.initialize(embedding.get_weights()[0])])
    return keras.Model(token_ids, probabilities, name="classifier")


def build_text_classifier(
    vectorizer,
    classifier: keras.Model,
    *,
    ngrams: keras.Model | None = None,
    weight: float = 0.5,
) -> keras.Model:
    """The end-to-end model on raw strings: `vectorizer` then `classifier`.

    Args:
        vectorizer: A layer from strings `(batch,)` to token ids
            `(batch, time)` (`textlstm.text.build_vectorizer`).
        classifier: The model from `build_classifier`.
        ngrams: An n-gram model on the same token ids
            (`textlstm.model.ngrams.build_ngram_model`), averaged with
            `classifier`: `(1 - weight) * classifier + weight * ngrams`.
        weight: The n-gram model's share (`model.ngram_weight`).

    Returns:
        A `keras.Model` from a `(batch,)` string tensor to probabilities;
        `model.get_layer("classifier")` is the token model (and
        `model.get_layer("ngrams")` the n-gram model, if any).
    """
    text = keras.Input(shape=(), dtype="string", name="text")
    token_ids = vectorizer(text)
    probabilities = classifier(token_ids)
    if ngrams is not None:
        probabilities = MixedProbabilities(weight, name="mixed_probabilities")(
            [probabilities, ngrams(token_ids)]
        )
    return keras.Model(text, probabilities, name="text_classifier")


def load_text_classifier(path: str | os.PathLike) -> keras.Model:
    """Load a `model.keras` written by `textlstm fit` (file or run folder).

    Raises:
        RunError: the file is there but is no `.keras` archive (damaged).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "model.keras")
    if os.path.isfile(path) and not zipfile.is_zipfile(path):
        # Keras would say "File not found" for a file that is there.
        raise RunError(f"{path}: damaged model file (not a .keras zip archive)")
    return keras.models.load_model(path, compile=False)


def _vocabulary_size(vectorizer, default: int) -> int:
    if vectorizer is not None and hasattr(vectorizer, "vocabulary_size"):
        return int(vectorizer.vocabulary_size())
    return int(default)
