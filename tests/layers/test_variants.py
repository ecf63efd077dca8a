"""The LSTM variants against plain NumPy references of their equations."""

import keras
import numpy as np
import pytest

from tests.layers.parity import TOLERANCE, random_inputs
from textlstm import layers as tl

BATCH, TIME, FEATURES, UNITS = 3, 6, 5, 4


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def layer_norm(a, gamma, beta=0.0, blocks=1, epsilon=1e-3):
    parts = a.reshape(a.shape[0], blocks, -1)
    mean = parts.mean(-1, keepdims=True)
    var = parts.var(-1, keepdims=True)
    normed = ((parts - mean) / np.sqrt(var + epsilon)).reshape(a.shape)
    return normed * gamma + beta


def peephole_reference(x, w):
    kernel, recurrent, bias, p_i, p_f, p_o = w
    h = c = np.zeros((x.shape[0], UNITS), "float64")
    outputs = []
    for t in range(x.shape[1]):
        a = x[:, t] @ kernel + h @ recurrent + bias
        a_i, a_f, a_c, a_o = np.split(a, 4, axis=-1)
        i = sigmoid(a_i + p_i * c)
        f = sigmoid(a_f + p_f * c)
        c = f * c + i * np.tanh(a_c)
        o = sigmoid(a_o + p_o * c)
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, 1), h, c


def layernorm_reference(x, w, epsilon=1e-3):
    kernel, recurrent, bias, g_x, g_h, g_c, b_c = w
    h = c = np.zeros((x.shape[0], UNITS), "float64")
    outputs = []
    for t in range(x.shape[1]):
        a = (
            layer_norm(x[:, t] @ kernel, g_x, blocks=4, epsilon=epsilon)
            + layer_norm(h @ recurrent, g_h, blocks=4, epsilon=epsilon)
            + bias
        )
        a_i, a_f, a_c, a_o = np.split(a, 4, axis=-1)
        c = sigmoid(a_f) * c + sigmoid(a_i) * np.tanh(a_c)
        h = sigmoid(a_o) * np.tanh(layer_norm(c, g_c, b_c, epsilon=epsilon))
        outputs.append(h)
    return np.stack(outputs, 1), h, c


def cifg_reference(x, w):
    kernel, recurrent, bias = w
    h = c = np.zeros((x.shape[0], UNITS), "float64")
    outputs = []
    for t in range(x.shape[1]):
        a_f, a_c, a_o = np.split(x[:, t] @ kernel + h @ recurrent + bias, 3, axis=-1)
        f = sigmoid(a_f)
        c = f * c + (1 - f) * np.tanh(a_c)
        h = sigmoid(a_o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, 1), h, c


VARIANTS = {
    "peephole": (tl.PeepholeLSTMCell, {}, peephole_reference),
    "layernorm": (tl.LayerNormLSTMCell, {}, layernorm_reference),
    "cifg": (tl.CIFGLSTMCell, {}, cifg_reference),
}


def randomized(cell, seed):
    """Give every weight (biases, gains, peepholes too) random values."""
    weights = [
        random_inputs(tuple(w.shape), seed=seed + k) for k, w in enumerate(cell.weights)
    ]
    cell.set_weights(weights)
    return [w.astype("float64") for w in weights]


@pytest.mark.parametrize("name", sorted(VARIANTS))
@pytest.mark.parametrize("seed", [0, 1])
def test_variant_matches_numpy_reference(name, seed):
    cls, kwargs, reference = VARIANTS[name]
    cell = cls(UNITS, **kwargs)
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    x = random_inputs((BATCH, TIME, FEATURES), seed=seed)
    rnn(x)
    weights = randomized(cell, seed=10 * seed)
    outputs = [keras.ops.convert_to_numpy(o) for o in rnn(x)]
    expected = reference(x.astype("float64"), weights)
    for got, want in zip(outputs, expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=TOLERANCE)


def test_cifg_has_three_quarters_of_lstm_recurrent_weights():
    cifg, lstm = tl.CIFGLSTMCell(8), tl.LSTMCell(8)
    for cell in (cifg, lstm):
        keras.layers.RNN(cell)(random_inputs((2, 3, 5)))
    cifg_count = np.prod(cifg.recurrent_kernel.shape)
    lstm_count = np.prod(lstm.recurrent_kernel.shape)
    assert (cifg_count, lstm_count) == (192, 256)
    assert cifg_count * 4 == lstm_count * 3
    assert tuple(cifg.bias.shape) == (24,)


def test_cifg_forget_bias_is_one_at_init():
    cell = tl.CIFGLSTMCell(2)
    keras.layers.RNN(cell)(random_inputs((1, 2, 3)))
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(cell.bias), [1, 1, 0, 0, 0, 0]
    )


def test_peephole_weight_names():
    cell = tl.PeepholeLSTMCell(3)
    keras.layers.RNN(cell)(random_inputs((1, 2, 3)))
    assert [w.name for w in cell.weights] == [
        "kernel",
        "recurrent_kernel",
        "bias",
        "input_gate_peephole_weights",
        "forget_gate_peephole_weights",
        "output_gate_peephole_weights",
    ]


def test_peephole_with_zero_peepholes_is_an_lstm():
    """With the peephole weights at zero the equations reduce to LSTMCell's."""
    x = random_inputs((BATCH, TIME, FEATURES))
    peephole = keras.layers.RNN(
        tl.PeepholeLSTMCell(UNITS, peephole_initializer="zeros"), return_sequences=True
    )
    lstm = keras.layers.LSTM(UNITS, return_sequences=True)
    lstm(x)
    peephole(x)
    peephole.set_weights(lstm.get_weights() + [np.zeros(UNITS)] * 3)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(peephole(x)),
        keras.ops.convert_to_numpy(lstm(x)),
        rtol=0,
        atol=TOLERANCE,
    )


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_masks_keep_state(name):
    """A masked tail leaves the final state equal to the unpadded sequence's."""
    cls, kwargs, _ = VARIANTS[name]
    rnn = keras.layers.RNN(cls(UNITS, **kwargs), return_state=True)
    x = random_inputs((2, TIME, FEATURES))
    mask = np.array([[True] * 4 + [False] * 2] * 2)
    padded = [keras.ops.convert_to_numpy(o) for o in rnn(x, mask=mask)]
    short = [keras.ops.convert_to_numpy(o) for o in rnn(x[:, :4])]
    for a, b in zip(padded, short):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOLERANCE)
