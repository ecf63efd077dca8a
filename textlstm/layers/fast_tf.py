"""The fast path of `textlstm.layers.LSTM` and `GRU` on the TensorFlow backend.

Why it is faster than the generic `keras.layers.RNN` loop:

- The input projection `x W + b` of every timestep is one large matmul
  before the loop; only `h U` is left inside it.
- The recurrence is a `tf.while_loop` compiled with XLA
  (`jit_compile=True`): one fused kernel per step instead of a dozen
  TensorFlow ops, which is what dominates at small batch sizes.
- The backward pass is written by hand (`tf.custom_gradient`): a reverse
  loop computes the gate gradients, and the weight gradients are then large
  matmuls over all timesteps at once, instead of one small matmul per step.

The math is exactly the cells' (`LSTMCell`, `GRUCell` with
`reset_after=True`, default `tanh`/`sigmoid` activations); the layers fall
back to the step-by-step cell whenever this module does not apply.
Inputs here are time-major: `(time, batch, features)`.
"""

import contextlib
import contextvars

import tensorflow as tf

# Steps per loop iteration: fewer iterations, and XLA fuses across steps.
UNROLL = 4

_XLA = contextvars.ContextVar("textlstm_fast_path_xla", default=True)


@contextlib.contextmanager
def fast_path_options(xla=True):
    """Choose how the fast path is compiled while tracing in this block.

    Args:
        xla: With `True` (default) the loops are `jit_compile=True`
            functions: fastest, but they carry XLA's must-compile attribute
            into graphs and SavedModels. With `False` the same loops are plain
            TensorFlow ops, for graphs that must run on any TensorFlow runtime
            (the `cpu` and `gpu` export targets).

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> from textlstm.layers import LSTM, fast_path_options
    >>> layer = LSTM(2)
    >>> with fast_path_options(xla=False):
    ...     y = tf.function(layer)(np.ones((1, 3, 2), "float32"))
    >>> layer.kernel_path
    'fast'
    """
    token = _XLA.set(bool(xla))
    try:
        yield
    finally:
        _XLA.reset(token)


def _compiled(fn):
    """`fn` as a tf.function with and without XLA, chosen at call time.

    XLA compiles one kernel per input shape and caches it.
    """
    variants = {
        xla: tf.function(fn, jit_compile=xla, reduce_retracing=True, autograph=False)
        for xla in (True, False)
    }

    def call(*args):
        return variants[_XLA.get()](*args)

    call.variants = variants
    return call


def _loop(step, steps, carry, reverse=False):
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


def _no_tape(*tensors):
    return [tf.stop_gradient(t) for t in tensors]


# -- LSTM ----------------------------------------------------------------------
@_compiled
def _lstm_forward(xw, h0, c0, recurrent_kernel, mask):
    """Returns the carried `h` and `c` of every step.

    Only the states are kept: the backward pass recomputes the gates from
    them with one large matmul, which is cheaper than storing them here.
    """
    steps = tf.shape(xw)[0]
    units = tf.shape(h0)[-1]
    hs = tf.TensorArray(xw.dtype, size=steps)
    cs = tf.TensorArray(xw.dtype, size=steps)

    def step(t, carry):
        h, c, hs, cs = carry
        z = xw[t] + tf.matmul(h, recurrent_kernel)
        gates = tf.sigmoid(z)
        i, f, o = gates[:, :units], gates[:, units : 2 * units], gates[:, 3 * units :]
        g = tf.tanh(z[:, 2 * units : 3 * units])
        c_new = f * c + i * g
        h_new = o * tf.tanh(c_new)
        if mask is not None:
            keep = mask[t] > 0
            c_new = tf.where(keep, c_new, c)
            h_new = tf.where(keep, h_new, h)
        return h_new, c_new, hs.write(t, h_new), cs.write(t, c_new)

    _, _, hs, cs = _loop(step, steps, (h0, c0, hs, cs))
    return hs.stack(), cs.stack()


def _previous(initial, sequence):
    """The state before each step: `[initial, sequence[0], ..., sequence[-2]]`."""
    return tf.concat([initial[None], sequence[:-1]], 0)


