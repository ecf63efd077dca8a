"""get_config/from_config and .keras round trips, mixed precision, signatures."""

import inspect

import keras
import numpy as np
import pytest

from tests.layers.parity import random_inputs
from textlstm import layers as tl

INPUTS = random_inputs((2, 6, 5))


def sequence_layers():
    return {
        "LSTM": tl.LSTM(4, return_sequences=True),
        "GRU": tl.GRU(4, return_sequences=True),
        "GRU-reset-before": tl.GRU(4, reset_after=False, dropout=0.2),
        "RNN-LSTMCell": keras.layers.RNN(tl.LSTMCell(4), return_state=True),
        "RNN-GRUCell": keras.layers.RNN(tl.GRUCell(4)),
        "RNN-Peephole": keras.layers.RNN(tl.PeepholeLSTMCell(4)),
        "RNN-LayerNorm": keras.layers.RNN(tl.LayerNormLSTMCell(4, epsilon=1e-4)),
        "RNN-CIFG": keras.layers.RNN(tl.CIFGLSTMCell(4, unit_forget_bias=False)),
        "Bidirectional-LSTM": keras.layers.Bidirectional(tl.LSTM(3)),
        "PeepholeLSTM": tl.PeepholeLSTM(
            4, peephole_initializer="ones", return_sequences=True
        ),
        "CIFGLSTM": tl.CIFGLSTM(4, unit_forget_bias=False, return_state=True),
        "LayerNormLSTM": tl.LayerNormLSTM(4, epsilon=1e-4, go_backwards=True),
        "SimpleRNN": tl.SimpleRNN(4, return_sequences=True, dropout=0.2),
        "RNN-SimpleRNNCell": keras.layers.RNN(tl.SimpleRNNCell(4), return_state=True),
        "Bidirectional-SimpleRNN": keras.layers.Bidirectional(
            tl.SimpleRNN(3, activation="relu")
        ),
    }


def as_numpy_list(outputs):
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return [keras.ops.convert_to_numpy(o) for o in outputs]


@pytest.mark.parametrize("name", sorted(sequence_layers()))
def test_get_config_round_trip(name):
    layer = sequence_layers()[name]
    expected = as_numpy_list(layer(INPUTS))
    clone = layer.__class__.from_config(layer.get_config())
    clone(INPUTS)
    clone.set_weights(layer.get_weights())
    assert clone.get_config() == layer.get_config()
    for a, b in zip(as_numpy_list(clone(INPUTS)), expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(sequence_layers()))
def test_keras_file_round_trip(name, tmp_path):
    layer = sequence_layers()[name]
    inputs = keras.Input((6, 5))
    model = keras.Model(inputs, layer(inputs))
    expected = as_numpy_list(model(INPUTS))
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    for a, b in zip(as_numpy_list(restored(INPUTS)), expected):
        np.testing.assert_array_equal(a, b)
    restored_layer = restored.layers[1]
    assert type(restored_layer) is type(layer)
    if isinstance(layer, keras.layers.RNN):
        assert type(restored_layer.cell) is type(layer.cell)


@pytest.mark.parametrize("name", sorted(sequence_layers()))
def test_mixed_float16(name):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = sequence_layers()[name]
        outputs = as_numpy_list(layer(INPUTS))
        assert all(o.dtype == np.float16 for o in outputs)
        assert all(np.isfinite(o).all() for o in outputs)
        assert all(w.dtype == "float32" for w in layer.weights)
    finally:
        keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (tl.LSTM, keras.layers.LSTM),
        (tl.GRU, keras.layers.GRU),
        (tl.LSTMCell, keras.layers.LSTMCell),
        (tl.GRUCell, keras.layers.GRUCell),
        (tl.SimpleRNN, keras.layers.SimpleRNN),
        (tl.SimpleRNNCell, keras.layers.SimpleRNNCell),
    ],
)
def test_same_constructor_arguments_and_defaults(ours, theirs):
    def parameters(cls):
        signature = inspect.signature(cls.__init__)
        return {
            name: p.default
            for name, p in signature.parameters.items()
            if name not in ("self", "kwargs")
        }

    assert parameters(ours) == parameters(theirs)


@pytest.mark.parametrize(
    "cls", [tl.LSTM, tl.GRU, tl.SimpleRNN, tl.LSTMCell, tl.GRUCell, tl.SimpleRNNCell]
)
def test_invalid_units_is_a_clear_error(cls):
    with pytest.raises(ValueError, match="expected a positive integer, got 0"):
        cls(0)


def test_invalid_use_cudnn_is_a_clear_error():
    with pytest.raises(ValueError, match="Received: use_cudnn=maybe"):
        tl.LSTM(2, use_cudnn="maybe")


def test_layer_forwards_cell_properties():
    layer = tl.GRU(5, dropout=0.25, reset_after=False)
    assert (layer.units, layer.dropout, layer.reset_after) == (5, 0.25, False)
    assert layer.kernel_initializer is layer.cell.kernel_initializer


def test_kernel_path_reports_the_loop_that_ran():
    layer = tl.LSTM(2)
    assert layer.kernel_path is None
    layer(INPUTS)
    assert layer.kernel_path in ("fast", "step")
    layer(INPUTS, training=True)
    assert layer.kernel_path in tl.available_kernel_paths()["LSTM"]


def test_simple_rnn_config_has_the_keras_arguments_only():
    """No gates, no cuDNN: what `keras.layers.SimpleRNN(Cell)` does not take
    is not in the config either (so Keras' own classes rebuild from it)."""
    layer, cell = tl.SimpleRNN(3), tl.SimpleRNNCell(3)
    assert "recurrent_activation" not in layer.get_config()
    assert "use_cudnn" not in layer.get_config()
    assert set(cell.get_config()) == set(keras.layers.SimpleRNNCell(3).get_config())
    builtin = keras.layers.SimpleRNN.from_config(layer.get_config())
    builtin(INPUTS)
    layer(INPUTS)
    builtin.set_weights(layer.get_weights())
    np.testing.assert_allclose(builtin(INPUTS), layer(INPUTS), rtol=0, atol=1e-5)
