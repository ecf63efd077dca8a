"""cuDNN kernels for exported LSTM and GRU layers, selected at run time.

`textlstm export --target gpu` traces the model inside `paired_with_cudnn`:
each fast-path `LSTM` and `GRU` then runs through a pair of functions that
share one `api_implements` attribute, as tf.keras 2 did. The portable loop
(`api_preferred_device: CPU`) is the one the graph calls; the cuDNN one
(`GPU`, a `CudnnRNNV3` op) is registered beside it. Grappler's
implementation selector swaps in the cuDNN function when the layer is placed
on a GPU; on a CPU the portable function runs, so one export serves on both.

Both functions take the same inputs (the sequences, a float mask, the
states and the weights) and return the fast path's carried states
time-major, so `RecurrentLayer.pack_outputs` finishes either. cuDNN needs
right-padded masks: any other mask runs the portable loop inside the GPU
function too.
"""

from __future__ import annotations

import contextlib
import functools
import uuid

import tensorflow as tf

from textlstm.layers.base import time_major_projection
from textlstm.layers.fast.gru import gru as fast_gru
from textlstm.layers.fast.lstm import lstm as fast_lstm
from textlstm.layers.fast.sharding import sharded
from textlstm.layers.gru import GRU
from textlstm.layers.lstm import LSTM

__all__ = ["paired_with_cudnn"]


@contextlib.contextmanager
def paired_with_cudnn(model):
    """While tracing in this block, the fast-path `LSTM` and `GRU` layers of
    `model` run through a portable / cuDNN pair of functions (see the
    module docstring). Yields how many layers got the pair; on leaving, the
    layers run their own fast loop again.
    """
    patched = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        # Exactly these classes: cuDNN has no peephole or CIFG variant.
        if type(layer) in (LSTM, GRU):
            layer.fast_loop = _selected_loop(layer, layer.fast_loop)
            patched.append(layer)
    try:
        yield len(patched)
    finally:
        for layer in patched:
            del layer.fast_loop  # back to the class's method


def _selected_loop(layer, original):
    is_lstm = isinstance(layer, LSTM)

    def fast_loop(sequences, initial_state, mask, training):
        cell = layer.cell
        if (
            training
            or not cell.use_bias
            or not layer.fast_path_applies(sequences, training)
            or (not is_lstm and not cell.reset_after)
        ):
            return original(sequences, initial_state, mask, training)
        sequences = tf.convert_to_tensor(sequences)
        if mask is None:
            mask = tf.ones(tf.shape(sequences)[:2], tf.bool)
        mask = tf.cast(mask, tf.float32)
        weights = [
            tf.convert_to_tensor(w) for w in (cell.kernel, cell.recurrent_kernel)
        ]
        bias = tf.convert_to_tensor(cell.bias)
        states = [tf.convert_to_tensor(s) for s in initial_state]
        hs, state = _select(
            is_lstm, layer.go_backwards, sequences, mask, *states, *weights, bias
        )
        time_mask = tf.expand_dims(tf.transpose(mask), -1)
        if layer.go_backwards:
            time_mask = tf.reverse(time_mask, [0])
        final = [hs[-1], state] if is_lstm else [hs[-1]]
        return layer.pack_outputs(hs, final, time_mask)

    return fast_loop


def _select(is_lstm, go_backwards, sequences, mask, *tensors):
    """Call the portable function and register the cuDNN one beside it."""
    api = f"textlstm_{'lstm' if is_lstm else 'gru'}_{uuid.uuid4().hex}"
    portable = _portable_lstm if is_lstm else _portable_gru
    cudnn = _cudnn_lstm if is_lstm else _cudnn_gru

    def attributes(device):
        return {
            "api_implements": api,
            "api_preferred_device": device,
            "go_backwards": bool(go_backwards),
        }

    cpu = tf.function(
        functools.partial(portable, go_backwards),
        experimental_attributes=attributes("CPU"),
        autograph=False,
    )
    gpu = tf.function(
        functools.partial(cudnn, go_backwards),
        experimental_attributes=attributes("GPU"),
        autograph=False,
    )
    outputs = cpu(sequences, mask, *tensors)
    registered = gpu.get_concrete_function(sequences, mask, *tensors)
    registered.add_to_graph()
    return outputs


# --------------------------------------------------------------------------- #
# The portable functions: the layers' own fast loops, weights passed in


def _portable_lstm(go_backwards, sequences, mask, h0, c0, kernel, recurrent, bias):
    def loop(sequences, mask, h0, c0):
        xw, m = time_major_projection(sequences, mask, kernel, bias, go_backwards)
        hs, cs = fast_lstm(xw, h0, c0, recurrent, m)
        return hs, cs[-1]

    inputs = [sequences, mask, h0, c0]
    return sharded(loop, inputs, recurrent, axes=[1, 0])