def _matmul_3d(x, kernel):
    """`(time, batch, n) @ (n, m)` as one 2D matmul."""
    shape = tf.shape(x)
    flat = tf.matmul(tf.reshape(x, (-1, shape[-1])), kernel)
    return tf.reshape(flat, (shape[0], shape[1], -1))


@_compiled
def _lstm_backward(dhs, dcs, xw, hs, cs, h0, c0, recurrent_kernel, mask):
    """Gradients of the loop with respect to `xw`, `h0`, `c0` and `U`."""
    steps = tf.shape(hs)[0]
    units = tf.shape(h0)[-1]
    h_prevs, c_prevs = _previous(h0, hs), _previous(c0, cs)
    # All gates of all steps at once (recomputed, see `_lstm_forward`).
    z = xw + _matmul_3d(h_prevs, recurrent_kernel)
    gates = tf.sigmoid(z)
    i, f, o = gates[..., :units], gates[..., units : 2 * units], gates[..., 3 * units :]
    g = tf.tanh(z[..., 2 * units : 3 * units])
    tanh_c = tf.tanh(cs)
    kernel_t = tf.transpose(recurrent_kernel)
    dzs = tf.TensorArray(hs.dtype, size=steps)

    def step(t, carry):
        dh_next, dc_next, dzs = carry
        dh = dhs[t] + dh_next
        dc = dcs[t] + dc_next
        if mask is not None:
            keep = mask[t]
            dh_skip, dc_skip = dh * (1 - keep), dc * (1 - keep)
            dh, dc = dh * keep, dc * keep
        i_t, f_t, g_t, o_t, tanh_t = i[t], f[t], g[t], o[t], tanh_c[t]
        dc = dc + dh * o_t * (1 - tanh_t * tanh_t)
        dz = tf.concat(
            [
                dc * g_t * i_t * (1 - i_t),
                dc * c_prevs[t] * f_t * (1 - f_t),
                dc * i_t * (1 - g_t * g_t),
                dh * tanh_t * o_t * (1 - o_t),
            ],
            -1,
        )
        dh_prev = tf.matmul(dz, kernel_t)
        dc_prev = dc * f_t
        if mask is not None:
            dh_prev, dc_prev = dh_prev + dh_skip, dc_prev + dc_skip
        return dh_prev, dc_prev, dzs.write(t, dz)

    dh0, dc0, dzs = _loop(
        step, steps, (tf.zeros_like(h0), tf.zeros_like(c0), dzs), reverse=True
    )
    dz = dzs.stack()
    d_kernel = tf.matmul(
        tf.reshape(h_prevs, (-1, units)),
        tf.reshape(dz, (-1, 4 * units)),
        transpose_a=True,
    )
    return dz, dh0, dc0, d_kernel


def _lstm_core(masked):
    @tf.custom_gradient
    def core(xw, h0, c0, recurrent_kernel, mask):
        mask_or_none = mask if masked else None
        # The gradient is ours: keep tapes from differentiating the loop.
        hs, cs = _lstm_forward(*_no_tape(xw, h0, c0, recurrent_kernel), mask_or_none)

        def grad(dhs, dcs):
            dhs = tf.zeros_like(hs) if dhs is None else dhs
            dcs = tf.zeros_like(cs) if dcs is None else dcs
            dxw, dh0, dc0, d_kernel = _lstm_backward(
                dhs, dcs, xw, hs, cs, h0, c0, recurrent_kernel, mask_or_none
            )
            return dxw, dh0, dc0, d_kernel, tf.zeros_like(mask)

        return (hs, cs), grad

    return core


_LSTM_CORES = {True: _lstm_core(True), False: _lstm_core(False)}


def lstm(xw, h0, c0, recurrent_kernel, mask=None):
    """Run the LSTM recurrence over time-major pre-activations `xw`.

    Args:
        xw: `(time, batch, 4 * units)`, the input projections `x W + b`.
        h0, c0: `(batch, units)` initial states.
        recurrent_kernel: `(units, 4 * units)`.
        mask: Optional `(time, batch, 1)` float mask (1 = keep the step).

    Returns:
        `(hs, cs)`: the carried states of every step, `(time, batch, units)`.
    """
    masked = mask is not None
    if not masked:
        mask = tf.zeros((0,), xw.dtype)
    # Read variables into tensors here: their gradients then flow through
    # the read, and the custom gradient sees plain tensors only.
    recurrent_kernel = tf.identity(recurrent_kernel)
    return _LSTM_CORES[masked](xw, h0, c0, recurrent_kernel, mask)


