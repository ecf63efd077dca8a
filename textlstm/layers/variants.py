"""LSTM variants Keras does not ship: peephole, layer-normalized and CIFG.

Each is a cell for `keras.layers.RNN` (and `Bidirectional`, stacks, masks,
dropout...), built on the same `kernel` / `recurrent_kernel` / `bias` layout
as `textlstm.layers.LSTMCell`, so an LSTM's weights are a natural starting
point for each of them. Each also comes as a sequence layer,
`PeepholeLSTM`, `LayerNormLSTM` and `CIFGLSTM`, that runs the fast path of
`textlstm.layers.LSTM`.
"""

import keras
from keras import ops

from textlstm.layers.base import as_state_list
from textlstm.layers.fast.lstm import block_norm
from textlstm.layers.lstm import LSTM, LSTMCell


@keras.saving.register_keras_serializable(package="textlstm")
class PeepholeLSTMCell(LSTMCell):
    """LSTM cell with peephole connections (Gers & Schmidhuber, 2000).

    The gates also look at the cell state: the input and forget gates at the
    previous state `c`, the output gate at the new state `c'`, through
    diagonal (element-wise) peephole weights `p_i`, `p_f`, `p_o`:

    ```
    i = σ(x W_i + h U_i + p_i * c + b_i)
    f = σ(x W_f + h U_f + p_f * c + b_f)
    g = tanh(x W_c + h U_c + b_c)
    c' = f * c + i * g
    o = σ(x W_o + h U_o + p_o * c' + b_o)
    h' = o * tanh(c')
    ```

    Peepholes help on tasks that need precise timing or counting. The
    weights are those of `LSTMCell` plus `input_gate_peephole_weights`,
    `forget_gate_peephole_weights` and `output_gate_peephole_weights`, each
    of shape `(units,)` (the names tf.keras 2 used).

    Args:
        units: Positive integer, dimensionality of the output space.
        peephole_initializer: Initializer of the peephole weights
            (default `"glorot_uniform"`, as in tf.keras 2).
        **kwargs: Every argument of `textlstm.layers.LSTMCell`.

    Example:

    >>> import numpy as np, keras
    >>> from textlstm.layers import PeepholeLSTMCell
    >>> rnn = keras.layers.RNN(PeepholeLSTMCell(4))
    >>> tuple(rnn(np.ones((2, 10, 8), "float32")).shape)
    (2, 4)
    """

    def __init__(self, units, peephole_initializer="glorot_uniform", **kwargs):
        super().__init__(units, **kwargs)
        self.peephole_initializer = keras.initializers.get(peephole_initializer)

    def build(self, input_shape):
        super().build(input_shape)
        for gate in ("input", "forget", "output"):
            weight = self.add_weight(
                shape=(self.units,),
                name=f"{gate}_gate_peephole_weights",
                initializer=self.peephole_initializer,
            )
            setattr(self, f"{gate}_gate_peephole_weights", weight)

    def step(self, inputs, states, training=False):
        h_tm1, c_tm1 = as_state_list(states)
        x_i, x_f, x_c, x_o = self.project_inputs(inputs, training)
        h_i, h_f, h_c, h_o = self.project_state(h_tm1, training)
        if self.use_bias:
            b_i, b_f, b_c, b_o = ops.split(self.bias, 4)
            x_i, x_f, x_c, x_o = x_i + b_i, x_f + b_f, x_c + b_c, x_o + b_o
        i = self.recurrent_activation(
            x_i + h_i + self.input_gate_peephole_weights * c_tm1
        )
        f = self.recurrent_activation(
            x_f + h_f + self.forget_gate_peephole_weights * c_tm1
        )
        g = self.activation(x_c + h_c)
        c = f * c_tm1 + i * g
        o = self.recurrent_activation(x_o + h_o + self.output_gate_peephole_weights * c)
        h = o * self.activation(c)
        return h, [h, c], {"i": i, "f": f, "o": o}

    def get_config(self):
        return {
            **super().get_config(),
            "peephole_initializer": keras.initializers.serialize(
                self.peephole_initializer
            ),
        }


