"""Shared machinery of the textlstm recurrent cells and sequence layers.

Everything numerical lives in the cell files (`lstm.py`, `gru.py`, ...); this
module holds what every cell repeats: argument handling that mirrors the Keras
built-ins, dropout masks, `get_config`, and the sequence-layer base class with
the seam where the fast path plugs in.
"""

import keras
from keras import activations, constraints, initializers, ops, regularizers

# `keras.layers.RNN` pre-computes dropout masks before its loop only for cells
# that derive from this mixin (`RNN._maybe_config_dropout_masks` checks with
# `isinstance`). Deriving from it keeps our cells drop-in compatible inside
# `keras.layers.RNN`, including under `jit_compile` and on the JAX backend.
# Keras does not export it publicly, hence the private import.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from textlstm.layers.fast.sharding import sharded

# Constructor arguments shared by every cell, in the order Keras uses them.
_SERIALIZED = {
    "activation": activations,
    "recurrent_activation": activations,
    "kernel_initializer": initializers,
    "recurrent_initializer": initializers,
    "bias_initializer": initializers,
    "kernel_regularizer": regularizers,
    "recurrent_regularizer": regularizers,
    "bias_regularizer": regularizers,
    "kernel_constraint": constraints,
    "recurrent_constraint": constraints,
    "bias_constraint": constraints,
}


class RecurrentCell(keras.layers.Layer, DropoutRNNCell):
    """Base class of the textlstm cells: arguments, weights helpers, config.

    Subclasses set `gate_names` (the order of the gate blocks in `kernel`),
    implement `build()` and `step()`. `step()` returns the output, the new
    states and a dict of gate activations; `call()` drops the gates, so the
    cell satisfies the `keras.layers.RNN` cell protocol, and
    `textlstm.layers.gate_activations` reads them.
    """

    gate_names: tuple = ()
    #: Gate activations reported by `gate_activations` (a subset of gates).
    reported_gates: tuple = ()
    #: The arguments `get_config` serializes (a cell without gates, such as
    #: `SimpleRNNCell`, has no `recurrent_activation`).
    serialized_arguments: tuple = tuple(_SERIALIZED)

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
        seed=None,
        **kwargs,
    ):
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(
                "Received an invalid value for argument `units`, "
                f"expected a positive integer, got {units}."
            )
        # Accepted for compatibility with the Keras cells; the math here does
        # not depend on it.
        kwargs.pop("implementation", None)
        super().__init__(**kwargs)
        self.units = units
        self.use_bias = use_bias
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = min(1.0, max(0.0, float(dropout)))
        self.recurrent_dropout = min(1.0, max(0.0, float(recurrent_dropout)))
        if self.recurrent_dropout:
            # As in Keras: one independent mask per gate block when the
            # recurrent connections are dropped too.
            self.dropout_mask_count = len(self.gate_names)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed=seed)
        self.output_size = units

    # -- weights ---------------------------------------------------------
    def add_gate_weights(self, input_dim, num_gates, bias_initializer=None):
        """Create `kernel`, `recurrent_kernel` and `bias` as Keras does."""
        self.kernel = self.add_weight(
            shape=(input_dim, num_gates * self.units),
            name="kernel",
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, num_gates * self.units),
            name="recurrent_kernel",
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
        )

    def add_bias(self, shape, initializer=None):
        """Create the `bias` weight (or set it to None without `use_bias`)."""
        if not self.use_bias:
            self.bias = None
            return
        self.bias = self.add_weight(
            shape=shape,
            name="bias",
            initializer=initializer or self.bias_initializer,
            regularizer=self.bias_regularizer,
            constraint=self.bias_constraint,
        )

    def forget_bias_initializer(self, forget_block, num_gates):
        """An initializer that puts ones in gate block `forget_block`.

        This is Keras' `unit_forget_bias=True` (Jozefowicz et al., 2015).
        """

        def initializer(_, *args, **kwargs):
            blocks = [
                self.bias_initializer((self.units,), *args, **kwargs)
                for _ in range(num_gates)
            ]
            blocks[forget_block] = initializers.get("ones")(
                (self.units,), *args, **kwargs
            )
            return ops.concatenate(blocks)

        return initializer

    # -- dropout ---------------------------------------------------------
    def dropped_inputs(self, inputs, training):
        """Inputs with the per-sequence dropout mask applied, per gate block.

        Returns a list with one tensor per gate (the same tensor repeated when
        a single mask is shared by all gates).
        """
        count = len(self.gate_names)
        if training and 0.0 < self.dropout < 1.0:
            mask = self.get_dropout_mask(inputs)
            if isinstance(mask, (list, tuple)):
                return [inputs * m for m in mask]
            return [inputs * mask] * count
        return [inputs] * count

    def dropped_state(self, h_tm1, training):
        """The previous output with the recurrent dropout mask, per gate."""
        count = len(self.gate_names)
        if training and 0.0 < self.recurrent_dropout < 1.0:
            mask = self.get_recurrent_dropout_mask(h_tm1)
            return [h_tm1 * m for m in mask]
        return [h_tm1] * count

    def project_inputs(self, inputs, training):
        """Per-gate input projections `x W_k` (no bias), as a list.

        Without dropout, or with one mask shared by all gates, this is one
        fused matmul; with per-gate masks each gate sees its own copy.
        """
        return _project(self.dropped_inputs(inputs, training), self.kernel)

    def project_state(self, h_tm1, training, num_gates=None):
        """Recurrent projections `h U_k` of the first `num_gates` gates."""
        hs = self.dropped_state(h_tm1, training)[:num_gates]
        kernel = self.recurrent_kernel
        if num_gates is not None:
            kernel = kernel[:, : num_gates * self.units]
        return _project(hs, kernel)

    # -- protocol --------------------------------------------------------
    def step(self, inputs, states, training=False):
        """One timestep: returns `(output, new_states, gates)`."""
        raise NotImplementedError

    def call(self, inputs, states, training=False):
        output, new_states, _ = self.step(inputs, states, training=training)
        return output, new_states

    def get_initial_state(self, batch_size=None):
        sizes = (
            self.state_size if isinstance(self.state_size, list) else [self.state_size]
        )
        return [ops.zeros((batch_size, d), dtype=self.compute_dtype) for d in sizes]

    def get_config(self):
        config = {"units": self.units, "use_bias": self.use_bias}
        for name in self.serialized_arguments:
            config[name] = _SERIALIZED[name].serialize(getattr(self, name))
        config.update(
            dropout=self.dropout,
            recurrent_dropout=self.recurrent_dropout,
            seed=self.seed,
        )
        return {**super().get_config(), **config}


