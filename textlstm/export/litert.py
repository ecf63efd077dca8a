"""`--target litert`: the classifier as a TensorFlow Lite model on token ids.

Keras 3 LSTMs convert to TensorFlow Lite `WHILE` loops, not to its fused
`UNIDIRECTIONAL_SEQUENCE_LSTM` kernel (tensorflow/tensorflow#126061). The
converter fuses a `tf.function` whose `api_implements` attribute starts
with `lstm_` and whose signature is tf.keras 2's standard LSTM
`(inputs, init_h, init_c, kernel, recurrent_kernel, bias) -> (last_output,
outputs, new_h, new_c, runtime)`, gate order i, f, c, o. So `lite_function`
rebuilds the forward pass of the classifier layer by layer:

```
Embedding                    GATHER
LSTM (textlstm or Keras)     one such function per direction: the fused op
Bidirectional                forward and backward layer, REVERSE_V2 between
GRU, SimpleRNN, variants     the layer itself (its portable loop): WHILE
pooling, Dense               the layers themselves (no mask)
Dropout                      nothing (inference)
```

on `token_ids` int32 `[1, T]` with `T` free: each text runs at its true
length, so there is no padding to mask (the fused op takes no mask) and the
results equal the Keras model's. The converter writes a cell clip of 10
into every fused op, which Keras does not have: `unclipped` sets it to 0
(none) in the flatbuffer, and `cell_state_peaks` measures how far each
LSTM's cell state goes (past 10 is common: 40 on the IMDB LM preset). Only
TensorFlow Lite builtin ops are allowed (no Flex ops).

Imports TensorFlow: used only while an export is written.
"""

from __future__ import annotations

import uuid

import keras
import numpy as np
import tensorflow as tf

from textlstm.errors import ExportError
from textlstm.layers import LSTM as TextlstmLSTM
from textlstm.layers.fast.compile import fast_path_options

__all__ = [
    "CELL_CLIP",
    "FUSED_LSTM_OP",
    "cell_clips",
    "cell_state_peaks",
    "convert",
    "empty_text_probabilities",
    "fusable",
    "fused_lstm_count",
    "lite_function",
    "unclipped",
]

#: The op the converter fuses each LSTM direction into.
FUSED_LSTM_OP = "UNIDIRECTIONAL_SEQUENCE_LSTM"
#: The cell clip the converter sets on every fused LSTM (`unclipped`
#: removes it).
CELL_CLIP = 10.0

_LSTMS = (TextlstmLSTM, keras.layers.LSTM)
_SKIPPED = (keras.layers.InputLayer, keras.layers.Dropout)
_MERGES = {
    "concat": lambda a, b: tf.concat([a, b], -1),
    "sum": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "ave": lambda a, b: (a + b) / 2,
}


def fused_lstm_count(classifier) -> int:
    """How many fused LSTM ops the model of `classifier` has (one per
    fusable LSTM layer and direction)."""
    count = 0
    for layer in classifier.layers:
        if isinstance(layer, keras.layers.Bidirectional):
            directions = (layer.forward_layer, layer.backward_layer)
        else:
            directions = (layer,)
        count += sum(fusable(direction) for direction in directions)
    return count


def fusable(layer) -> bool:
    """A standard LSTM (tanh, sigmoid gates, no peepholes) of either impl."""
    if type(layer) not in _LSTMS:
        return False
    cell = layer.cell
    return (
        cell.activation is keras.activations.tanh
        and cell.recurrent_activation is keras.activations.sigmoid
        and not getattr(layer, "stateful", False)
    )


def _recurrence(inputs, h0, c0, kernel, recurrent_kernel, bias):
    """The standard LSTM (gates i, f, c, o) on batch-major `inputs`:
    the carried `(hs, cs)` of every step, time-major."""
    xw = tf.einsum("btf,fg->tbg", inputs, kernel) + bias

    def step(carry, x):
        h, c = carry
        i, f, g, o = tf.split(x + tf.matmul(h, recurrent_kernel), 4, -1)
        c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        return tf.sigmoid(o) * tf.tanh(c), c

    return tf.scan(step, xw, (h0, c0))


