"""The LSTM family's fast loop: forward, hand-written backward, entry point.

One loop serves the LSTM family; `variant` (a Python string, fixed while
tracing) selects the gate equations:

- `"lstm"`: gates i, f, g, o (the blocks of `z = x W + b + h U`)
- `"cifg"`: gates f, g, o, and i = 1 - f (`CIFGLSTMCell`)
- `"peephole"`: i and f also see c, o sees c' through the diagonal weights
  `extras = [p_i, p_f, p_o]` (`PeepholeLSTMCell`)
- `"layernorm"`: `z = xa + LN(h U) γ_h`, `h' = o tanh(LN(c') γ_c + β_c)`,
  with `extras = [γ_h as 4 rows, γ_c, β_c]` and the input side
  `xa = LN(x W) γ_x + b` computed before the loop (`LayerNormLSTMCell`)

`extras` is an empty tensor for the other variants.
"""

import functools

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

#: The gate equations `lstm` implements (see the module docstring).
VARIANTS = ("lstm", "cifg", "peephole", "layernorm")


def _gate_blocks(variant) -> int:
    return 3 if variant == "cifg" else 4


def block_norm(x, blocks, epsilon):
    """Normalize each of `blocks` equal blocks of the last axis of `x`.

    Mean 0 and variance 1 over each block, `epsilon` added to the variance,
    as `LayerNormLSTMCell` does. Returns `(x̂, 1 / σ)`, the second with one
    value per block `(..., blocks, 1)`.
    """
    shape = tf.shape(x)
    split = tf.reshape(x, tf.concat([shape[:-1], [blocks, -1]], 0))
    mean = tf.reduce_mean(split, -1, keepdims=True)
    centered = split - mean
    inv_std = tf.math.rsqrt(
        tf.reduce_mean(tf.square(centered), -1, keepdims=True) + epsilon
    )
    return tf.reshape(centered * inv_std, shape), inv_std


def _block_norm_grad(dy, x_hat, inv_std, blocks):
    """The gradient of `block_norm`'s input, from that of its output `dy`."""
    shape = tf.shape(dy)
    split = tf.concat([shape[:-1], [blocks, -1]], 0)
    dy, x_hat = tf.reshape(dy, split), tf.reshape(x_hat, split)
    mean_dy = tf.reduce_mean(dy, -1, keepdims=True)
    mean_dy_x = tf.reduce_mean(dy * x_hat, -1, keepdims=True)
    return tf.reshape((dy - mean_dy - x_hat * mean_dy_x) * inv_std, shape)


def _norms(extras):
    """`(γ_h, γ_c, β_c)` of the layer-norm variant's `extras`."""
    return tf.reshape(extras[:4], (-1,)), extras[4], extras[5]


def _lstm_cell(variant, z, c, extras, epsilon):
    """`(h', c', gates)` of the pre-activations `z` and the state `c`.

    Works on one step `(batch, ...)` and on all steps `(time, batch, ...)`
    at once. `gates` is the list of activations the backward pass needs.
    """
    units = tf.shape(c)[-1]
    if variant == "peephole":
        # `z` may come as the list of its four blocks (see `_lstm_forward`).
        z_i, z_f, z_g, z_o = z if isinstance(z, list) else tf.split(z, 4, -1)
        i = tf.sigmoid(z_i + extras[0] * c)
        f = tf.sigmoid(z_f + extras[1] * c)
        g = tf.tanh(z_g)
        c_new = f * c + i * g
        o = tf.sigmoid(z_o + extras[2] * c_new)
        return o * tf.tanh(c_new), c_new, [i, f, g, o]
    # One split instead of four slices: the plain-TensorFlow loop (the cpu
    # and gpu exports) pays per op and step.
    if variant == "cifg":
        f, _, o = tf.split(tf.sigmoid(z), 3, -1)
        g = tf.tanh(z[..., units : 2 * units])
        c_new = f * c + (1.0 - f) * g
        return o * tf.tanh(c_new), c_new, [f, g, o]
    i, f, _, o = tf.split(tf.sigmoid(z), 4, -1)
    g = tf.tanh(z[..., 2 * units : 3 * units])
    c_new = f * c + i * g
    c_out = c_new
    if variant == "layernorm":
        _, gamma_c, beta_c = _norms(extras)
        c_out = block_norm(c_new, 1, epsilon)[0] * gamma_c + beta_c
    return o * tf.tanh(c_out), c_new, [i, f, g, o]


