"""Backend-agnostic helpers to compare a layer with its Keras built-in twin.

`forward_and_gradients` returns a layer's outputs and the gradients of a
fixed random projection of them with respect to the inputs and every
trainable weight, on TensorFlow (GradientTape) and JAX (`jax.grad` over
`stateless_call`), so the same parity tests run on both backends.
"""

import keras
import numpy as np

TOLERANCE = 1e-5


def random_inputs(shape, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, size=shape).astype("float32")


def _as_list(outputs):
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def loss_projection(shape, index):
    return random_inputs(shape, seed=100 + index)


def _loss(outputs):
    return sum(
        keras.ops.sum(out * loss_projection(tuple(out.shape), k))
        for k, out in enumerate(_as_list(outputs))
    )


def forward_and_gradients(layer, inputs, **call_kwargs):
    """Return `(outputs, gradients)` as NumPy arrays.

    `gradients[0]` is d loss / d inputs; the rest follow
    `layer.trainable_weights`.
    """
    backend = keras.backend.backend()
    if not layer.built:
        layer(inputs, **call_kwargs)
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(inputs)
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs = layer(x, **call_kwargs)
            loss = _loss(outputs)
        grads = tape.gradient(loss, [x] + list(layer.trainable_weights))
    elif backend == "jax":
        import jax

        trainable = [v.value for v in layer.trainable_variables]
        non_trainable = [v.value for v in layer.non_trainable_variables]

        def loss_fn(x, weights):
            out, _ = layer.stateless_call(weights, non_trainable, x, **call_kwargs)
            return _loss(out), out

        (_, outputs), (gx, gw) = jax.value_and_grad(
            loss_fn, argnums=(0, 1), has_aux=True
        )(inputs, trainable)
        grads = [gx] + list(gw)
    else:  # pragma: no cover - torch is not a supported test backend
        raise NotImplementedError(backend)
    outputs = [keras.ops.convert_to_numpy(o) for o in _as_list(outputs)]
    grads = [keras.ops.convert_to_numpy(g) for g in grads]
    return outputs, grads


def assert_parity(ours, theirs, inputs, check_gradients=True, **call_kwargs):
    """Copy `theirs`' weights into `ours` and compare outputs and gradients."""
    if not theirs.built:
        theirs(inputs, **call_kwargs)
    if not ours.built:
        ours(inputs, **call_kwargs)
    ours.set_weights(theirs.get_weights())
    if check_gradients:
        out_a, grad_a = forward_and_gradients(ours, inputs, **call_kwargs)
        out_b, grad_b = forward_and_gradients(theirs, inputs, **call_kwargs)
        assert len(grad_a) == len(grad_b)
    else:
        out_a = [
            keras.ops.convert_to_numpy(o) for o in _as_list(ours(inputs, **call_kwargs))
        ]
        out_b = [
            keras.ops.convert_to_numpy(o)
            for o in _as_list(theirs(inputs, **call_kwargs))
        ]
        grad_a = grad_b = []
    assert len(out_a) == len(out_b)
    for a, b in zip(out_a, out_b):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=TOLERANCE)
    for a, b in zip(grad_a, grad_b):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=TOLERANCE)
    return out_a, grad_a
