"""The GRU's fast loop (`reset_after=True`): forward, backward, entry point."""

import tensorflow as tf

from textlstm.layers.fast.compile import compiled, without_full_mask
from textlstm.layers.fast.loops import (
    matmul_3d,
    no_mask,
    no_tape,
    previous,
    unrolled_loop,
    with_static_shape,
)


@compiled
def _gru_forward(xw, h0, recurrent_kernel, recurrent_bias, mask, xla):
    """Returns the carried `h` of every step (gates are recomputed later).

    The z/r part of the recurrent bias is added to `xw` once, before the
    loop. Compiled with XLA, each gate reads its own `(time, batch, units)`
    inputs (see `textlstm.layers.fast`). As plain
    TensorFlow ops (the cpu and gpu exports) every op per step counts, so
    z and r share one input, one add and one sigmoid, and the update is
    written `n + z (h - n)`.
    """
    steps = tf.shape(xw)[0]
    units = tf.shape(h0)[-1]
    x_zr = xw[..., : 2 * units] + recurrent_bias[: 2 * units]
    x_n = xw[..., 2 * units :]
    x_z, x_r = x_zr[..., :units], x_zr[..., units:]
    bias_n = recurrent_bias[2 * units :]
    hs = tf.TensorArray(xw.dtype, size=steps)

    def step(t, carry):
        h, hs = carry
        if xla:
            h_z, h_r, h_n = tf.split(tf.matmul(h, recurrent_kernel), 3, 1)
            z, r = tf.sigmoid(x_z[t] + h_z), tf.sigmoid(x_r[t] + h_r)
        else:
            h_zr, h_n = tf.split(tf.matmul(h, recurrent_kernel), [2 * units, units], 1)
            z, r = tf.split(tf.sigmoid(x_zr[t] + h_zr), 2, 1)
        n = tf.tanh(x_n[t] + r * (h_n + bias_n))
        h_new = n + z * (h - n)
        if mask is not None:
            h_new = tf.where(mask[t] > 0, h_new, h)
        return h_new, hs.write(t, h_new)

    _, hs = unrolled_loop(step, steps, (h0, hs))
    return hs.stack()


@compiled
def _gru_backward(dhs, xw, hs, h0, recurrent_kernel, recurrent_bias, mask):
    steps = tf.shape(hs)[0]
    units = tf.shape(h0)[-1]
    h_prevs = previous(h0, hs)
    hu = matmul_3d(h_prevs, recurrent_kernel) + recurrent_bias
    zr = tf.sigmoid(xw[..., : 2 * units] + hu[..., : 2 * units])
    z, r = zr[..., :units], zr[..., units:]
    hn = hu[..., 2 * units :]
    n = tf.tanh(xw[..., 2 * units :] + r * hn)
    # With a = (1-z)(1-n^2), the gradients of the pre-activations are
    #   dz = dh (h_prev - n) z (1-z),  dn = dh a,  dr = dh a hn r (1-r),
    # and of `h U + b'`: [dz, dr, dn r]. Only dh needs the loop.
    a = (1 - z) * (1 - n * n)
    d_xw_coefficients = tf.concat(
        [(h_prevs - n) * z * (1 - z), a * hn * r * (1 - r), a], -1
    )
    d_hu_coefficients = tf.concat([d_xw_coefficients[..., : 2 * units], a * r], -1)
    kernel_t = tf.transpose(recurrent_kernel)
    dh_all = tf.TensorArray(hs.dtype, size=steps)

    def step(t, carry):
        dh_next, dh_all = carry
        dh = dhs[t] + dh_next
        if mask is not None:
            keep = mask[t]
            dh_skip, dh = dh * (1 - keep), dh * keep
        dhu = tf.concat([dh, dh, dh], -1) * d_hu_coefficients[t]
        dh_prev = dh * z[t] + tf.matmul(dhu, kernel_t)
        if mask is not None:
            dh_prev = dh_prev + dh_skip
        return dh_prev, dh_all.write(t, dh)

    dh0, dh_all = unrolled_loop(step, steps, (tf.zeros_like(h0), dh_all), reverse=True)
    dh3 = tf.tile(dh_all.stack(), (1, 1, 3))
    dxw = dh3 * d_xw_coefficients
    dhu = dh3 * d_hu_coefficients
    flat_dhu = tf.reshape(dhu, (-1, 3 * units))
    d_kernel = tf.matmul(tf.reshape(h_prevs, (-1, units)), flat_dhu, transpose_a=True)
    return dxw, dh0, d_kernel, tf.reduce_sum(flat_dhu, 0)


def _gru_core(masked):
    @tf.custom_gradient
    def core(xw, h0, recurrent_kernel, recurrent_bias, mask):
        mask_or_none = mask if masked else None
        hs = _gru_forward(
            *no_tape(xw, h0, recurrent_kernel, recurrent_bias), mask_or_none
        )

        def grad(dhs):
            dhs = tf.zeros_like(hs) if dhs is None else dhs
            dxw, dh0, d_kernel, d_bias = _gru_backward(
                dhs, xw, hs, h0, recurrent_kernel, recurrent_bias, mask_or_none
            )
            return dxw, dh0, d_kernel, d_bias, tf.zeros_like(mask)

        return hs, grad

    return core


_GRU_CORES = {True: _gru_core(True), False: _gru_core(False)}


def gru(xw, h0, recurrent_kernel, recurrent_bias, mask=None):
    """Run the GRU (`reset_after=True`) recurrence over time-major `xw`.

    Args:
        xw: `(time, batch, 3 * units)`, the input projections `x W + b`.
        h0: `(batch, units)` initial state.
        recurrent_kernel: `(units, 3 * units)`.
        recurrent_bias: `(3 * units,)` (zeros without `use_bias`).
        mask: Optional `(time, batch, 1)` float mask (1 = keep the step).

    Returns:
        `hs`: the carried state of every step, `(time, batch, units)`.

    One loop for the whole batch: callers split a large one with `sharded`.
    """
    recurrent_kernel = tf.identity(recurrent_kernel)
    recurrent_bias = tf.identity(recurrent_bias)

    def run(mask):
        core = _GRU_CORES[mask is not None]
        mask = no_mask(xw) if mask is None else mask
        return core(xw, h0, recurrent_kernel, recurrent_bias, mask)

    (hs,) = with_static_shape([without_full_mask(run, mask)], xw, h0)
    return hs
