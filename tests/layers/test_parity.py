"""Parity of the textlstm layers with the Keras built-ins (≤ 1e-5).

Outputs, final states and gradients with respect to the inputs and every
weight. Backend-agnostic: `test_jax_backend.py` runs this module again under
`KERAS_BACKEND=jax`.
"""

import keras
import numpy as np
import pytest

from tests.layers.parity import TOLERANCE, assert_parity, random_inputs
from textlstm import layers as tl

BATCH, TIME, FEATURES, UNITS = 3, 7, 5, 4

# (ours, theirs, extra constructor kwargs) for every layer/cell pairing.
LAYERS = {
    "lstm": (tl.LSTM, keras.layers.LSTM, {}),
    "gru": (tl.GRU, keras.layers.GRU, {}),
    "gru_reset_before": (tl.GRU, keras.layers.GRU, {"reset_after": False}),
    "simple_rnn": (tl.SimpleRNN, keras.layers.SimpleRNN, {}),
}
CELLS = {
    "lstm": (tl.LSTMCell, keras.layers.LSTMCell, {}),
    "gru": (tl.GRUCell, keras.layers.GRUCell, {}),
    "gru_reset_before": (tl.GRUCell, keras.layers.GRUCell, {"reset_after": False}),
    "simple_rnn": (tl.SimpleRNNCell, keras.layers.SimpleRNNCell, {}),
}


def make_pair(kind, **kwargs):
    ours, theirs, extra = LAYERS[kind]
    return ours(UNITS, **extra, **kwargs), theirs(UNITS, **extra, **kwargs)


def make_rnn_pair(kind, **kwargs):
    ours, theirs, extra = CELLS[kind]
    return (
        keras.layers.RNN(ours(UNITS, **extra), **kwargs),
        keras.layers.RNN(theirs(UNITS, **extra), **kwargs),
    )


def x(shape=(BATCH, TIME, FEATURES), seed=0):
    return random_inputs(shape, seed)


def padding_mask(lengths, time=TIME, pre=False):
    steps = np.arange(time)[None, :]
    lengths = np.asarray(lengths)[:, None]
    return steps >= time - lengths if pre else steps < lengths


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"return_sequences": True},
        {"return_state": True},
        {"return_sequences": True, "return_state": True},
        {"go_backwards": True, "return_sequences": True},
        {"unroll": True, "return_state": True},
        {"use_bias": False, "return_sequences": True},
    ],
    ids=lambda o: "-".join(o) or "default",
)
def test_layer_matches_builtin(kind, options):
    ours, theirs = make_pair(kind, **options)
    assert_parity(ours, theirs, x())


@pytest.mark.parametrize("kind", sorted(CELLS))
@pytest.mark.parametrize(
    "options",
    [{"return_sequences": True, "return_state": True}, {"go_backwards": True}],
    ids=lambda o: "-".join(o),
)
def test_cell_in_rnn_matches_builtin(kind, options):
    ours, theirs = make_rnn_pair(kind, **options)
    assert_parity(ours, theirs, x())


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize(
    "mask",
    [
        padding_mask([7, 4, 1]),
        padding_mask([7, 4, 1], pre=True),
        padding_mask([5, 0, 3]),  # the second row is fully masked
    ],
    ids=["post-padding", "pre-padding", "fully-masked-row"],
)
@pytest.mark.parametrize("go_backwards", [False, True], ids=["forward", "backward"])
def test_masks_match_builtin(kind, mask, go_backwards):
    ours, theirs = make_pair(
        kind, return_sequences=True, return_state=True, go_backwards=go_backwards
    )
    assert_parity(ours, theirs, x(), mask=mask)


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_cell_masks_match_builtin(kind):
    ours, theirs = make_rnn_pair(kind, return_sequences=True)
    assert_parity(ours, theirs, x(), mask=padding_mask([2, 7, 0]))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_initial_state_matches_builtin(kind):
    ours, theirs = make_pair(kind, return_state=True)
    num_states = 2 if kind == "lstm" else 1
    states = [random_inputs((BATCH, UNITS), seed=10 + k) for k in range(num_states)]

    class WithState(keras.layers.Layer):
        """Feeds fixed initial states so gradients flow through the layer."""

        def __init__(self, rnn):
            super().__init__()
            self.rnn = rnn

        def call(self, inputs):
            return self.rnn(inputs, initial_state=states)

    outputs, _ = assert_parity(WithState(ours), WithState(theirs), x())
    # The initial state really is used: a zero start gives another output.
    zero_start = keras.ops.convert_to_numpy(ours(x())[0])
    assert np.abs(zero_start - outputs[0]).max() > 1e-3


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_stateful_across_two_batches(kind):
    ours, theirs = make_pair(kind, stateful=True, return_sequences=True)
    first, second = x(seed=1), x(seed=2)
    theirs(first)
    ours(first)
    ours.set_weights(theirs.get_weights())
    ours.reset_state()
    theirs.reset_state()
    for batch in (first, second):
        a = keras.ops.convert_to_numpy(ours(batch))
        b = keras.ops.convert_to_numpy(theirs(batch))
        np.testing.assert_allclose(a, b, rtol=0, atol=TOLERANCE)
    # The second batch started from the first batch's final state.
    ours.reset_state()
    fresh = keras.ops.convert_to_numpy(ours(second))
    assert np.abs(fresh - a).max() > 1e-3


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("merge_mode", ["concat", "sum"])
def test_bidirectional_matches_builtin(kind, merge_mode):
    ours, theirs = make_pair(kind, return_sequences=True)
    ours = keras.layers.Bidirectional(ours, merge_mode=merge_mode)
    theirs = keras.layers.Bidirectional(theirs, merge_mode=merge_mode)
    assert_parity(ours, theirs, x(), mask=padding_mask([7, 3, 5]))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_two_layer_stack_matches_builtin(kind):
    def stack(pair_index):
        first = make_pair(kind, return_sequences=True)[pair_index]
        second = make_pair(kind)[pair_index]
        return keras.Sequential([keras.Input((TIME, FEATURES)), first, second])

    assert_parity(stack(0), stack(1), x())


