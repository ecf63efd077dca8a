"""Pooling over time: from a sequence layer's steps to one vector per text.

Both layers are mask-aware: padding never changes what they pool. Saved
`.keras` files name them by their registered names, `textlstm>MaskedPooling`
and `textlstm>AttentionPooling`, not by module, so these must not change
(the layers lived in `textlstm.model` before, which still re-exports them).
"""

import keras
from keras import ops


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
