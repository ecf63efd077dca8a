"""Reading the gates: per-timestep gate activations of a recurrent layer."""

import keras
import numpy as np
from keras import ops

from textlstm.layers.base import RecurrentCell


def gate_activations(layer, sequences, mask=None, initial_state=None):
    """Run a recurrent layer step by step and return its gate activations.

    Works with every textlstm cell (`LSTMCell`, `GRUCell`, `SimpleRNNCell`,
    the variants), with `textlstm.layers.LSTM` / `GRU` / `SimpleRNN`, and
    with a `keras.layers.RNN` that wraps a textlstm cell. The layer's
    weights are used as they are (built from `sequences` if needed);
    dropout is not applied. For a `keras.layers.Bidirectional`, call it on
    `forward_layer` and `backward_layer`.

    Args:
        layer: A textlstm cell, or an RNN layer whose `cell` is one.
        sequences: Array `(batch, time, features)`, e.g. the output of the
            model's embedding layer for a batch of texts.
        mask: Optional boolean array `(batch, time)`. Masked steps keep the
            previous state and report gate activations of 0.
        initial_state: Optional list of initial states.

    Returns:
        A dict of NumPy arrays `(batch, time, units)`, one per gate: `i`,
        `f`, `o` for the LSTM cells (for CIFG, `i = 1 - f`), `z`, `r` for
        `GRUCell`. `SimpleRNNCell` has no gates: it reports its state
        `h` (h_t of each step, 0 on masked steps) instead. Index `t` is
        timestep `t` of `sequences`, also for a layer with
        `go_backwards=True`.

    Example:

    >>> import numpy as np
    >>> from textlstm.layers import LSTM, gate_activations
    >>> layer = LSTM(3)
    >>> gates = gate_activations(layer, np.ones((2, 5, 4), "float32"))
    >>> sorted(gates), gates["f"].shape
    (['f', 'i', 'o'], (2, 5, 3))
    >>> bool(((gates["f"] > 0) & (gates["f"] < 1)).all())
    True
    """
    cell = layer.cell if isinstance(layer, keras.layers.RNN) else layer
    if not isinstance(cell, RecurrentCell):
        raise TypeError(
            "gate_activations() needs a textlstm cell or an RNN layer built on "
            f"one; got {type(layer).__name__} with cell {type(cell).__name__}."
        )
    sequences = ops.convert_to_tensor(sequences, dtype=cell.compute_dtype)
    if len(sequences.shape) != 3:
        raise ValueError(
            "gate_activations() expects sequences of shape (batch, time, "
            f"features); got shape {tuple(sequences.shape)}."
        )
    if not cell.built:
        cell.build((sequences.shape[0], sequences.shape[2]))
    batch, steps = sequences.shape[0], sequences.shape[1]
    states = (
        list(initial_state)
        if initial_state is not None
        else cell.get_initial_state(batch_size=batch)
    )
    if mask is not None:
        mask = ops.convert_to_tensor(mask, dtype="bool")
    order = range(steps)
    if getattr(layer, "go_backwards", False):
        order = reversed(order)

    collected = {name: [None] * steps for name in cell.reported_gates}
    for t in order:
        _, new_states, gates = cell.step(sequences[:, t], states, training=False)
        new_states = new_states if isinstance(new_states, list) else [new_states]
        if mask is not None:
            keep = ops.expand_dims(mask[:, t], -1)
            new_states = [ops.where(keep, n, s) for n, s in zip(new_states, states)]
            gates = {k: ops.where(keep, g, ops.zeros_like(g)) for k, g in gates.items()}
        states = new_states
        for name in cell.reported_gates:
            collected[name][t] = ops.convert_to_numpy(gates[name])
    return {name: np.stack(values, axis=1) for name, values in collected.items()}
