"""The SimpleRNN's fast loop (`tanh`): forward, backward, entry point."""

import tensorflow as tf

from textlstm.layers.fast.compile import compiled, without_full_mask
from textlstm.layers.fast.loops import (
    no_mask,
    no_tape,
    previous,
    unrolled_loop,
    with_static_shape,
)


@compiled
def _simple_rnn_forward(xw, h0, recurrent_kernel, mask):
    """Returns the carried `h` of every step, `h' = tanh(xw[t] + h U)`."""
    steps = tf.shape(xw)[0]
    hs = tf.TensorArray(xw.dtype, size=steps)

    def step(t, carry):
        h, hs = carry
        h_new = tf.tanh(xw[t] + tf.matmul(h, recurrent_kernel))
        if mask is not None:
            h_new = tf.where(mask[t] > 0, h_new, h)
        return h_new, hs.write(t, h_new)

    _, hs = unrolled_loop(step, steps, (h0, hs))
    return hs.stack()


@compiled
def _simple_rnn_backward(dhs, hs, h0, recurrent_kernel, mask):
    """Gradients of the loop: `xw`, `h0` and `U`.

    With `a = xw[t] + h U`, `da = dh (1 - h'^2)` and `dh_prev = da U^T`:
    only `dh` needs the loop; a masked step hands its `dh` on unchanged.
    """
    steps = tf.shape(hs)[0]
    units = tf.shape(h0)[-1]
    # tanh' of every step at once, from its output. On a masked step `hs[t]`
    # is the previous state, but the mask zeroes that step's `dh` anyway.
    slopes = 1 - hs * hs
    kernel_t = tf.transpose(recurrent_kernel)
    das = tf.TensorArray(hs.dtype, size=steps)

    def step(t, carry):
        dh_next, das = carry
        dh = dhs[t] + dh_next
        if mask is not None:
            keep = mask[t]
            dh_skip, dh = dh * (1 - keep), dh * keep
        da = dh * slopes[t]
        dh_prev = tf.matmul(da, kernel_t)
        if mask is not None:
            dh_prev = dh_prev + dh_skip
        return dh_prev, das.write(t, da)

    dh0, das = unrolled_loop(step, steps, (tf.zeros_like(h0), das), reverse=True)
    da = das.stack()
    d_kernel = tf.matmul(
        tf.reshape(previous(h0, hs), (-1, units)),
        tf.reshape(da, (-1, units)),
        transpose_a=True,
    )
    return da, dh0, d_kernel


def _simple_rnn_core(masked):
    @tf.custom_gradient
    def core(xw, h0, recurrent_kernel, mask):
        mask_or_none = mask if masked else None
        hs = _simple_rnn_forward(*no_tape(xw, h0, recurrent_kernel), mask_or_none)

        def grad(dhs):
            dhs = tf.zeros_like(hs) if dhs is None else dhs
            dxw, dh0, d_kernel = _simple_rnn_backward(
                dhs, hs, h0, recurrent_kernel, mask_or_none
            )
            return dxw, dh0, d_kernel, tf.zeros_like(mask)

        return hs, grad

    return core


_SIMPLE_RNN_CORES = {True: _simple_rnn_core(True), False: _simple_rnn_core(False)}


def simple_rnn(xw, h0, recurrent_kernel, mask=None):
    """Run the SimpleRNN (`tanh`) recurrence over time-major `xw`.

    Args:
        xw: `(time, batch, units)`, the input projections `x W + b`.
        h0: `(batch, units)` initial state.
        recurrent_kernel: `(units, units)`.
        mask: Optional `(time, batch, 1)` float mask (1 = keep the step).

    Returns:
        `hs`: the carried state of every step, `(time, batch, units)`.

    One loop for the whole batch: callers split a large one with `sharded`.
    """
    recurrent_kernel = tf.identity(recurrent_kernel)

    def run(mask):
        core = _SIMPLE_RNN_CORES[mask is not None]
        mask = no_mask(xw) if mask is None else mask
        return core(xw, h0, recurrent_kernel, mask)

    (hs,) = with_static_shape([without_full_mask(run, mask)], xw, h0)
    return hs
