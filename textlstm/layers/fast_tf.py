"""The fast path of the textlstm sequence layers on the TensorFlow backend.

Why it is faster than the generic `keras.layers.RNN` loop:

- The input projection `x W + b` of every timestep is one large matmul
  before the loop; only `h U` is left inside it.
- The recurrence is a `tf.while_loop` compiled with XLA
  (`jit_compile=True`): one fused kernel per step instead of a dozen
  TensorFlow ops, which is what dominates at small batch sizes.
- The backward pass is written by hand (`tf.custom_gradient`): a reverse
  loop computes the gate gradients, and the weight gradients are then large
  matmuls over all timesteps at once, instead of one small matmul per step.
- On a CPU, a large batch is split into one shard per core, each with its
  own input projection and loop: TensorFlow runs them concurrently, where
  one XLA loop's small per-step matmul would keep a single core busy
  (`sharded`, `batch_shards`).
- Under XLA, a step reads each gate's per-step inputs from an array of its
  own where the gates are computed separately (GRU, peephole LSTM): XLA
  does not vectorize a fused step that reads one wide input at several
  column offsets (the GRU loop ran 2x slower that way).

The math is exactly the cells' (`LSTMCell` and its peephole, CIFG and
layer-norm variants, `GRUCell` with `reset_after=True`, `SimpleRNNCell`,
default `tanh`/`sigmoid` activations); the layers fall back to the
step-by-step cell whenever this module does not apply.
Inputs here are time-major: `(time, batch, features)`.
"""

import contextlib
import contextvars
import functools
import inspect

import tensorflow as tf