def _standard_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
    """tf.keras 2's standard LSTM, batch-major; the converter replaces the
    whole function by the fused op, TensorFlow runs this body."""
    hs, cs = _recurrence(inputs, init_h, init_c, kernel, recurrent_kernel, bias)
    outputs = tf.transpose(hs, [1, 0, 2])
    return outputs[:, -1], outputs, hs[-1], cs[-1], tf.constant(0.0)


def _lstm_function():
    """A new fused-LSTM function (one per layer and direction: the
    converter fuses each `api_implements` value once)."""
    return tf.function(
        _standard_lstm,
        autograph=False,
        experimental_attributes={
            "api_implements": f"lstm_{uuid.uuid4()}",
            "api_preferred_device": "CPU",
            "time_major": False,
            "go_backwards": False,
        },
    )


def _weights(layer):
    cell = layer.cell
    bias = cell.bias if cell.use_bias else tf.zeros([4 * cell.units])
    # Tensors, not variables: the fused op needs constant weights.
    return [tf.identity(w) for w in (cell.kernel, cell.recurrent_kernel, bias)]


def _direction(layer, x, peaks=None):
    """One LSTM or other recurrent layer on `x [1, T, F]`, as the layer
    would return it (`go_backwards`: the steps in reverse order)."""
    if not fusable(layer):
        return _step_by_step(layer, x)
    if layer.go_backwards:
        x = tf.reverse(x, [1])
    zeros = tf.zeros([tf.shape(x)[0], layer.cell.units], x.dtype)
    weights = _weights(layer)
    if peaks is not None:
        peaks.append(_peak(x, zeros, *weights))
    last, outputs, _, _, _ = _lstm_function()(x, zeros, zeros, *weights)
    return outputs if layer.return_sequences else last


def _step_by_step(layer, x):
    """`layer(x)` through Keras' cell-by-cell loop: this package's fast
    loops are traced for any shape, and the converter cannot lower their
    `TensorArray`s of unknown element shape to builtin ops."""
    fast = getattr(layer, "fast_path", None)
    if fast is not None:
        layer.fast_path = False
    try:
        return layer(x, training=False)
    finally:
        if fast is not None:
            layer.fast_path = fast


def _peak(inputs, zeros, kernel, recurrent_kernel, bias):
    """The largest |cell state| of the standard LSTM on `inputs`."""
    _, cs = _recurrence(inputs, zeros, zeros, kernel, recurrent_kernel, bias)
    return tf.reduce_max(tf.abs(cs))


def _recurrent(layer, x, peaks=None):
    if not isinstance(layer, keras.layers.Bidirectional):
        return _direction(layer, x, peaks)
    forward = _direction(layer.forward_layer, x, peaks)
    backward = _direction(layer.backward_layer, x, peaks)
    if layer.return_sequences:
        backward = tf.reverse(backward, [1])
    if layer.merge_mode not in _MERGES:
        raise ExportError(
            f"litert: Bidirectional merge_mode {layer.merge_mode!r} is not one of "
            f"{', '.join(_MERGES)}"
        )
    return _MERGES[layer.merge_mode](forward, backward)


def _forward(classifier, token_ids, peaks=None):
    """The classifier's layers in order on `[1, T]` ids without padding."""
    x = None
    for layer in classifier.layers:
        if isinstance(layer, _SKIPPED):
            continue
        if isinstance(layer, keras.layers.Embedding):
            x = tf.gather(tf.identity(layer.embeddings), token_ids)
        elif isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional)):
            x = _recurrent(layer, x, peaks)
        elif x is None:
            raise ExportError("litert: the classifier does not start with an Embedding")
        else:
            x = layer(x, training=False)
    return tf.cast(x, tf.float32)


