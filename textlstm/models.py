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
from keras import ops

from textlstm import layers as textlstm_layers
from textlstm.errors import RunError

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


@keras.saving.register_keras_serializable(package="textlstm")
class MaskedPooling(keras.layers.Layer):
    """Max or mean over time (or both) that ignores masked (padding) steps.

    A text whose steps are all masked (an empty string) pools to zeros.

    Args:
        mode: `"max"`, `"mean"`, or `"max_mean"`: the max and the mean
            concatenated (`2 * features` outputs).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean tensor `(batch, time)`, `True` on real steps.

    Returns:
        A 2D tensor `(batch, features)` (`2 * features` for `max_mean`).

    Example:

    >>> import numpy as np
    >>> x = np.array([[[1.0], [3.0], [100.0]]], "float32")
    >>> mask = np.array([[True, True, False]])
    >>> MaskedPooling("mean")(x, mask=mask).numpy().tolist()
    [[2.0]]
    >>> MaskedPooling("max")(x, mask=mask).numpy().tolist()
    [[3.0]]
    >>> MaskedPooling("max_mean")(x, mask=mask).numpy().tolist()
    [[3.0, 2.0]]
    """

    def __init__(self, mode: str = "max", **kwargs):
        super().__init__(**kwargs)
        if mode not in ("max", "mean", "max_mean"):
            raise ValueError(f"mode must be 'max', 'mean' or 'max_mean', got {mode!r}")
        self.mode = mode
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        mask = ops.cast(mask, "bool")
        pooled = []
        if self.mode in ("max", "max_mean"):
            lowest = ops.full_like(inputs, float("-inf"))
            top = ops.max(ops.where(ops.expand_dims(mask, -1), inputs, lowest), axis=1)
            any_step = ops.expand_dims(ops.any(mask, axis=1), -1)
            pooled.append(ops.where(any_step, top, ops.zeros_like(top)))
        if self.mode in ("mean", "max_mean"):
            weights = ops.cast(ops.expand_dims(mask, -1), inputs.dtype)
            total = ops.sum(inputs * weights, axis=1)
            count = ops.maximum(ops.sum(weights, axis=1), 1.0)
            pooled.append(total / count)
        return pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        features = input_shape[2]
        if self.mode == "max_mean" and features is not None:
            features *= 2
        return (input_shape[0], features)

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="textlstm")
class AttentionPooling(keras.layers.Layer):
    """Additive attention over time (Bahdanau-style), mask-aware.

    Scores every step with `v · tanh(h W + b)`, takes a softmax over the
    unmasked steps and returns the weighted sum of the steps. A text whose
    steps are all masked pools to zeros.

    Args:
        units: Hidden size of the scorer.
        kernel_initializer: Initializer of `W` and `v`
            (default `"glorot_uniform"`).

    Call arguments:
        inputs: A 3D tensor `(batch, time, features)`.
        mask: Optional boolean tensor `(batch, time)`.
        return_weights: If `True`, also return the attention weights
            `(batch, time)`.

    Returns:
        A 2D tensor `(batch, features)` (and the weights).

    Example:

    >>> import numpy as np
    >>> layer = AttentionPooling(8)
    >>> x = np.random.rand(2, 5, 3).astype("float32")
    >>> pooled, weights = layer(x, mask=np.array([[1, 1, 0, 0, 0]] * 2, bool),
    ...                         return_weights=True)
    >>> tuple(pooled.shape), float(weights[0, 2:].numpy().sum())
    ((2, 3), 0.0)
    """

    def __init__(self, units: int = 64, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def build(self, input_shape):
        features = input_shape[-1]
        self.kernel = self.add_weight(
            name="kernel",
            shape=(features, self.units),
            initializer=self.kernel_initializer,
        )
        self.bias = self.add_weight(
            name="bias", shape=(self.units,), initializer="zeros"
        )
        self.context = self.add_weight(
            name="context", shape=(self.units, 1), initializer=self.kernel_initializer
        )

    def call(self, inputs, mask=None, return_weights=False):
        hidden = ops.tanh(ops.matmul(inputs, self.kernel) + self.bias)
        # Softmax in float32: a large negative logit overflows float16.
        scores = ops.cast(ops.squeeze(ops.matmul(hidden, self.context), -1), "float32")
        if mask is None:
            mask = ops.ones(ops.shape(scores), dtype="bool")
        mask = ops.cast(mask, "bool")
        scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        weights = ops.softmax(scores, axis=-1) * ops.cast(mask, "float32")
        weights = ops.cast(weights, inputs.dtype)
        pooled = ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)
        return (pooled, weights) if return_weights else pooled

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
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
    config: Mapping, vectorizer=None, *, num_classes: int
) -> keras.Model:
    """Build the classifier on token ids described by `config`.

    Args:
        config: A resolved config (`textlstm.config.load_config`); reads the
            `model` section and `text.max_tokens`.
        vectorizer: The fitted vectorizer, if any: its vocabulary size sets
            the embedding size (else `text.max_tokens`).
        num_classes: Number of classes of the softmax output.

    Returns:
        An uncompiled `keras.Model` from int token ids `(batch, time)`
        (0 = padding) to float32 probabilities `(batch, num_classes)`.
    """
    model = config["model"]
    vocabulary_size = _vocabulary_size(vectorizer, config["text"]["max_tokens"])
    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    x = keras.layers.Embedding(
        vocabulary_size, model["embedding_dim"], mask_zero=True, name="embedding"
    )(token_ids)
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
    return keras.Model(token_ids, probabilities, name="classifier")


def build_text_classifier(vectorizer, classifier: keras.Model) -> keras.Model:
    """The end-to-end model on raw strings: `vectorizer` then `classifier`.

    Args:
        vectorizer: A layer from strings `(batch,)` to token ids
            `(batch, time)` (`textlstm.text.build_vectorizer`).
        classifier: The model from `build_classifier`.

    Returns:
        A `keras.Model` from a `(batch,)` string tensor to probabilities;
        `model.get_layer("classifier")` is the token model.
    """
    text = keras.Input(shape=(), dtype="string", name="text")
    probabilities = classifier(vectorizer(text))
    return keras.Model(text, probabilities, name="text_classifier")


def load_text_classifier(path: str | os.PathLike) -> keras.Model:
    """Load a `model.keras` written by `textlstm fit` (file or run folder).

    Raises:
        RunError: the file is there but is no `.keras` archive (damaged).
    """
    import textlstm.text  # noqa: F401  (registers the vectorizer's objects)

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