from textlstm.info import usable_cpu_count

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

    Every tensor argument is traced with all of its dimensions unknown, so
    that there is one graph per variant whatever shapes came before: the
    numbers of a run do not depend on what else the process traced first
    (with `reduce_retracing` they did, in the last bits). XLA still
    compiles one kernel per concrete input shape and caches it.
    """
    # A function with an `xla` parameter learns which variant it is traced for.
    takes_xla = "xla" in inspect.signature(fn).parameters

    def traced(xla):
        return (lambda *args: fn(*args, xla=xla)) if takes_xla else fn

    variants = {
        xla: tf.function(traced(xla), jit_compile=xla, autograph=False)
        for xla in (True, False)
    }
    graphs = {}

    def call(*args):
        xla = _XLA.get()
        key = (xla,) + tuple(
            (arg.dtype, arg.shape.rank) if tf.is_tensor(arg) else arg for arg in args
        )
        graph = graphs.get(key)
        if graph is None:
            specs = [
                tf.TensorSpec([None] * arg.shape.rank, arg.dtype)
                if tf.is_tensor(arg)
                else arg
                for arg in args
            ]
            graph = graphs[key] = variants[xla].get_concrete_function(*specs)
        return graph(*args)

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


# A shard needs at least this many rows and this many multiply-adds per
# step in its recurrent matmul: below that, one loop is bound by latency
# and per-op overhead, and a second one only adds work.
MIN_SHARD_ROWS = 16
MIN_SHARD_WORK = 2**20


@functools.cache
def _cpu_shards() -> int:
    """How many concurrent loops pay: the usable cores, 1 where a GPU is."""
    if tf.config.list_logical_devices("GPU"):
        return 1
    cores = usable_cpu_count()
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    return max(1, min(cores, threads or cores))


def _min_shard_rows(recurrent_kernel) -> int:
    size = recurrent_kernel.shape.num_elements() or 1
    return max(MIN_SHARD_ROWS, -(-MIN_SHARD_WORK // size))


def batch_shards(batch, recurrent_kernel) -> int:
    """How many batch shards the fast path runs concurrently.

    One per usable CPU core (none on a GPU machine), each with at least
    `MIN_SHARD_ROWS` rows and `MIN_SHARD_WORK` multiply-adds per step
    (`rows * recurrent_kernel.size`). Row results do not depend on the
    sharding beyond float rounding of the matmuls.

    >>> import tensorflow as tf
    >>> from textlstm.layers.fast_tf import batch_shards
    >>> batch_shards(1, tf.zeros((128, 512)))
    1
    """
    return max(1, min(_cpu_shards(), batch // _min_shard_rows(recurrent_kernel)))


def sharded(run, inputs, recurrent_kernel, axes=0):
    """`run(*inputs)`, split into batch shards that TensorFlow runs concurrently.

    The layers shard their batch-major inputs, before anything else, so
    that each shard projects its own: splitting the time-major projections
    `xw` along their batch axis, and joining their gradients back, copied
    26 MB each way in an LSTM training step at (64, 200, 128, 128), which
    took 74.5 ms that way and 68.5 ms this way (one A/B run).

    Args:
        run: Returns a tensor or a nested structure of tensors.
        inputs: Tensors with the batch on axis 0, or None (passed as is).
            A batch size unknown while tracing is split at run time
            (`tf.cond`) when it is large enough.
        recurrent_kernel: Sizes the work per step (see `batch_shards`).
        axes: The batch axis of `run`'s outputs: one for all of them, or a
            list with one per flattened output.

    Returns:
        `run`'s outputs, the shards' joined along their batch axes.
    """
    batch = inputs[0].shape[0]
    n = _cpu_shards() if batch is None else batch_shards(batch, recurrent_kernel)

    def join(outputs):
        flat = [tf.nest.flatten(output) for output in outputs]
        batch_axes = [axes] * len(flat[0]) if isinstance(axes, int) else axes
        joined = [
            tf.concat(parts, axis)
            for parts, axis in zip(zip(*flat), batch_axes, strict=True)
        ]
        return tf.nest.pack_sequence_as(outputs[0], joined)

    def split_run():
        # Static sizes where the batch is known keep the shards' shapes known.
        if batch is not None:
            sizes = [batch // n + int(k < batch % n) for k in range(n)]
        else:
            size = tf.shape(inputs[0])[0]
            sizes = tf.stack(
                [size // n + tf.cast(k < size % n, tf.int32) for k in range(n)]
            )
        parts = [
            [None] * n if x is None else tf.split(x, sizes, num=n, axis=0)
            for x in inputs
        ]
        return join([run(*args) for args in zip(*parts)])

    if n == 1:
        return run(*inputs)
    if batch is not None:
        return split_run()
    return tf.cond(
        tf.shape(inputs[0])[0] >= n * _min_shard_rows(recurrent_kernel),
        split_run,
        lambda: run(*inputs),
    )


def _with_static_shape(outputs, xw, state):
    """The compiled loops are traced for any shape: give their `(time,
    batch, units)` outputs the shape the inputs imply (layers stacked on top
    would otherwise not even know `units`)."""
    shape = xw.shape[:1].concatenate(state.shape)
    for output in outputs:
        output.set_shape(shape)
    return outputs


def _no_mask(like):
    """The placeholder passed as `mask` to the cores of unmasked loops."""
    return tf.zeros((0,), like.dtype)


def _no_tape(*tensors):
    return [tf.stop_gradient(t) for t in tensors]


# -- LSTM and its variants ------------------------------------------------------
# One loop serves the LSTM family; `variant` (a Python string, fixed while
# tracing) selects the gate equations:
#   "lstm":      gates i, f, g, o (the blocks of `z = x W + b + h U`)
#   "cifg":      gates f, g, o, and i = 1 - f (`CIFGLSTMCell`)
#   "peephole":  i and f also see c, o sees c' through the diagonal weights
#                `extras = [p_i, p_f, p_o]` (`PeepholeLSTMCell`)
#   "layernorm": `z = xa + LN(h U) γ_h`, `h' = o tanh(LN(c') γ_c + β_c)`,
#                with `extras = [γ_h as 4 rows, γ_c, β_c]` and the input
#                side `xa = LN(x W) γ_x + b` computed before the loop
#                (`LayerNormLSTMCell`)
# `extras` is an empty tensor for the other variants.
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


@_compiled
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
    # Per-gate inputs under XLA (see the module docstring).
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

    _, _, hs, cs, kept = _loop(step, steps, (h0, c0, hs, cs, kept))
    gates = kept.stack() if keep_gates else tf.zeros((0,), xw.dtype)
    return hs.stack(), cs.stack(), gates


def _previous(initial, sequence):
    """The state before each step: `[initial, sequence[0], ..., sequence[-2]]`."""
    return tf.concat([initial[None], sequence[:-1]], 0)


def _matmul_3d(x, kernel):
    """`(time, batch, n) @ (n, m)` as one 2D matmul."""
    shape = tf.shape(x)
    flat = tf.matmul(tf.reshape(x, (-1, shape[-1])), kernel)
    return tf.reshape(flat, (shape[0], shape[1], -1))


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


@_compiled
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
    h_prevs, c_prevs = _previous(h0, hs), _previous(c0, cs)
    if layernorm:
        gamma_h = _norms(extras)[0]
        hu_hat, hu_inv_std = block_norm(
            _matmul_3d(h_prevs, recurrent_kernel), 4, epsilon
        )
    if gates.shape.rank != 3:
        # Not stored by the forward pass: all steps at once from the states.
        if layernorm:
            z = xw + hu_hat * gamma_h
        else:
            z = xw + _matmul_3d(h_prevs, recurrent_kernel)
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

    dh0, dc0, dzs, dhus, dh_all = _loop(
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
            *_no_tape(xw, h0, c0, recurrent_kernel, extras),
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
    extras = _no_mask(xw) if extras is None else tf.identity(extras)
    core = _lstm_cores(
        mask is not None,
        bool(keep_gates),
        variant,
        None if epsilon is None else float(epsilon),
    )
    mask = _no_mask(xw) if mask is None else mask
    return _with_static_shape(core(xw, h0, c0, recurrent_kernel, extras, mask), xw, h0)


# -- GRU (reset_after=True) ---------------------------------------------------
@_compiled
def _gru_forward(xw, h0, recurrent_kernel, recurrent_bias, mask, xla):
    """Returns the carried `h` of every step (gates are recomputed later).

    The z/r part of the recurrent bias is added to `xw` once, before the
    loop. Compiled with XLA, each gate reads its own `(time, batch, units)`
    inputs (see the module docstring). As plain
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

    dh0, dh_all = _loop(step, steps, (tf.zeros_like(h0), dh_all), reverse=True)
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

    One loop for the whole batch: callers split a large one with `sharded`.
    """
    recurrent_kernel = tf.identity(recurrent_kernel)
    recurrent_bias = tf.identity(recurrent_bias)
    core = _GRU_CORES[mask is not None]
    mask = _no_mask(xw) if mask is None else mask
    (hs,) = _with_static_shape(
        [core(xw, h0, recurrent_kernel, recurrent_bias, mask)], xw, h0
    )
    return hs


# -- SimpleRNN --------------------------------------------------------------------
@_compiled
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

    _, hs = _loop(step, steps, (h0, hs))
    return hs.stack()


@_compiled
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

    dh0, das = _loop(step, steps, (tf.zeros_like(h0), das), reverse=True)
    da = das.stack()
    d_kernel = tf.matmul(
        tf.reshape(_previous(h0, hs), (-1, units)),
        tf.reshape(da, (-1, units)),
        transpose_a=True,
    )
    return da, dh0, d_kernel


def _simple_rnn_core(masked):
    @tf.custom_gradient
    def core(xw, h0, recurrent_kernel, mask):
        mask_or_none = mask if masked else None
        hs = _simple_rnn_forward(*_no_tape(xw, h0, recurrent_kernel), mask_or_none)

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
    core = _SIMPLE_RNN_CORES[mask is not None]
    mask = _no_mask(xw) if mask is None else mask
    (hs,) = _with_static_shape([core(xw, h0, recurrent_kernel, mask)], xw, h0)
    return hs