@keras.saving.register_keras_serializable(package="textlstm")
class LayerNormLSTMCell(LSTMCell):
    """LSTM cell with layer normalization (Ba, Kiros & Hinton, 2016).

    The input and recurrent pre-activations are normalized separately, gate
    by gate, and the cell state is normalized before the output
    non-linearity. `LN` normalizes each gate block over its `units`
    features (mean 0, variance 1, `epsilon` added to the variance) and
    scales by a learned gain γ; the state norm also adds a learned shift β:

    ```
    [a_i, a_f, a_c, a_o] = LN_x(x W; γ_x) + LN_h(h U; γ_h) + b
    i, f, o = σ(a_i), σ(a_f), σ(a_o)     g = tanh(a_c)
    c' = f * c + i * g
    h' = o * tanh(LN_c(c'; γ_c, β_c))
    ```

    The unnormalized `c'` is carried to the next step. The input and
    recurrent norms have no shift of their own: `b` plays that role. Layer
    normalization makes training less sensitive to the learning rate and to
    long sequences, at the cost of a few more operations per step.

    Weights: those of `LSTMCell` plus `kernel_norm_gamma` and
    `recurrent_norm_gamma` of shape `(4 * units,)`, `state_norm_gamma` and
    `state_norm_beta` of shape `(units,)`.

    Args:
        units: Positive integer, dimensionality of the output space.
        epsilon: Small float added to the variance (default `1e-3`, as in
            `keras.layers.LayerNormalization`).
        **kwargs: Every argument of `textlstm.layers.LSTMCell`.

    Example:

    >>> import numpy as np, keras
    >>> from textlstm.layers import LayerNormLSTMCell
    >>> rnn = keras.layers.RNN(LayerNormLSTMCell(4), return_sequences=True)
    >>> tuple(rnn(np.ones((2, 10, 8), "float32")).shape)
    (2, 10, 4)
    """

    def __init__(self, units, epsilon=1e-3, **kwargs):
        super().__init__(units, **kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        super().build(input_shape)
        self.kernel_norm_gamma = self.add_weight(
            shape=(4 * self.units,), name="kernel_norm_gamma", initializer="ones"
        )
        self.recurrent_norm_gamma = self.add_weight(
            shape=(4 * self.units,), name="recurrent_norm_gamma", initializer="ones"
        )
        self.state_norm_gamma = self.add_weight(
            shape=(self.units,), name="state_norm_gamma", initializer="ones"
        )
        self.state_norm_beta = self.add_weight(
            shape=(self.units,), name="state_norm_beta", initializer="zeros"
        )

    def _normalize(self, x, gamma, num_blocks):
        """Layer-normalize each of `num_blocks` blocks of the last axis."""
        blocks = ops.reshape(x, (-1, num_blocks, self.units))
        mean = ops.mean(blocks, axis=-1, keepdims=True)
        variance = ops.var(blocks, axis=-1, keepdims=True)
        blocks = (blocks - mean) * ops.rsqrt(variance + self.epsilon)
        return ops.reshape(blocks, (-1, num_blocks * self.units)) * gamma

    def step(self, inputs, states, training=False):
        h_tm1, c_tm1 = as_state_list(states)
        x_parts = self.project_inputs(inputs, training)
        h_parts = self.project_state(h_tm1, training)
        a = self._normalize(
            ops.concatenate(x_parts, axis=-1), self.kernel_norm_gamma, 4
        ) + self._normalize(
            ops.concatenate(h_parts, axis=-1), self.recurrent_norm_gamma, 4
        )
        if self.use_bias:
            a = a + self.bias
        a_i, a_f, a_c, a_o = ops.split(a, 4, axis=-1)
        i = self.recurrent_activation(a_i)
        f = self.recurrent_activation(a_f)
        g = self.activation(a_c)
        o = self.recurrent_activation(a_o)
        c = f * c_tm1 + i * g
        c_norm = self._normalize(c, self.state_norm_gamma, 1) + self.state_norm_beta
        h = o * self.activation(c_norm)
        return h, [h, c], {"i": i, "f": f, "o": o}

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="textlstm")
class CIFGLSTMCell(LSTMCell):
    """LSTM cell with a coupled input and forget gate (CIFG).

    The input gate is tied to the forget gate, `i = 1 - f`: the cell writes
    exactly as much as it forgets. Greff et al. (2017, "LSTM: A Search Space
    Odyssey") found this variant as accurate as the full LSTM on their
    tasks, with a quarter fewer weights:

    ```
    f = σ(x W_f + h U_f + b_f)
    g = tanh(x W_c + h U_c + b_c)
    o = σ(x W_o + h U_o + b_o)
    c' = f * c + (1 - f) * g
    h' = o * tanh(c')
    ```

    The weights have three gate blocks in the order f, c, o: `kernel`
    `(input_dim, 3 * units)`, `recurrent_kernel` `(units, 3 * units)`, `bias`
    `(3 * units,)`. `unit_forget_bias=True` initializes the forget bias to 1.

    Args:
        units: Positive integer, dimensionality of the output space.
        **kwargs: Every argument of `textlstm.layers.LSTMCell`.

    Example:

    >>> import numpy as np, keras
    >>> from textlstm.layers import CIFGLSTMCell
    >>> cell = CIFGLSTMCell(4)
    >>> _ = keras.layers.RNN(cell)(np.ones((2, 10, 8), "float32"))
    >>> tuple(cell.recurrent_kernel.shape)
    (4, 12)
    """

    gate_names = ("f", "c", "o")

    def step(self, inputs, states, training=False):
        h_tm1, c_tm1 = as_state_list(states)
        x_f, x_c, x_o = self.project_inputs(inputs, training)
        h_f, h_c, h_o = self.project_state(h_tm1, training)
        if self.use_bias:
            b_f, b_c, b_o = ops.split(self.bias, 3)
            x_f, x_c, x_o = x_f + b_f, x_c + b_c, x_o + b_o
        f = self.recurrent_activation(x_f + h_f)
        g = self.activation(x_c + h_c)
        o = self.recurrent_activation(x_o + h_o)
        i = 1.0 - f
        c = f * c_tm1 + i * g
        h = o * self.activation(c)
        return h, [h, c], {"i": i, "f": f, "o": o}