def _constant_weights(variables, values):
    """While tracing in this block, every weight of `classifier` reads as a
    constant: the converter needs constant weights to fuse the LSTMs, and
    variables read inside Keras' loops would stay variables (a WHILE body
    reading a resource fails in LiteRT). Freezing the graph afterwards
    would inline the functions the converter fuses."""
    return keras.StatelessScope(
        state_mapping=[
            (variable, tf.constant(value)) for variable, value in zip(variables, values)
        ]
    )


def lite_function(classifier):
    """`token_ids int32 [1, T] -> {"probabilities": float32 [1, C]}`, the
    function the converter turns into `model.tflite` (see the module
    docstring). `T` >= 1, and no id is 0 (padding)."""
    variables = list(classifier.variables)
    values = [np.asarray(variable.numpy()) for variable in variables]

    @tf.function(
        input_signature=[tf.TensorSpec([1, None], tf.int32, "token_ids")],
        autograph=False,
    )
    def classify(token_ids):
        with _constant_weights(variables, values):
            probabilities = _forward(classifier, tf.cast(token_ids, tf.int64))
        return {"probabilities": probabilities}

    return classify


def cell_state_peaks(classifier, rows) -> list[float]:
    """The largest |cell state| of each fused LSTM (layer and direction, in
    order) over the texts `rows` (lists of token ids without padding)."""
    peaks = None

    @tf.function(input_signature=[tf.TensorSpec([1, None], tf.int64)], autograph=False)
    def measure(token_ids):
        found = []
        _forward(classifier, token_ids, found)
        return found

    for row in rows:
        if not row:
            continue
        with fast_path_options(xla=False):
            found = [float(p) for p in measure(tf.constant([row], tf.int64))]
        peaks = found if peaks is None else [max(a, b) for a, b in zip(peaks, found)]
    return peaks or []


def convert(classifier, *, quantize: str | None = None) -> bytes:
    """The `.tflite` flatbuffer of `lite_function(classifier)`.

    Args:
        classifier: The run's token classifier.
        quantize: `None` (float32) or `"dynamic"` (dynamic-range: int8
            weights, float activations).

    Raises:
        ExportError: a layer the converter cannot take with builtin ops.
    """
    function = lite_function(classifier)
    module = tf.Module(name="textlstm_litert")
    module.model_variables = list(classifier.variables)
    with fast_path_options(xla=False):
        concrete = function.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize is not None:
        raise ExportError(f"quantize: {quantize!r} is not one of dynamic")
    try:
        return unclipped(converter.convert())
    except Exception as error:  # the converter raises many kinds
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise ExportError(
            f"litert: TensorFlow Lite could not convert the model with builtin ops "
            f"only ({type(error).__name__}: {first[:300]})"
        ) from None


def _fused_lstm_options(model):
    """The `UnidirectionalSequenceLSTMOptions` of every fused LSTM of a
    model object (`flatbuffer_utils.convert_bytearray_to_object`)."""
    from tensorflow.lite.python import schema_py_generated as schema

    fused = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
    for subgraph in model.subgraphs:
        for operator in subgraph.operators:
            code = model.operatorCodes[operator.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) == fused:
                yield operator.builtinOptions


def unclipped(flatbuffer: bytes) -> bytes:
    """`flatbuffer` with the cell clip of every fused LSTM set to 0 (none).

    The converter writes `cell_clip: 10` into each fused op although Keras
    never clips: a cell state past 10 (40 on the IMDB language-model
    preset) then gave other answers. The kernel clips only when the value
    is above 0, so 0 runs the LSTM as Keras does.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    for options in _fused_lstm_options(model):
        options.cellClip = 0.0
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def cell_clips(flatbuffer: bytes) -> list[float]:
    """The cell clip of each fused LSTM of a `.tflite` model (0: none)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    return [float(options.cellClip) for options in _fused_lstm_options(model)]


def empty_text_probabilities(classifier) -> list[float]:
    """The classifier's probabilities for a text with no token (all
    padding): the LiteRT model needs at least one token, so its predictor
    answers such texts with these, computed by the Keras model."""
    ids = np.zeros((1, 1), np.int64)
    return np.asarray(classifier(ids, training=False))[0].astype(float).tolist()