# -- GRU (reset_after=True) ---------------------------------------------------
@_compiled
def _gru_forward(xw, h0, recurrent_kernel, recurrent_bias, mask):
    """Returns the carried `h` of every step (gates are recomputed later)."""
    steps = tf.shape(xw)[0]
    units = tf.shape(h0)[-1]
    hs = tf.TensorArray(xw.dtype, size=steps)

    def step(t, carry):
        h, hs = carry
        x = xw[t]
        hu = tf.matmul(h, recurrent_kernel) + recurrent_bias
        zr = tf.sigmoid(x[:, : 2 * units] + hu[:, : 2 * units])
        z, r = zr[:, :units], zr[:, units:]
        n = tf.tanh(x[:, 2 * units :] + r * hu[:, 2 * units :])
        h_new = z * h + (1 - z) * n
        if mask is not None:
            h_new = tf.where(mask[t] > 0, h_new, h)
        return h_new, hs.write(t, h_new)

    _, hs = _loop(step, steps, (h0, hs))
    return hs.stack()


@_compiled
def _gru_backward(dhs, xw, hs, h0, recurrent_kernel, recurrent_bias, mask):
    steps = tf.shape(hs)[0]
    units = tf.shape(h0)[-1]
    h_prevs = _previous(h0, hs)
    hu = _matmul_3d(h_prevs, recurrent_kernel) + recurrent_bias
    zr = tf.sigmoid(xw[..., : 2 * units] + hu[..., : 2 * units])
    z, r = zr[..., :units], zr[..., units:]
    hn = hu[..., 2 * units :]
    n = tf.tanh(xw[..., 2 * units :] + r * hn)
    kernel_t = tf.transpose(recurrent_kernel)
    dxws = tf.TensorArray(hs.dtype, size=steps)

    def step(t, carry):
        dh_next, dxws = carry
        dh = dhs[t] + dh_next
        if mask is not None:
            keep = mask[t]
            dh_skip, dh = dh * (1 - keep), dh * keep
        z_t, r_t, n_t = z[t], r[t], n[t]
        dn = dh * (1 - z_t) * (1 - n_t * n_t)
        dz = dh * (h_prevs[t] - n_t) * z_t * (1 - z_t)
        dr = dn * hn[t] * r_t * (1 - r_t)
        dh_prev = dh * z_t + tf.matmul(tf.concat([dz, dr, dn * r_t], -1), kernel_t)
        if mask is not None:
            dh_prev = dh_prev + dh_skip
        return dh_prev, dxws.write(t, tf.concat([dz, dr, dn], -1))

    dh0, dxws = _loop(step, steps, (tf.zeros_like(h0), dxws), reverse=True)
    dxw = dxws.stack()
    # The recurrent part of the candidate is reset: d(h U)_n = dn * r.
    dhu = tf.concat([dxw[..., : 2 * units], dxw[..., 2 * units :] * r], -1)
    flat_dhu = tf.reshape(dhu, (-1, 3 * units))
    d_kernel = tf.matmul(tf.reshape(h_prevs, (-1, units)), flat_dhu, transpose_a=True)
    return dxw, dh0, d_kernel, tf.reduce_sum(flat_dhu, 0)


def _gru_core(masked):
    @tf.custom_gradient
    def core(xw, h0, recurrent_kernel, recurrent_bias, mask):
        mask_or_none = mask if masked else None
        hs = _gru_forward(
            *_no_tape(xw, h0, recurrent_kernel, recurrent_bias), mask_or_none
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
    """
    masked = mask is not None
    if not masked:
        mask = tf.zeros((0,), xw.dtype)
    recurrent_kernel = tf.identity(recurrent_kernel)
    recurrent_bias = tf.identity(recurrent_bias)
    return _GRU_CORES[masked](xw, h0, recurrent_kernel, recurrent_bias, mask)
