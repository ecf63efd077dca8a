"""What every fast loop shares: the unrolled while loop and tensor helpers."""

import tensorflow as tf

# Steps per loop iteration: fewer iterations, and XLA fuses across steps.
UNROLL = 4


def unrolled_loop(step, steps, carry, reverse=False):
    """`carry = step(t, carry)` for t in `range(steps)` (or reversed).

    Runs `UNROLL` steps per `tf.while_loop` iteration, then the remainder.
    """
    blocks = steps // UNROLL
    rest = blocks * UNROLL
    sign = -1 if reverse else 1

    def block(k, carry):
        for j in range(UNROLL):
            carry = step(k * UNROLL + (UNROLL - 1 - j if reverse else j), carry)
        return k + sign, carry

    def single(t, carry):
        return t + sign, step(t, carry)

    if reverse:
        _, carry = tf.while_loop(lambda t, _: t >= rest, single, (steps - 1, carry))
        _, carry = tf.while_loop(lambda k, _: k >= 0, block, (blocks - 1, carry))
    else:
        _, carry = tf.while_loop(lambda k, _: k < blocks, block, (0, carry))
        _, carry = tf.while_loop(lambda t, _: t < steps, single, (rest, carry))
    return carry


def with_static_shape(outputs, xw, state):
    """The compiled loops are traced for any shape: give their `(time,
    batch, units)` outputs the shape the inputs imply (layers stacked on top
    would otherwise not even know `units`)."""
    shape = xw.shape[:1].concatenate(state.shape)
    for output in outputs:
        output.set_shape(shape)
    return outputs


def no_mask(like):
    """The placeholder passed as `mask` to the cores of unmasked loops."""
    return tf.zeros((0,), like.dtype)


def no_tape(*tensors):
    """`tensors` with tapes stopped: the loops' gradients are their own."""
    return [tf.stop_gradient(t) for t in tensors]


def previous(initial, sequence):
    """The state before each step: `[initial, sequence[0], ..., sequence[-2]]`."""
    return tf.concat([initial[None], sequence[:-1]], 0)


def matmul_3d(x, kernel):
    """`(time, batch, n) @ (n, m)` as one 2D matmul."""
    shape = tf.shape(x)
    flat = tf.matmul(tf.reshape(x, (-1, shape[-1])), kernel)
    return tf.reshape(flat, (shape[0], shape[1], -1))
