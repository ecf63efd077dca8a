"""The fast path against the step-by-step cell, and when each one runs."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.layers.parity import (
    TOLERANCE,
    forward_and_gradients,
    loss_projection,
    random_inputs,
)
from tests.layers.test_parity import padding_mask
from textlstm import layers as tl
from textlstm.layers.fast import sharding

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the fast path is TensorFlow's"
)

KINDS = {
    "lstm": tl.LSTM,
    "gru": tl.GRU,
    "peephole": tl.PeepholeLSTM,
    "cifg": tl.CIFGLSTM,
    "layernorm": tl.LayerNormLSTM,
    "simple_rnn": tl.SimpleRNN,
}
LSTM_FAMILY = ["cifg", "layernorm", "lstm", "peephole"]


def twins(kind, units=None, float64_reference=True, **kwargs):
    """Two identical layers, the second forced onto the step-by-step cell.

    The layer-norm LSTM gets 16 units (4 elsewhere), weights from a fixed
    seed, and a step twin that computes in float64. Its norms divide by
    standard deviations down to sqrt(epsilon): where its gradients reach 10
    or more (some random weights give 200), both float32 loops, the cell's
    as much as the fast one, stray from the exact result by more than 1e-5,
    the more so the fewer units a norm averages (with 4 units the fast loop
    missed by up to 1.5e-4, the cell's by up to 8e-5; with 8, 7e-5 in one
    of four unseeded runs; with 16 none of four failed). So each result is
    compared with the float64 one (see `assert_matches`).
    `float64_reference=False` keeps float32 twins, for random draws
    (dropout masks) that must be the same in both.
    """
    if kind == "layernorm":
        keras.utils.set_random_seed(0)
    if units is None:
        units = 16 if kind == "layernorm" else 4
    fast = KINDS[kind](units, **kwargs)
    exact = kind == "layernorm" and float64_reference
    step = KINDS[kind](units, **kwargs, **({"dtype": "float64"} if exact else {}))
    step.fast_path = False
    return fast, step


def assert_matches(got, expected, scaled=False, cell=None):
    """Within 1e-5 of `expected`.

    Of a float64 reference (or with `scaled`), within 1e-5 of its largest
    value, or within 4 times the error of `cell`, the float32 step loop's
    own result (see `cell_results`), whichever is larger: the fast path
    must be as exact as the cell, up to the order in which it sums.
    """
    expected = np.asarray(expected)
    tolerance = TOLERANCE
    if scaled or expected.dtype == np.float64:
        tolerance *= max(1.0, float(np.abs(expected).max(initial=0.0)))
    if cell is not None:
        cell_error = np.abs(np.asarray(cell, expected.dtype) - expected).max()
        tolerance = max(tolerance, 4 * float(cell_error))
    np.testing.assert_allclose(got, expected, rtol=0, atol=tolerance)


def reference(step, inputs, **call_kwargs):
    """`forward_and_gradients` of the step twin, in its own dtype throughout
    (so that the input gradients of a float64 twin stay float64)."""
    inputs = np.asarray(inputs, step.compute_dtype)
    return forward_and_gradients(step, inputs, **call_kwargs)


def cell_results(step, inputs, **call_kwargs):
    """For a float64 step twin: the outputs and gradients of the same step
    loop in float32 with the same weights (else a list of None)."""
    if step.compute_dtype != "float64":
        return itertools.repeat(None)
    twin = type(step).from_config({**step.get_config(), "dtype": "float32"})
    twin.fast_path = False
    twin(inputs, **call_kwargs)
    twin.set_weights(step.get_weights())
    outputs, gradients = forward_and_gradients(twin, inputs, **call_kwargs)
    return outputs + gradients


def compare(fast, step, inputs, scaled=False, **call_kwargs):
    fast(inputs, **call_kwargs)
    step(inputs, **call_kwargs)
    step.set_weights(fast.get_weights())
    out_a, grad_a = forward_and_gradients(fast, inputs, **call_kwargs)
    out_b, grad_b = reference(step, inputs, **call_kwargs)
    cell = cell_results(step, inputs, **call_kwargs)
    for a, b, c in zip(out_a + grad_a, out_b + grad_b, cell):
        assert_matches(a, b, scaled, c)
    assert (fast.kernel_path, step.kernel_path) == ("fast", "step")


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("steps", [1, 3, 4, 5, 9])  # around the unroll factor
@pytest.mark.parametrize("go_backwards", [False, True])
def test_fast_matches_step_for_all_lengths(kind, steps, go_backwards):
    fast, step = twins(
        kind, return_sequences=True, return_state=True, go_backwards=go_backwards
    )
    compare(fast, step, random_inputs((3, steps, 5), seed=steps))


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("pre", [False, True], ids=["post", "pre"])
def test_fast_matches_step_with_masks(kind, pre):
    fast, step = twins(kind, return_sequences=True, return_state=True)
    mask = padding_mask([9, 5, 0, 1], time=9, pre=pre)
    compare(fast, step, random_inputs((4, 9, 5)), mask=mask)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_fast_matches_step_with_initial_state_and_mask(kind):
    fast, step = twins(kind, return_sequences=True, return_state=True)
    num_states = 1 if kind in ("gru", "simple_rnn") else 2
    states = [random_inputs((3, fast.units), seed=5 + k) for k in range(num_states)]
    inputs = random_inputs((3, 6, 5))
    mask = padding_mask([6, 0, 2], time=6, pre=True)
    for layer in (fast, step):
        layer(inputs)
    step.set_weights(fast.get_weights())
    a = fast(inputs, initial_state=states, mask=mask)
    b = step(inputs, initial_state=states, mask=mask)
    for x, y in zip(a, b, strict=True):
        assert_matches(x, y)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_training_with_input_dropout_stays_fast_and_exact(kind):
    fast, step = twins(
        kind, dropout=0.5, seed=7, return_sequences=True, float64_reference=False
    )
    inputs = random_inputs((3, 6, 5))
    # Float32 twins (the same dropout draws): for the layer norm, two
    # float32 loops, hence the tolerance relative to the largest value.
    compare(fast, step, inputs, scaled=kind == "layernorm", training=True)


@pytest.mark.parametrize(
    "kind, kwargs, training",
    [
        ("lstm", {"recurrent_dropout": 0.2}, True),
        ("gru", {"recurrent_dropout": 0.2}, True),
        ("gru", {"reset_after": False}, False),
        ("lstm", {"activation": "relu"}, False),
        ("gru", {"recurrent_activation": "hard_sigmoid"}, False),
        ("simple_rnn", {"recurrent_dropout": 0.2}, True),
        ("simple_rnn", {"activation": "relu"}, False),
    ],
)
def test_falls_back_to_the_cell(kind, kwargs, training):
    layer = KINDS[kind](3, **kwargs)
    layer(random_inputs((2, 4, 3)), training=training)
    assert layer.kernel_path == "step"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_recurrent_dropout_at_inference_is_fast(kind):
    layer = KINDS[kind](3, recurrent_dropout=0.3)
    layer(random_inputs((2, 4, 3)), training=False)
    assert layer.kernel_path == "fast"


def test_mixed_precision_falls_back_to_the_cell():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = tl.LSTM(3)
        assert layer(random_inputs((2, 4, 3))).dtype == "float16"
        assert layer.kernel_path == "step"
    finally:
        keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("xla", [True, False])
def test_graph_mode_with_and_without_xla(kind, xla):
    fast, step = twins(kind, return_sequences=True)
    inputs = random_inputs((2, 7, 3))
    fast(inputs)
    step(inputs)
    step.set_weights(fast.get_weights())
    with tl.fast_path_options(xla=xla):
        graph_output = tf.function(fast)(inputs)
    assert_matches(graph_output, step(inputs))


def test_xla_option_controls_the_compiled_graph():
    layer = tl.LSTM(2)
    inputs = tf.TensorSpec((1, 3, 2), tf.float32)
    layer(np.zeros((1, 3, 2), "float32"))

    def must_compile_ops(xla):
        with tl.fast_path_options(xla=xla):
            graph = tf.function(layer).get_concrete_function(inputs).graph
        library = graph.as_graph_def().library.function
        return [
            f.signature.name
            for f in library
            if "_XlaMustCompile" in f.attr and f.attr["_XlaMustCompile"].b
        ]

    assert must_compile_ops(True)
    assert must_compile_ops(False) == []


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_fit_trains_with_the_fast_path(kind):
    """A few steps of model.fit lower the loss, through the custom gradient."""
    keras.utils.set_random_seed(0)
    inputs = random_inputs((32, 6, 4))
    targets = (inputs.sum(axis=(1, 2)) > 0).astype("float32")
    model = keras.Sequential(
        [keras.Input((6, 4)), KINDS[kind](8), keras.layers.Dense(1, "sigmoid")]
    )
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    history = model.fit(inputs, targets, epochs=15, batch_size=32, verbose=0)
    assert model.layers[0].kernel_path == "fast"
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]


@pytest.mark.parametrize("kind", LSTM_FAMILY)
@pytest.mark.parametrize("masked", [False, True])
def test_lstm_gradients_with_stored_and_recomputed_gates_agree(kind, masked):
    """training=True stores the gates, training=False recomputes them."""
    layer = KINDS[kind](4, return_sequences=True)
    inputs = random_inputs((3, 6, 5))
    mask = padding_mask([6, 2, 4], time=6) if masked else None
    stored = forward_and_gradients(layer, inputs, training=True, mask=mask)
    recomputed = forward_and_gradients(layer, inputs, training=False, mask=mask)
    for a, b in zip(stored[0] + stored[1], recomputed[0] + recomputed[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("training", [False, True])
def test_layernorm_with_learned_norm_weights(training):
    """Norm gains and shifts away from their initial 1 and 0 (a zero gain
    included) are used, and get their gradients, as in the cell."""
    fast, step = twins("layernorm", return_sequences=True, return_state=True)
    inputs = random_inputs((3, 6, 5))
    fast(inputs)
    cell = fast.cell
    rng = np.random.default_rng(7)
    for weight in (
        cell.kernel_norm_gamma,
        cell.recurrent_norm_gamma,
        cell.state_norm_gamma,
        cell.state_norm_beta,
    ):
        values = rng.normal(size=weight.shape).astype("float32")
        values[1] = 0.0
        weight.assign(values)
    mask = padding_mask([6, 2, 4], time=6)
    compare(fast, step, inputs, mask=mask, training=training)


@pytest.fixture
def three_shards(monkeypatch):
    """Pretend to have 3 cores and split from 2 rows per shard on."""
    monkeypatch.setattr(sharding, "_cpu_shards", lambda: 3)
    monkeypatch.setattr(sharding, "MIN_SHARD_ROWS", 2)
    monkeypatch.setattr(sharding, "MIN_SHARD_WORK", 1)
    return sharding


def test_batch_shards_counts(three_shards):
    kernel = tf.zeros((4, 16))
    counts = [three_shards.batch_shards(b, kernel) for b in (1, 3, 4, 5, 6, 7, 100)]
    assert counts == [1, 1, 2, 2, 3, 3, 3]
    three_shards.MIN_SHARD_WORK = 64 * 10  # 10 rows of a 64-weight kernel
    counts = [three_shards.batch_shards(b, kernel) for b in (9, 10, 19, 20, 30)]
    assert counts == [1, 1, 1, 2, 3]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sharded_batch_matches_step(kind, three_shards):
    """7 rows run as shards of 3, 2 and 2, masks and initial states included."""
    fast, step = twins(kind, return_sequences=True, return_state=True)
    mask = padding_mask([6, 0, 2, 6, 1, 5, 3], time=6, pre=True)
    compare(fast, step, random_inputs((7, 6, 5)), mask=mask)
    fast_b, step_b = twins(kind, return_sequences=True, go_backwards=True)
    compare(fast_b, step_b, random_inputs((7, 5, 5), seed=3))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_unknown_batch_is_sharded_at_run_time(kind, three_shards):
    """A graph traced for any batch size splits 7 rows and runs 2 whole."""
    fast, step = twins(kind, return_sequences=True)
    fast(random_inputs((2, 6, 5)))
    step(random_inputs((2, 6, 5)))
    step.set_weights(fast.get_weights())

    spec = tf.TensorSpec((None, 6, 5), tf.float32)

    weights_spec = tf.TensorSpec((None, 6, fast.units), tf.float32)

    @tf.function(input_signature=[spec, weights_spec])
    def outputs_and_gradients(inputs, loss_weights):
        """What `forward_and_gradients` computes, for any batch size."""
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = fast(inputs)
            loss = tf.reduce_sum(outputs * loss_weights)
        return [outputs] + tape.gradient(loss, [inputs] + fast.trainable_weights)

    graph = outputs_and_gradients.get_concrete_function().graph.as_graph_def()
    ops = {node.op for node in graph.node}
    assert "StatelessIf" in ops or "If" in ops
    for batch in (7, 2):
        inputs = random_inputs((batch, 6, 5), seed=batch)
        out_a, grad_a = reference(step, inputs)
        cell = cell_results(step, inputs)
        loss_weights = loss_projection((batch, 6, fast.units), 0)
        got = outputs_and_gradients(inputs, loss_weights)
        for a, b, c in zip(got, out_a + grad_a, cell):
            assert_matches(a, b, cell=c)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("masked", [False, True])
def test_outputs_keep_static_units_when_traced_for_any_shape(kind, masked):
    """A layer stacked on a fast one needs its static units (as in model.fit)."""
    first = KINDS[kind](4, return_sequences=True)
    second = KINDS["gru"](3)
    inputs = random_inputs((3, 6, 5))
    mask = padding_mask([6, 2, 4], time=6) if masked else None
    expected = second(first(inputs, mask=mask), mask=mask)
    spec = tf.TensorSpec((None, None, 5), tf.float32)
    mask_spec = tf.TensorSpec((None, None), tf.bool)

    @tf.function(input_signature=[spec, mask_spec])
    def stacked(inputs, mask):
        sequences = first(inputs, mask=mask if masked else None)
        assert sequences.shape.as_list() == [None, None, 4]
        return second(sequences, mask=mask if masked else None)

    full_mask = np.ones((3, 6), bool) if mask is None else np.asarray(mask)
    got = stacked(inputs, full_mask)
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)