def _project(xs, kernel):
    """`[x W_k for each gate k]`, fused when all gates share one input."""
    if all(x is xs[0] for x in xs):
        return ops.split(ops.matmul(xs[0], kernel), len(xs), axis=-1)
    return [ops.matmul(x, k) for x, k in zip(xs, ops.split(kernel, len(xs), axis=-1))]


def time_major_projection(sequences, mask, kernel, input_bias, go_backwards):
    """`x W + b` for every step at once, time-major, with the mask.

    The input projection of the fast paths, with the kernel passed in (the
    cuDNN pairing of `textlstm.layers.cudnn` takes it as a function input).

    Returns `(xw, mask)`: `(time, batch, gates * units)` and a float
    `(time, batch, 1)` mask or None, both reversed for `go_backwards`.
    """
    # Time-major first (the inputs are narrower than the projections),
    # then one 2D matmul: a 3D matmul would broadcast the kernel.
    sequences = ops.transpose(sequences, (1, 0, 2))
    if go_backwards:
        sequences = ops.flip(sequences, 0)
    steps, batch = ops.shape(sequences)[0], ops.shape(sequences)[1]
    flat = ops.reshape(sequences, (-1, sequences.shape[-1]))
    xw = ops.matmul(flat, kernel)
    if input_bias is not None:
        xw = xw + input_bias
    xw = ops.reshape(xw, (steps, batch, xw.shape[-1]))
    if mask is not None:
        mask = ops.expand_dims(ops.transpose(ops.cast(mask, xw.dtype)), -1)
        if go_backwards:
            mask = ops.flip(mask, 0)
    return xw, mask


def as_state_list(states):
    """Cells receive states as a list, or as a bare tensor for one state."""
    return list(states) if isinstance(states, (list, tuple)) else [states]