def _portable_gru(go_backwards, sequences, mask, h0, kernel, recurrent, bias):
    def loop(sequences, mask, h0):
        xw, m = time_major_projection(sequences, mask, kernel, bias[0], go_backwards)
        hs = fast_gru(xw, h0, recurrent, bias[1], m)
        return hs, hs[-1]

    return sharded(loop, [sequences, mask, h0], recurrent, axes=[1, 0])


# --------------------------------------------------------------------------- #
# The cuDNN functions


def _cudnn_lstm(go_backwards, sequences, mask, h0, c0, kernel, recurrent, bias):
    def cudnn(lengths):
        # cuDNN has a second bias per gate: zeros keep the Keras math.
        params = _cudnn_params(
            tf.split(kernel, 4, axis=1) + tf.split(recurrent, 4, axis=1),
            tf.split(tf.concat([tf.zeros_like(bias), bias], 0), 8),
        )
        outputs, h, c = _cudnn_call(
            go_backwards, sequences, lengths, "lstm", params, h0, c0
        )
        return _to_carried(go_backwards, outputs, h, h0, lengths), c

    def portable():
        return _portable_lstm(
            go_backwards, sequences, mask, h0, c0, kernel, recurrent, bias
        )

    return _cudnn_or_portable(mask, cudnn, portable)


def _cudnn_gru(go_backwards, sequences, mask, h0, kernel, recurrent, bias):
    def cudnn(lengths):
        # Keras' gate order is z, r, h; cuDNN's (CUDA) is r, z, h.
        w = tf.split(kernel, 3, axis=1)
        u = tf.split(recurrent, 3, axis=1)
        b = tf.split(tf.reshape(bias, [-1]), 6)
        params = _cudnn_params(
            [w[1], w[0], w[2], u[1], u[0], u[2]],
            [b[1], b[0], b[2], b[4], b[3], b[5]],
        )
        outputs, h, _ = _cudnn_call(go_backwards, sequences, lengths, "gru", params, h0)
        return _to_carried(go_backwards, outputs, h, h0, lengths), h

    def portable():
        return _portable_gru(go_backwards, sequences, mask, h0, kernel, recurrent, bias)

    return _cudnn_or_portable(mask, cudnn, portable)


def _cudnn_or_portable(mask, cudnn_fn, portable_fn):
    """cuDNN needs right-padded masks (or their reverse with go_backwards);
    anything else runs the portable loop inside the GPU function.
    """
    keep = mask > 0
    lengths = tf.reduce_sum(tf.cast(keep, tf.int32), 1)
    right_padded = tf.reduce_all(
        tf.equal(keep, tf.sequence_mask(lengths, tf.shape(mask)[1]))
    )
    return tf.cond(right_padded, lambda: cudnn_fn(lengths), portable_fn)


def _to_carried(go_backwards, outputs, final, initial, lengths):
    """cuDNN outputs (batch-major, zeros after each length) -> the fast
    path's carried states, time-major and in its (possibly reversed) order.
    """
    valid = tf.sequence_mask(lengths, tf.shape(outputs)[1])[..., None]
    if go_backwards:
        outputs = tf.reverse_sequence(
            outputs, tf.maximum(lengths, 1), seq_axis=1, batch_axis=0
        )
        carried = tf.reverse(tf.where(valid, outputs, initial[:, None]), [1])
    else:
        carried = tf.where(valid, outputs, final[:, None])
    return tf.transpose(carried, (1, 0, 2))


def _cudnn_params(weights, biases):
    flat = [tf.reshape(tf.transpose(w), [-1]) for w in weights]
    return tf.concat(flat + [tf.reshape(b, [-1]) for b in biases], 0)


def _cudnn_call(go_backwards, sequences, lengths, rnn_mode, params, h0, c0=None):
    """`CudnnRNNV3` on batch-major `sequences`; returns `(outputs, h, c)`."""
    # cuDNN fails on empty sequences: run them one step, then restore the
    # initial state for them.
    safe = tf.maximum(lengths, 1)
    if go_backwards:
        sequences = tf.reverse_sequence(sequences, safe, seq_axis=1, batch_axis=0)
    outputs, h, c, _, _ = tf.raw_ops.CudnnRNNV3(
        input=sequences,
        input_h=tf.expand_dims(h0, 1),
        input_c=0 if c0 is None else tf.expand_dims(c0, 1),
        params=params,
        sequence_lengths=safe,
        rnn_mode=rnn_mode,
        is_training=False,
        time_major=False,
    )
    empty = (lengths == 0)[:, None]
    h = tf.where(empty, h0, tf.squeeze(h, 1))
    if c0 is not None:
        c = tf.where(empty, c0, tf.squeeze(c, 1))
    return outputs, h, c