def _recurrent(variant, h, recurrent_kernel, extras, epsilon):
    """The recurrent part of one step's `z`: `h U`, or `LN(h U) γ_h`."""
    hu = tf.matmul(h, recurrent_kernel)
    if variant != "layernorm":
        return hu
    return block_norm(hu, 4, epsilon)[0] * _norms(extras)[0]


@compiled
def _lstm_forward(
    xw, h0, c0, recurrent_kernel, extras, mask, keep_gates, variant, epsilon, xla
):
    """Returns the carried `h` and `c` of every step, and the gates.

    With `keep_gates=False` (inference) the gates are not stored (an empty
    tensor is returned): a backward pass recomputes them from the states
    with one large matmul.
    """
    steps = tf.shape(xw)[0]
    hs = tf.TensorArray(xw.dtype, size=steps)
    cs = tf.TensorArray(xw.dtype, size=steps)
    kept = tf.TensorArray(xw.dtype, size=steps if keep_gates else 0)
    # Per-gate inputs under XLA (see `textlstm.layers.fast`).
    per_gate = xla and variant == "peephole"
    x_gates = tf.split(xw, 4, -1) if per_gate else None

    def step(t, carry):
        h, c, hs, cs, kept = carry
        if per_gate:
            h_gates = tf.split(tf.matmul(h, recurrent_kernel), 4, 1)
            z = [x[t] + hu for x, hu in zip(x_gates, h_gates, strict=True)]
        else:
            z = xw[t] + _recurrent(variant, h, recurrent_kernel, extras, epsilon)
        h_new, c_new, gates = _lstm_cell(variant, z, c, extras, epsilon)
        if keep_gates:
            kept = kept.write(t, tf.concat(gates, -1))
        if mask is not None:
            keep = mask[t] > 0
            c_new = tf.where(keep, c_new, c)
            h_new = tf.where(keep, h_new, h)
        return h_new, c_new, hs.write(t, h_new), cs.write(t, c_new), kept

    _, _, hs, cs, kept = unrolled_loop(step, steps, (h0, c0, hs, cs, kept))
    gates = kept.stack() if keep_gates else tf.zeros((0,), xw.dtype)
    return hs.stack(), cs.stack(), gates


def _lstm_coefficients(variant, gates, cs, c_prevs, extras, epsilon):
    """What the backward loop needs that does not depend on its gradients.

    Vectorized over all steps, so the loop keeps only the recurrence. With
    `dh`, `dc` the gradients reaching a step's outputs `h'` and `c'`, the
    loop computes

        dc += dh * dc_from_dh           (layer norm: through LN(c'), see below)
        dz  = [dc, ..., dc, dh] * coefficients      (the gate blocks of z)
        dc_prev = dc * carry,   dh_prev = dz U^T

    Returns `(coefficients, dc_from_dh, carry, state_norm)`; `state_norm` is
    `(ĉ, 1 / σ)` of `LN(c')` for `"layernorm"`, else None. For
    `"layernorm"`, `dc_from_dh` is what reaches `LN(c') γ_c + β_c` from
    `dh`; the loop takes it through `γ_c` and the norm's gradient.
    """
    blocks = tf.split(gates, _gate_blocks(variant), -1)
    state_norm = None
    if variant == "layernorm":
        _, gamma_c, beta_c = _norms(extras)
        state_norm = block_norm(cs, 1, epsilon)
        tanh_c = tf.tanh(state_norm[0] * gamma_c + beta_c)
    else:
        tanh_c = tf.tanh(cs)
    if variant == "cifg":
        f, g, o = blocks
        # c' = f c + (1 - f) g
        dz_f, dz_g = (c_prevs - g) * f * (1 - f), (1 - f) * (1 - g * g)
    else:
        i, f, g, o = blocks
        dz_i, dz_f, dz_g = g * i * (1 - i), c_prevs * f * (1 - f), i * (1 - g * g)
    dz_o = tanh_c * o * (1 - o)
    dc_from_dh = o * (1 - tanh_c * tanh_c)
    carry = f
    if variant == "peephole":
        # o sees c' and i, f see c: their pre-activations pass gradient on.
        p_i, p_f, p_o = extras[0], extras[1], extras[2]
        dc_from_dh = dc_from_dh + dz_o * p_o
        carry = f + dz_i * p_i + dz_f * p_f
    dz = [dz_f, dz_g, dz_o] if variant == "cifg" else [dz_i, dz_f, dz_g, dz_o]
    return tf.concat(dz, -1), dc_from_dh, carry, state_norm