@pytest.mark.parametrize("kind", sorted(CELLS))
def test_stacked_cells_match_builtin(kind):
    ours_cls, theirs_cls, extra = CELLS[kind]
    ours = keras.layers.RNN([ours_cls(UNITS, **extra), ours_cls(3, **extra)])
    theirs = keras.layers.RNN([theirs_cls(UNITS, **extra), theirs_cls(3, **extra)])
    assert_parity(ours, theirs, x())


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_inference_with_dropout_matches_builtin(kind):
    ours, theirs = make_pair(
        kind, dropout=0.4, recurrent_dropout=0.3, return_sequences=True, seed=1
    )
    assert_parity(ours, theirs, x(), training=False)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_training_dropout_drops(kind):
    """In training, dropout changes the output, and is the identity at rate 0."""
    ours, _ = make_pair(kind, dropout=0.5, recurrent_dropout=0.5, seed=3)
    inputs = x()
    train = keras.ops.convert_to_numpy(ours(inputs, training=True))
    infer = keras.ops.convert_to_numpy(ours(inputs, training=False))
    assert train.shape == infer.shape == (BATCH, UNITS)
    assert np.abs(train - infer).max() > 1e-3


@pytest.mark.parametrize(
    "rates", [{"dropout": 0.3}, {"dropout": 0.3, "recurrent_dropout": 0.2}]
)
def test_simple_rnn_training_dropout_matches_builtin_with_the_same_seed(rates):
    """One mask each for inputs and state, drawn as Keras draws them."""
    ours, theirs = make_pair("simple_rnn", return_sequences=True, seed=1, **rates)
    assert_parity(ours, theirs, x(), check_gradients=False, training=True)


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize(
    "shape", [(1, 1, 1, 1), (2, 13, 3, 9), (5, 4, 16, 2), (4, 20, 8, 6)]
)
def test_random_shapes_match_builtin(kind, shape):
    batch, time, features, units = shape
    ours_cls, theirs_cls, extra = LAYERS[kind]
    ours = ours_cls(units, return_sequences=True, return_state=True, **extra)
    theirs = theirs_cls(units, return_sequences=True, return_state=True, **extra)
    assert_parity(ours, theirs, x((batch, time, features), seed=sum(shape)))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_non_default_activations_and_initializers(kind):
    options = {
        "activation": "relu",
        "recurrent_activation": "hard_sigmoid",
        "kernel_initializer": "he_normal",
        "bias_initializer": "ones",
        "return_sequences": True,
    }
    if kind == "lstm":
        options["unit_forget_bias"] = False
    if kind == "simple_rnn":
        del options["recurrent_activation"]  # it has no gates
    ours, theirs = make_pair(kind, **options)
    assert_parity(ours, theirs, x())


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_same_weights_layout_as_builtin(kind):
    ours, theirs = make_pair(kind)
    ours(x())
    theirs(x())
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]
    assert [tuple(w.shape) for w in ours.weights] == [
        tuple(w.shape) for w in theirs.weights
    ]


def test_unit_forget_bias_initializes_forget_gate_to_one():
    layer = tl.LSTM(3)
    layer(x())
    bias = keras.ops.convert_to_numpy(layer.cell.bias)
    np.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
