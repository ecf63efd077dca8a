"""Long Short-Term Memory: `LSTMCell` (one step) and `LSTM` (a sequence)."""

import keras
from keras import ops

from textlstm.layers.base import RecurrentCell, RecurrentLayer, as_state_list
from textlstm.layers.fast.lstm import lstm as fast_lstm


@keras.saving.register_keras_serializable(package="textlstm")
class LSTMCell(RecurrentCell):
    """One step of a Long Short-Term Memory network (Hochreiter & Schmidhuber).

    A readable reimplementation of `keras.layers.LSTMCell` written with
    `keras.ops` only. It takes the same arguments, creates the same weights
    (`kernel`, `recurrent_kernel`, `bias`, gate order i, f, c, o) and gives
    the same results, so `cell.set_weights(keras_cell.get_weights())` swaps
    one for the other. Use it inside `keras.layers.RNN`, or use
    `textlstm.layers.LSTM`, which adds a fast path on top of it.

    With `x` the input, `h` the previous output and `c` the previous cell
    state (σ is `recurrent_activation`, tanh is `activation`):

    ```
    i = σ(x W_i + h U_i + b_i)        # input gate
    f = σ(x W_f + h U_f + b_f)        # forget gate
    g = tanh(x W_c + h U_c + b_c)     # candidate cell state
    o = σ(x W_o + h U_o + b_o)        # output gate
    c' = f * c + i * g
    h' = o * tanh(c')
    ```

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation of the candidate and the output
            (default `"tanh"`).
        recurrent_activation: Activation of the gates (default `"sigmoid"`).
        use_bias: Whether the cell uses a bias vector (default `True`).
        kernel_initializer: Initializer of the input kernel
            (default `"glorot_uniform"`).
        recurrent_initializer: Initializer of the recurrent kernel
            (default `"orthogonal"`).
        bias_initializer: Initializer of the bias (default `"zeros"`).
        unit_forget_bias: If `True` (default), add 1 to the forget-gate bias
            at initialization and force `bias_initializer="zeros"` for it.
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
        seed: Random seed for dropout.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: A list `[h, c]` of two 2D tensors `(batch, units)`.
        training: Python boolean, whether dropout is applied.

    Returns:
        `(h', [h', c'])`.

    Example:

    >>> import numpy as np, keras
    >>> from textlstm.layers import LSTMCell
    >>> rnn = keras.layers.RNN(LSTMCell(4), return_state=True)
    >>> outputs, h, c = rnn(np.ones((2, 10, 8), "float32"))
    >>> tuple(outputs.shape), tuple(h.shape), tuple(c.shape)
    ((2, 4), (2, 4), (2, 4))
    """

    gate_names = ("i", "f", "c", "o")
    reported_gates = ("i", "f", "o")

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
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
        self.unit_forget_bias = unit_forget_bias
        self.state_size = [units, units]

    def build(self, input_shape):
        super().build(input_shape)
        # Subclasses with fewer gate blocks (CIFG) reuse this build.
        num_gates = len(self.gate_names)
        self.add_gate_weights(input_shape[-1], num_gates)
        init = None
        if self.unit_forget_bias:
            forget_block = self.gate_names.index("f")
            init = self.forget_bias_initializer(forget_block, num_gates)
        self.add_bias((num_gates * self.units,), initializer=init)

    def step(self, inputs, states, training=False):
        h_tm1, c_tm1 = as_state_list(states)
        x_i, x_f, x_c, x_o = self.project_inputs(inputs, training)
        h_i, h_f, h_c, h_o = self.project_state(h_tm1, training)
        if self.use_bias:
            b_i, b_f, b_c, b_o = ops.split(self.bias, 4)
            x_i, x_f, x_c, x_o = x_i + b_i, x_f + b_f, x_c + b_c, x_o + b_o
        i = self.recurrent_activation(x_i + h_i)
        f = self.recurrent_activation(x_f + h_f)
        g = self.activation(x_c + h_c)
        o = self.recurrent_activation(x_o + h_o)
        c = f * c_tm1 + i * g
        h = o * self.activation(c)
        return h, [h, c], {"i": i, "f": f, "o": o}

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