# One piece: the loop reads a dozen tensors set up before it; parts would pass them.
@compiled
def _lstm_backward(
    dhs,
    dcs,
    xw,
    hs,
    cs,
    gates,
    h0,
    c0,
    recurrent_kernel,
    extras,
    mask,
    variant,
    epsilon,
):
    """Gradients of the loop: `xw`, `h0`, `c0`, `U` and the `extras`."""
    steps = tf.shape(hs)[0]
    units = tf.shape(h0)[-1]
    layernorm = variant == "layernorm"
    h_prevs, c_prevs = previous(h0, hs), previous(c0, cs)
    if layernorm:
        gamma_h = _norms(extras)[0]
        hu_hat, hu_inv_std = block_norm(
            matmul_3d(h_prevs, recurrent_kernel), 4, epsilon
        )
    if gates.shape.rank != 3:
        # Not stored by the forward pass: all steps at once from the states.
        if layernorm:
            z = xw + hu_hat * gamma_h
        else:
            z = xw + matmul_3d(h_prevs, recurrent_kernel)
        gates = tf.concat(_lstm_cell(variant, z, c_prevs, extras, epsilon)[2], -1)
    coefficients, dc_from_dh, carry, state_norm = _lstm_coefficients(
        variant, gates, cs, c_prevs, extras, epsilon
    )
    if layernorm:
        gamma_c = _norms(extras)[1]
    from_dc = _gate_blocks(variant) - 1  # every block but o's takes dc
    kernel_t = tf.transpose(recurrent_kernel)
    dzs = tf.TensorArray(hs.dtype, size=steps)
    # Layer norm: also what reaches `h U` (through its norm) and the `dh`.
    dhus = tf.TensorArray(hs.dtype, size=steps if layernorm else 0)
    dh_all = tf.TensorArray(hs.dtype, size=steps if layernorm else 0)

    def step(t, carry_):
        dh_next, dc_next, dzs, dhus, dh_all = carry_
        dh = dhs[t] + dh_next
        dc = dcs[t] + dc_next
        if mask is not None:
            keep = mask[t]
            dh_skip, dc_skip = dh * (1 - keep), dc * (1 - keep)
            dh, dc = dh * keep, dc * keep
        if layernorm:
            c_hat, c_inv_std = state_norm[0][t], state_norm[1][t]
            d_out = dh * dc_from_dh[t] * gamma_c  # what reaches LN(c')
            dc = dc + _block_norm_grad(d_out, c_hat, c_inv_std, 1)
        else:
            dc = dc + dh * dc_from_dh[t]
        dz = tf.concat([dc] * from_dc + [dh], -1) * coefficients[t]
        if layernorm:
            dhu = _block_norm_grad(dz * gamma_h, hu_hat[t], hu_inv_std[t], 4)
            dhus, dh_all = dhus.write(t, dhu), dh_all.write(t, dh)
        else:
            dhu = dz
        dh_prev = tf.matmul(dhu, kernel_t)
        dc_prev = dc * carry[t]
        if mask is not None:
            dh_prev, dc_prev = dh_prev + dh_skip, dc_prev + dc_skip
        return dh_prev, dc_prev, dzs.write(t, dz), dhus, dh_all

    dh0, dc0, dzs, dhus, dh_all = unrolled_loop(
        step,
        steps,
        (tf.zeros_like(h0), tf.zeros_like(c0), dzs, dhus, dh_all),
        reverse=True,
    )
    dz = dzs.stack()
    dhu = dhus.stack() if layernorm else dz
    d_kernel = tf.matmul(
        tf.reshape(h_prevs, (-1, units)),
        tf.reshape(dhu, (-1, _gate_blocks(variant) * units)),
        transpose_a=True,
    )
    if variant == "peephole":
        dz_i, dz_f, _, dz_o = tf.split(dz, 4, -1)
        d_extras = tf.stack(
            [
                tf.reduce_sum(dz_i * c_prevs, (0, 1)),
                tf.reduce_sum(dz_f * c_prevs, (0, 1)),
                tf.reduce_sum(dz_o * cs, (0, 1)),
            ]
        )
    elif layernorm:
        # What reaches LN(c') γ_c + β_c, from which γ_c and β_c get theirs.
        d_out = dh_all.stack() * dc_from_dh
        d_extras = tf.concat(
            [
                tf.reshape(tf.reduce_sum(dz * hu_hat, (0, 1)), (4, -1)),
                tf.reduce_sum(d_out * state_norm[0], (0, 1))[None],
                tf.reduce_sum(d_out, (0, 1))[None],
            ],
            0,
        )
    else:
        d_extras = tf.zeros_like(extras)
    return dz, dh0, dc0, d_kernel, d_extras


