"""gate_activations(): per-timestep gates equal a hand computation."""

import keras
import numpy as np
import pytest

from tests.layers.parity import TOLERANCE, random_inputs
from tests.layers.test_variants import sigmoid
from textlstm import layers as tl


def lstm_gates_reference(x, kernel, recurrent, bias):
    units = recurrent.shape[0]
    h = c = np.zeros((x.shape[0], units))
    gates = {"i": [], "f": [], "o": []}
    for t in range(x.shape[1]):
        a_i, a_f, a_c, a_o = np.split(x[:, t] @ kernel + h @ recurrent + bias, 4, -1)
        i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o)
        c = f * c + i * np.tanh(a_c)
        h = o * np.tanh(c)
        for name, value in zip("ifo", (i, f, o)):
            gates[name].append(value)
    return {k: np.stack(v, 1) for k, v in gates.items()}


def test_lstm_gates_match_reference():
    layer = tl.LSTM(3)
    x = random_inputs((2, 5, 4))
    layer(x)
    gates = tl.gate_activations(layer, x)
    expected = lstm_gates_reference(x, *layer.get_weights())
    assert sorted(gates) == ["f", "i", "o"]
    for name in expected:
        assert gates[name].shape == (2, 5, 3)
        np.testing.assert_allclose(gates[name], expected[name], atol=TOLERANCE)


def test_gru_gates_and_backwards_order():
    layer = tl.GRU(3, go_backwards=True)
    x = random_inputs((2, 5, 4))
    layer(x)
    gates = tl.gate_activations(layer, x)
    assert sorted(gates) == ["r", "z"]
    # Index t is timestep t: the last timestep is the first one processed,
    # from a zero state, so it equals the gates of that step alone.
    alone = tl.gate_activations(layer.cell, x[:, -1:])
    np.testing.assert_allclose(gates["z"][:, -1], alone["z"][:, 0], atol=TOLERANCE)


def test_masked_steps_report_zero_and_keep_state():
    layer = tl.LSTM(3)
    x = random_inputs((2, 5, 4))
    layer(x)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    gates = tl.gate_activations(layer, x, mask=mask)
    assert np.all(gates["i"][0, 3:] == 0)
    unmasked = tl.gate_activations(layer, x)
    np.testing.assert_allclose(gates["f"][1], unmasked["f"][1], atol=TOLERANCE)
    np.testing.assert_allclose(gates["f"][0, :3], unmasked["f"][0, :3], atol=TOLERANCE)


def test_simple_rnn_reports_its_state_as_h():
    """No gates: `h` is h_t = tanh(x W + h U + b), masked steps 0."""
    layer = tl.SimpleRNN(3, return_sequences=True)
    x = random_inputs((2, 5, 4))
    layer(x)
    kernel, recurrent, bias = layer.get_weights()
    h, expected = np.zeros((2, 3)), []
    for t in range(5):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent + bias)
        expected.append(h)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], bool)
    gates = tl.gate_activations(layer, x, mask=mask)
    assert sorted(gates) == ["h"] and gates["h"].shape == (2, 5, 3)
    np.testing.assert_allclose(gates["h"][1], np.stack(expected, 1)[1], atol=TOLERANCE)
    np.testing.assert_allclose(
        gates["h"][0, :3], np.stack(expected, 1)[0, :3], atol=TOLERANCE
    )
    assert np.all(gates["h"][0, 3:] == 0)
    # Unmasked, it is the layer's own output sequence.
    outputs = keras.ops.convert_to_numpy(layer(x))
    np.testing.assert_allclose(
        tl.gate_activations(layer, x)["h"], outputs, atol=TOLERANCE
    )


def test_cifg_reports_coupled_input_gate():
    cell = tl.CIFGLSTMCell(2)
    gates = tl.gate_activations(cell, random_inputs((1, 3, 2)))
    np.testing.assert_allclose(gates["i"], 1 - gates["f"], atol=1e-7)


def test_rejects_builtin_cells():
    with pytest.raises(TypeError, match="needs a textlstm cell"):
        tl.gate_activations(keras.layers.LSTM(2), random_inputs((1, 2, 2)))


def test_rejects_wrong_rank():
    with pytest.raises(ValueError, match=r"got shape \(2, 2\)"):
        tl.gate_activations(tl.LSTM(2), random_inputs((2, 2)))