@keras.saving.register_keras_serializable(package="textlstm")
class LSTM(RecurrentLayer):
    """Long Short-Term Memory layer, a drop-in for `keras.layers.LSTM`.

    Runs `textlstm.layers.LSTMCell` over a sequence. It takes the arguments of
    `keras.layers.LSTM`, has the same weights (`set_weights` works both ways)
    and gives the same results, with masks, `go_backwards`, `stateful`,
    `initial_state`, `return_state` and inside `keras.layers.Bidirectional`.
    `layer.kernel_path` says whether the last call ran the fast path
    (`"fast"`) or the step-by-step cell (`"step"`).

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, recurrent_activation, use_bias, kernel_initializer,
            recurrent_initializer, bias_initializer, unit_forget_bias,
            kernel_regularizer, recurrent_regularizer, bias_regularizer,
            kernel_constraint, recurrent_constraint, bias_constraint,
            dropout, recurrent_dropout, seed: as in
            `textlstm.layers.LSTMCell` (same defaults).
        activity_regularizer: Regularizer of the layer output
            (default `None`).
        return_sequences: Return the full sequence `(batch, time, units)`
            instead of the last output (default `False`).
        return_state: Also return the final states `h` and `c`
            (default `False`).
        go_backwards: Process the sequence backwards and return the
            reversed sequence (default `False`).
        stateful: Use the last state of sample `i` in a batch as the
            initial state of sample `i` in the next batch (default `False`).
        unroll: Unroll the loop in the graph (short sequences only,
            default `False`).
        use_cudnn: Accepted for compatibility with `keras.layers.LSTM`
            (default `"auto"`); cuDNN kernels are chosen at export time.

    Call arguments:
        sequences: A 3D tensor `(batch, time, features)`.
        initial_state: Optional list `[h, c]` of initial states.
        mask: Optional boolean tensor `(batch, time)`; masked steps keep
            the previous state.
        training: Python boolean, whether dropout is applied.

    Example:

    >>> import numpy as np
    >>> from textlstm.layers import LSTM
    >>> layer = LSTM(4, return_sequences=True, return_state=True)
    >>> sequences, h, c = layer(np.ones((2, 10, 8), "float32"))
    >>> tuple(sequences.shape), tuple(h.shape), tuple(c.shape)
    ((2, 10, 4), (2, 4), (2, 4))
    """

    cell_class = LSTMCell
    #: Constructor arguments of `cell_class` beyond `LSTMCell`'s.
    cell_options = ()
    #: Which recurrence of `fast.lstm.lstm` computes this cell's.
    fast_variant = "lstm"

    # One piece: Keras' LSTM signature, every argument handed on by name.
    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
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
        use_cudnn="auto",
        **kwargs,
    ):
        cell_options = {k: kwargs.pop(k) for k in self.cell_options if k in kwargs}
        cell = self.cell_class(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="lstm_cell",
            **cell_options,
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
    def unit_forget_bias(self):
        return self.cell.unit_forget_bias

    def fast_options(self):
        """The variant's own weights `fast.lstm.lstm` takes, as keywords."""
        return {}

    def fast_projection(self, sequences, mask):
        """`(xw, mask)` for `fast.lstm.lstm`: `RecurrentLayer.input_projection`
        with the cell's bias."""
        return self.input_projection(sequences, mask, self.cell.bias)

    def fast_loop(self, sequences, initial_state, mask, training):
        if not self.fast_path_applies(sequences, training):
            return None
        recurrent_kernel = ops.convert_to_tensor(self.cell.recurrent_kernel)
        options = self.fast_options()

        def loop(sequences, mask, h0, c0):
            xw, mask = self.fast_projection(sequences, mask)
            hs, cs = fast_lstm(
                xw,
                h0,
                c0,
                recurrent_kernel,
                mask,
                keep_gates=training,
                variant=self.fast_variant,
                **options,
            )
            return self.pack_outputs(hs, [hs[-1], cs[-1]], mask)

        return self.run_sharded(
            loop, sequences, initial_state, mask, training, recurrent_kernel
        )