def _lstm_core(masked, keep_gates, variant, epsilon):
    @tf.custom_gradient
    def core(xw, h0, c0, recurrent_kernel, extras, mask):
        mask_or_none = mask if masked else None
        # The gradient is ours: keep tapes from differentiating the loop.
        hs, cs, gates = _lstm_forward(
            *no_tape(xw, h0, c0, recurrent_kernel, extras),
            mask_or_none,
            keep_gates,
            variant,
            epsilon,
        )

        def grad(dhs, dcs):
            dhs = tf.zeros_like(hs) if dhs is None else dhs
            dcs = tf.zeros_like(cs) if dcs is None else dcs
            grads = _lstm_backward(
                dhs,
                dcs,
                xw,
                hs,
                cs,
                gates,
                h0,
                c0,
                recurrent_kernel,
                extras,
                mask_or_none,
                variant,
                epsilon,
            )
            return (*grads, tf.zeros_like(mask))

        return (hs, cs), grad

    return core


@functools.cache
def _lstm_cores(masked, keep_gates, variant, epsilon):
    return _lstm_core(masked, keep_gates, variant, epsilon)


def lstm(
    xw,
    h0,
    c0,
    recurrent_kernel,
    mask=None,
    keep_gates=False,
    variant="lstm",
    peepholes=None,
    norms=None,
    epsilon=None,
):
    """Run the LSTM recurrence over time-major pre-activations `xw`.

    Args:
        xw: `(time, batch, gates * units)`, the input projections `x W + b`
            (`gates` is 3 for `"cifg"`, else 4; for `"layernorm"` the
            normalized `LN(x W) γ_x + b`, see `block_norm`).
        h0, c0: `(batch, units)` initial states.
        recurrent_kernel: `(units, gates * units)`.
        mask: Optional `(time, batch, 1)` float mask (1 = keep the step).
        keep_gates: Store the gates for the backward pass (training) instead
            of recomputing them there (inference, where usually no backward
            pass follows).
        variant: `"lstm"`, `"cifg"`, `"peephole"` or `"layernorm"` (see
            `VARIANTS`).
        peepholes: `(3, units)`, the rows `p_i`, `p_f`, `p_o`
            (`"peephole"` only).
        norms: `(6, units)`, the recurrent norm's gain `γ_h` as 4 rows
            (gates i, f, c, o), then the state norm's `γ_c` and `β_c`
            (`"layernorm"` only).
        epsilon: Added to the variances (`"layernorm"` only).

    Returns:
        `(hs, cs)`: the carried states of every step, `(time, batch, units)`.

    One loop for the whole batch: callers split a large one with `sharded`.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if (peepholes is not None) != (variant == "peephole"):
        raise ValueError("peepholes are given exactly for variant 'peephole'")
    layernorm = variant == "layernorm"
    if (norms is not None) != layernorm or (epsilon is not None) != layernorm:
        raise ValueError("norms and epsilon are given exactly for variant 'layernorm'")
    # Read variables into tensors here: their gradients then flow through
    # the read, and the custom gradient sees plain tensors only.
    recurrent_kernel = tf.identity(recurrent_kernel)
    extras = peepholes if peepholes is not None else norms
    extras = no_mask(xw) if extras is None else tf.identity(extras)
    epsilon = None if epsilon is None else float(epsilon)

    def run(mask):
        core = _lstm_cores(mask is not None, bool(keep_gates), variant, epsilon)
        mask = no_mask(xw) if mask is None else mask
        return core(xw, h0, c0, recurrent_kernel, extras, mask)

    return with_static_shape(without_full_mask(run, mask), xw, h0)