class RecurrentLayer(keras.layers.RNN):
    """Base of `textlstm.layers.LSTM`, `GRU` and `SimpleRNN`: a
    `keras.layers.RNN` whose loop can be replaced by a fast path.

    `inner_loop` first asks `fast_loop` for a result; a subclass returns
    `None` there whenever its fast path would not be exact (for example
    recurrent dropout in training), and the generic step-by-step loop of
    `keras.layers.RNN` runs the cell instead. `kernel_path` records which of
    the two ran in the last call (`"fast"` or `"step"`).
    """

    #: The cell class built by the subclass.
    cell_class = None

    def __init__(self, cell, use_cudnn="auto", **kwargs):
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                "Invalid value received for argument `use_cudnn`. "
                "Expected one of {'auto', True, False}. "
                f"Received: use_cudnn={use_cudnn}"
            )
        super().__init__(cell, **kwargs)
        self.input_spec = keras.layers.InputSpec(ndim=3)
        # Accepted for signature compatibility with the Keras layers; cuDNN
        # selection is done at export time (`textlstm export --target gpu`).
        self.use_cudnn = use_cudnn
        #: Set to False to always run the step-by-step cell (e.g. to compare).
        self.fast_path = True
        self.kernel_path = None

    def fast_loop(self, sequences, initial_state, mask, training):
        """Return `(last_output, outputs, states)`, or None to fall back."""
        return None

    def fast_path_applies(self, sequences, training):
        """Whether the fused kernels compute exactly what the cell would.

        They implement the default `tanh`/`sigmoid` activations in float32 on
        the TensorFlow backend (a cell without gates has no `sigmoid`), and
        apply input dropout as one mask per sequence; recurrent dropout in
        training needs the cell.
        """
        cell = self.cell
        recurrent = cell.recurrent_activation
        return (
            self.fast_path
            and keras.backend.backend() == "tensorflow"
            and activations.serialize(cell.activation) == "tanh"
            and (recurrent is None or activations.serialize(recurrent) == "sigmoid")
            and not (training and cell.recurrent_dropout > 0)
            and keras.backend.standardize_dtype(sequences.dtype) == "float32"
        )

    def run_sharded(self, loop, sequences, initial_state, mask, training, kernel):
        """The fast path's result: `loop(sequences, mask, *states)` per batch
        shard (see `fast.sharding.sharded`), after input dropout.

        `loop` projects its shard's inputs itself and returns what
        `inner_loop` does (`pack_outputs`); `kernel` is the recurrent kernel.
        """
        cell = self.cell
        if training and 0.0 < cell.dropout < 1.0:
            # One mask for the whole batch, before it is split.
            dropout_mask = cell.get_dropout_mask(sequences[:, 0, :])
            sequences = sequences * ops.expand_dims(dropout_mask, 1)
        inputs = [sequences, mask, *initial_state]
        return sharded(loop, inputs, kernel)

    def input_projection(self, sequences, mask, input_bias):
        """`x W + b` for every step at once, time-major, with the mask.

        Returns `(xw, mask)`: `(time, batch, gates * units)` and a float
        `(time, batch, 1)` mask or None, both reversed for `go_backwards`
        (`time_major_projection` with the cell's kernel).
        """
        return time_major_projection(
            sequences, mask, self.cell.kernel, input_bias, self.go_backwards
        )

    def pack_outputs(self, hs, states, mask):
        """Turn the carried states `hs` into what `inner_loop` returns.

        As in Keras' loop, a masked step outputs zeros with
        `zero_output_for_mask` (set by `Bidirectional`), else the previous
        step's output (zeros before the first unmasked step).
        """
        outputs = hs
        if mask is not None:
            keep = mask > 0
            if not self.zero_output_for_mask:
                keep = ops.cumsum(mask, axis=0) > 0
            outputs = ops.where(keep, hs, ops.zeros_like(hs))
        last_output = outputs[-1]
        if self.return_sequences:
            outputs = ops.transpose(outputs, (1, 0, 2))
        else:
            outputs = ops.expand_dims(last_output, 1)
        return last_output, outputs, states

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        result = self.fast_loop(sequences, initial_state, mask, training)
        if result is not None:
            self.kernel_path = "fast"
            return result
        self.kernel_path = "step"
        return super().inner_loop(sequences, initial_state, mask, training=training)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(
            sequences, mask=mask, training=training, initial_state=initial_state
        )

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            cell_config.pop(key, None)
        return {**config, **cell_config, "use_cudnn": self.use_cudnn}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _forward_to_cell(name):
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's `{name}`.")


# Cell properties readable on the layer, as on the Keras layers.
for _name in ("units", "use_bias", "dropout", "recurrent_dropout", *_SERIALIZED):
    setattr(RecurrentLayer, _name, _forward_to_cell(_name))
