"""The vanilla recurrent network: `SimpleRNNCell` (one step) and `SimpleRNN`
(a sequence), the baseline that shows what the gates of LSTMs and GRUs buy."""

import keras
from keras import ops

from textlstm.layers.base import RecurrentCell, RecurrentLayer, as_state_list
from textlstm.layers.fast.simple_rnn import simple_rnn as fast_simple_rnn


@keras.saving.register_keras_serializable(package="textlstm")
class SimpleRNNCell(RecurrentCell):
    """One step of a fully connected recurrent network (Elman, 1990).

    A readable reimplementation of `keras.layers.SimpleRNNCell` written with
    `keras.ops` only: same arguments, same weights (`kernel` of shape
    `(features, units)`, `recurrent_kernel` `(units, units)`, `bias`
    `(units,)`) and the same results. With `x` the input and `h` the
    previous output:

    ```
    h' = activation(x W + h U + b)      # tanh by default
    ```

    It has no gates, so nothing protects the gradient from vanishing over
    long distances: use it as the baseline against `LSTMCell`/`GRUCell`.
    `textlstm.layers.gate_activations` reports its state `h'` under the key
    `"h"`.

    Args:
        units: Positive integer, dimensionality of the output space.
        activation: Activation of the new state (default `"tanh"`; `None`
            for none).
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
        seed: Random seed for dropout.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`.
        states: The previous output `(batch, units)` (or a list of it).
        training: Python boolean, whether dropout is applied.

    Returns:
        `(h', h')`, the new state in a list when `states` was a list.

    Example:

    >>> import numpy as np, keras
    >>> from textlstm.layers import SimpleRNNCell
    >>> rnn = keras.layers.RNN(SimpleRNNCell(4), return_state=True)
    >>> outputs, h = rnn(np.ones((2, 10, 8), "float32"))
    >>> tuple(outputs.shape), tuple(h.shape)
    ((2, 4), (2, 4))
    """

    # One block (`kernel` is W alone); its state stands in for the gates.
    gate_names = ("h",)
    reported_gates = ("h",)
    serialized_arguments = tuple(
        name
        for name in RecurrentCell.serialized_arguments
        if name != "recurrent_activation"
    )

    def __init__(
        self,
        units,
        activation="tanh",
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
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
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
        self.recurrent_activation = None  # no gates
        self.state_size = units

    def build(self, input_shape):
        super().build(input_shape)
        self.add_gate_weights(input_shape[-1], 1)
        self.add_bias((self.units,))

    def step(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        (h_tm1,) = as_state_list(states)
        (x_h,) = self.project_inputs(inputs, training)
        if self.use_bias:
            x_h = x_h + self.bias
        (h_u,) = self.project_state(h_tm1, training)
        h = self.activation(x_h + h_u)
        return h, ([h] if nested else h), {"h": h}


@keras.saving.register_keras_serializable(package="textlstm")
class SimpleRNN(RecurrentLayer):
    """Fully connected recurrent layer, a drop-in for `keras.layers.SimpleRNN`.

    Runs `textlstm.layers.SimpleRNNCell` over a sequence. It takes the
    arguments of `keras.layers.SimpleRNN`, has the same weights and gives the
    same results, with masks, `go_backwards`, `stateful`, `initial_state`,
    `return_state` and inside `keras.layers.Bidirectional`. With the default
    `tanh` it runs the fast path (`x W + b` of all steps before the loop,
    only `h U` inside it, a hand-written backward pass); `layer.kernel_path`
    says whether the last call ran it (`"fast"`) or the step-by-step cell
    (`"step"`).

    Args:
        units: Positive integer, dimensionality of the output space.
        activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, kernel_regularizer, recurrent_regularizer,
            bias_regularizer, kernel_constraint, recurrent_constraint,
            bias_constraint, dropout, recurrent_dropout, seed: as in
            `textlstm.layers.SimpleRNNCell` (same defaults).
        activity_regularizer: Regularizer of the layer output
            (default `None`).
        return_sequences: Return the full sequence instead of the last
            output (default `False`).
        return_state: Also return the final state (default `False`).
        go_backwards: Process the sequence backwards (default `False`).
        stateful: Carry the last states over to the next batch
            (default `False`).
        unroll: Unroll the loop in the graph (default `False`).

    Call arguments:
        sequences: A 3D tensor `(batch, time, features)`.
        initial_state: Optional initial state (or a list of it).
        mask: Optional boolean tensor `(batch, time)`.
        training: Python boolean, whether dropout is applied.

    Example:

    >>> import numpy as np
    >>> from textlstm.layers import SimpleRNN
    >>> layer = SimpleRNN(4, return_sequences=True, return_state=True)
    >>> sequences, h = layer(np.ones((2, 10, 8), "float32"))
    >>> tuple(sequences.shape), tuple(h.shape)
    ((2, 10, 4), (2, 4))
    """

    cell_class = SimpleRNNCell

    def __init__(
        self,
        units,
        activation="tanh",
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
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        **kwargs,
    ):
        cell = SimpleRNNCell(
            units,
            activation=activation,
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
            dtype=kwargs.get("dtype"),
            trainable=kwargs.get("trainable", True),
            name="simple_rnn_cell",
        )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            activity_regularizer=activity_regularizer,
            **kwargs,
        )

    def fast_loop(self, sequences, initial_state, mask, training):
        if not self.fast_path_applies(sequences, training):
            return None
        bias = self.cell.bias
        recurrent_kernel = ops.convert_to_tensor(self.cell.recurrent_kernel)

        def loop(sequences, mask, h0):
            xw, mask = self.input_projection(sequences, mask, bias)
            hs = fast_simple_rnn(xw, h0, recurrent_kernel, mask)
            return self.pack_outputs(hs, [hs[-1]], mask)

        return self.run_sharded(
            loop, sequences, initial_state, mask, training, recurrent_kernel
        )

    def get_config(self):
        config = super().get_config()
        # `keras.layers.SimpleRNN` takes no `use_cudnn` (cuDNN is not used).
        del config["use_cudnn"]
        return config