@keras.saving.register_keras_serializable(package="textlstm")
class PeepholeLSTM(LSTM):
    """Peephole LSTM layer: `PeepholeLSTMCell` over a sequence, fast.

    Computes what `keras.layers.RNN(PeepholeLSTMCell(units))` computes, with
    the same weights, but on the TensorFlow backend runs the fused loop of
    `textlstm.layers.LSTM` (hoisted input projection, compiled recurrence,
    hand-written backward pass) whenever it is exact, and the cell
    otherwise; `layer.kernel_path` says which ran.

    Args:
        units: Positive integer, dimensionality of the output space.
        peephole_initializer: Initializer of the peephole weights
            (default `"glorot_uniform"`).
        **kwargs: Every argument of `textlstm.layers.LSTM`.

    Example:

    >>> import numpy as np
    >>> from textlstm.layers import PeepholeLSTM
    >>> layer = PeepholeLSTM(4, return_sequences=True)
    >>> tuple(layer(np.ones((2, 10, 8), "float32")).shape), layer.kernel_path
    ((2, 10, 4), 'fast')
    """

    cell_class = PeepholeLSTMCell
    cell_options = ("peephole_initializer",)
    fast_variant = "peephole"

    def fast_options(self):
        cell = self.cell
        weights = (
            cell.input_gate_peephole_weights,
            cell.forget_gate_peephole_weights,
            cell.output_gate_peephole_weights,
        )
        return {"peepholes": ops.stack([w.value for w in weights])}


@keras.saving.register_keras_serializable(package="textlstm")
class CIFGLSTM(LSTM):
    """CIFG LSTM layer: `CIFGLSTMCell` over a sequence, fast.

    Computes what `keras.layers.RNN(CIFGLSTMCell(units))` computes, with the
    same weights (three gate blocks f, c, o), but on the TensorFlow backend
    runs the fused loop of `textlstm.layers.LSTM` whenever it is exact, and
    the cell otherwise; `layer.kernel_path` says which ran.

    Args:
        units: Positive integer, dimensionality of the output space.
        **kwargs: Every argument of `textlstm.layers.LSTM`.

    Example:

    >>> import numpy as np
    >>> from textlstm.layers import CIFGLSTM
    >>> layer = CIFGLSTM(4)
    >>> tuple(layer(np.ones((2, 10, 8), "float32")).shape), layer.kernel_path
    ((2, 4), 'fast')
    """

    cell_class = CIFGLSTMCell
    fast_variant = "cifg"


@keras.saving.register_keras_serializable(package="textlstm")
class LayerNormLSTM(LSTM):
    """Layer-normalized LSTM layer: `LayerNormLSTMCell` over a sequence, fast.

    Computes what `keras.layers.RNN(LayerNormLSTMCell(units))` computes,
    with the same weights, but on the TensorFlow backend runs the fused loop
    of `textlstm.layers.LSTM` whenever it is exact, and the cell otherwise;
    `layer.kernel_path` says which ran. The input-side norm `LN(x W) γ_x`
    of all steps is computed before the loop; the recurrent and state norms
    run inside it, and the hand-written backward pass carries their
    gradients too.

    Args:
        units: Positive integer, dimensionality of the output space.
        epsilon: Small float added to the variances (default `1e-3`).
        **kwargs: Every argument of `textlstm.layers.LSTM`.

    Example:

    >>> import numpy as np
    >>> from textlstm.layers import LayerNormLSTM
    >>> layer = LayerNormLSTM(4, return_sequences=True)
    >>> tuple(layer(np.ones((2, 10, 8), "float32")).shape), layer.kernel_path
    ((2, 10, 4), 'fast')
    """

    cell_class = LayerNormLSTMCell
    cell_options = ("epsilon",)
    fast_variant = "layernorm"

    def fast_options(self):
        cell = self.cell
        norms = ops.concatenate(
            [
                ops.reshape(cell.recurrent_norm_gamma.value, (4, -1)),
                cell.state_norm_gamma.value[None],
                cell.state_norm_beta.value[None],
            ],
            axis=0,
        )
        return {"norms": norms, "epsilon": cell.epsilon}

    def fast_projection(self, sequences, mask):
        cell = self.cell
        xw, mask = self.input_projection(sequences, mask, None)
        xw = block_norm(xw, 4, cell.epsilon)[0] * cell.kernel_norm_gamma
        if cell.use_bias:
            xw = xw + cell.bias
        return xw, mask
