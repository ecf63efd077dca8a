"""Gated Recurrent Unit: `GRUCell` (one step) and `GRU` (a sequence)."""

import keras
from keras import ops

from textlstm.layers.base import RecurrentCell, RecurrentLayer, as_state_list
from textlstm.layers.fast.gru import gru as fast_gru


@keras.saving.register_keras_serializable(package="textlstm")
class GRUCell(RecurrentCell):
    """One step of a Gated Recurrent Unit (Cho et al., 2014).

    A readable reimplementation of `keras.layers.GRUCell` written with
    `keras.ops` only: same arguments, same weights (`kernel`,
    `recurrent_kernel`, `bias`; gate order z, r, h; bias of shape
    `(2, 3 * units)` when `reset_after=True`, `(3 * units,)` otherwise) and
    the same results. With σ the `recurrent_activation`:

    ```
    z = σ(x W_z + h U_z + b_z)                        # update gate
    r = σ(x W_r + h U_r + b_r)                        # reset gate
    reset_after=True:  n = tanh(x W_h + b_h + r * (h U_h + b'_h))
    reset_after=False: n = tanh(x W_h + (r * h) U_h + b_h)
    h' = z * h + (1 - z) * n
    ```

    `reset_after=True` (the default) is the cuDNN-compatible variant; with
    it, the recurrent bias `b'` is the second row of `bias`.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation of the candidate (default `"tanh"`).
        recurrent_activation: Activation of the gates (default `"sigmoid"`).
        use_bias: Whether the cell uses a bias vector (default `True`).
        kernel_initializer: Initializer of the input kernel
            (default `"glorot_uniform"`).
        recurrent_initializer: Initializer of the recurrent kernel
            (default `"orthogonal"`).
        bias_initializer: Initializer of the bias (default `"zeros"`).
        kernel_regularizer: Regularizer of `kernel` (default `None`).
        recurrent_regularizer: Regularizer of `recurrent_kernel`
            (default `None`).
        bias_regularizer: Regularizer of `bias` (default `None`).
        kernel_constraint: Constraint on `kernel` (default `None`).
        recurrent_constraint: Constraint on `recurrent_kernel`
            (default `None`).
        bias_constraint: Constraint on `bias` (default `None`).
        dropout: Float in [0, 1], fraction of the input units to drop
            (default 0).
        recurrent_dropout: Float in [0, 1], fraction of the recurrent units
            to drop (default 0).
        reset_after: Apply the reset gate after the recurrent matmul
            (default `True`).
        seed: Random seed for dropout.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: The previous output `(batch, units)` (or a list of it).
        training: Python boolean, whether dropout is applied.

    Returns:
        `(h', h')`, the new state in a list when `states` was a list.

    Example:

    >>> import numpy as np, keras
    >>> from textlstm.layers import GRUCell
    >>> rnn = keras.layers.RNN(GRUCell(4, reset_after=False))
    >>> tuple(rnn(np.ones((2, 10, 8), "float32")).shape)
    (2, 4)
    """

    gate_names = ("z", "r", "h")
    reported_gates = ("z", "r")

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **kwargs,
        )
        self.reset_after = reset_after
        self.state_size = units

    def build(self, input_shape):
        super().build(input_shape)
        self.add_gate_weights(input_shape[-1], 3)
        self.add_bias((2, 3 * self.units) if self.reset_after else (3 * self.units,))

    def step(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        (h_tm1,) = as_state_list(states)
        x_z, x_r, x_h = self.project_inputs(inputs, training)
        if self.use_bias:
            input_bias = self.bias[0] if self.reset_after else self.bias
            b_z, b_r, b_h = ops.split(input_bias, 3)
            x_z, x_r, x_h = x_z + b_z, x_r + b_r, x_h + b_h

        if self.reset_after:
            # All three recurrent projections are taken before the reset.
            r_z, r_r, r_h = self.project_state(h_tm1, training)
            if self.use_bias:
                rb_z, rb_r, rb_h = ops.split(self.bias[1], 3)
                r_z, r_r, r_h = r_z + rb_z, r_r + rb_r, r_h + rb_h
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            n = self.activation(x_h + r * r_h)
        else:
            r_z, r_r = self.project_state(h_tm1, training, num_gates=2)
            z = self.recurrent_activation(x_z + r_z)
            r = self.recurrent_activation(x_r + r_r)
            h_h = self.dropped_state(h_tm1, training)[2]
            u_h = self.recurrent_kernel[:, 2 * self.units :]
            n = self.activation(x_h + ops.matmul(r * h_h, u_h))

        h = z * h_tm1 + (1 - z) * n
        return h, ([h] if nested else h), {"z": z, "r": r}

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


@keras.saving.register_keras_serializable(package="textlstm")
class GRU(RecurrentLayer):
    """Gated Recurrent Unit layer, a drop-in for `keras.layers.GRU`.

    Runs `textlstm.layers.GRUCell` over a sequence. It takes the arguments of
    `keras.layers.GRU`, has the same weights and gives the same results, with
    masks, `go_backwards`, `stateful`, `initial_state`, `return_state` and
    inside `keras.layers.Bidirectional`. `layer.kernel_path` says whether
    the last call ran the fast path (`"fast"`) or the step-by-step cell
    (`"step"`).

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, recurrent_activation, use_bias, kernel_initializer,
            recurrent_initializer, bias_initializer, kernel_regularizer,
            recurrent_regularizer, bias_regularizer, kernel_constraint,
            recurrent_constraint, bias_constraint, dropout,
            recurrent_dropout, reset_after, seed: as in
            `textlstm.layers.GRUCell` (same defaults).
        activity_regularizer: Regularizer of the layer output
            (default `None`).
        return_sequences: Return the full sequence instead of the last
            output (default `False`).
        return_state: Also return the final state (default `False`).
        go_backwards: Process the sequence backwards (default `False`).
        stateful: Carry the last states over to the next batch
            (default `False`).
        unroll: Unroll the loop in the graph (default `False`).
        use_cudnn: Accepted for compatibility with `keras.layers.GRU`
            (default `"auto"`); cuDNN kernels are chosen at export time.

    Call arguments:
        sequences: A 3D tensor `(batch, time, features)`.
        initial_state: Optional initial state (or a list of it).
        mask: Optional boolean tensor `(batch, time)`.
        training: Python boolean, whether dropout is applied.

    Example:

    >>> import numpy as np
    >>> from textlstm.layers import GRU
    >>> layer = GRU(4, return_state=True)
    >>> output, h = layer(np.ones((2, 10, 8), "float32"))
    >>> tuple(output.shape), tuple(h.shape)
    ((2, 4), (2, 4))
    """

    cell_class = GRUCell

    # One piece: Keras' GRU signature, every argument handed on by name.
    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        reset_after=True,
        use_cudnn="auto",
        **kwargs,
    ):
        cell = GRUCell(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            reset_after=reset_after,
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="gru_cell",
        )
        super().__init__(
            cell,
            use_cudnn=use_cudnn,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )

    @property
    def reset_after(self):
        return self.cell.reset_after

    def fast_loop(self, sequences, initial_state, mask, training):
        cell = self.cell
        if not (cell.reset_after and self.fast_path_applies(sequences, training)):
            return None
        input_bias = recurrent_bias = None
        if cell.use_bias:
            input_bias, recurrent_bias = cell.bias[0], cell.bias[1]
        else:
            recurrent_bias = ops.zeros((3 * cell.units,), sequences.dtype)
        recurrent_kernel = ops.convert_to_tensor(cell.recurrent_kernel)
        recurrent_bias = ops.convert_to_tensor(recurrent_bias)

        def loop(sequences, mask, h0):
            xw, mask = self.input_projection(sequences, mask, input_bias)
            hs = fast_gru(xw, h0, recurrent_kernel, recurrent_bias, mask)
            return self.pack_outputs(hs, [hs[-1]], mask)

        return self.run_sharded(
            loop, sequences, initial_state, mask, training, recurrent_kernel
        )
