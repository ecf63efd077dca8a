"""Gate activations, retention and the units that matter, per token.

Retention says how much of what a cell wrote at token t survives to the
step the rest of the model reads (the last one, or the first for the
backward direction of a bidirectional layer):

- LSTM family, c_t = f_t * c_{t-1} + i_t * g_t:  R_t = prod_{s > t} f_s.
- GRU, h_t = z_t * h_{t-1} + (1 - z_t) * n_t:  R_t = prod_{s > t} z_s.
- SimpleRNN has no gates, and retention is not defined: its state is
  rewritten through the recurrent matrix at every step.

Only real (unmasked) steps enter the products.
"""

from __future__ import annotations

import keras
import numpy as np

from textlstm.explain.records import (
    DirectionReading,
    LayerReading,
    UnitReading,
    as_floats,
)
from textlstm.layers import RecurrentCell, gate_activations

__all__ = [
    "cell_name",
    "gates_available",
    "read_layer",
    "retention",
    "rank_units",
    "units_of",
]

#: The gate whose product is the retention, by preference.
_RETENTION_GATES = ("f", "z")


def retention(gate, mask=None, *, reverse: bool = False) -> np.ndarray:
    """R_t, the product of `gate` over the later unmasked steps.

    Args:
        gate: Array `(batch, time, units)` (or `(time, units)`) of forget
            (LSTM) or update (GRU) gate activations.
        mask: Optional boolean array `(batch, time)` (or `(time,)`); masked
            steps are left out of every product.
        reverse: Multiply over the earlier steps instead (s < t): the
            backward direction of a bidirectional layer, whose final step is
            the first token.

    Returns:
        A float64 array shaped like `gate`; 1 at the final step, 0 at
        masked steps.

    Example:

    >>> f = np.array([[0.5], [0.9], [0.8]])
    >>> retention(f)[:, 0].round(6).tolist()
    [0.72, 0.8, 1.0]
    >>> retention(f, mask=np.array([True, False, True]))[:, 0].tolist()
    [0.8, 0.0, 1.0]
    >>> retention(f, reverse=True)[:, 0].tolist()
    [1.0, 0.5, 0.45]
    """
    gate = np.asarray(gate, np.float64)
    if mask is None:
        mask = np.ones(gate.shape[:-1], bool)
    mask = np.asarray(mask, bool)
    kept = np.where(mask[..., None], gate, 1.0)
    ones = np.ones_like(kept[..., :1, :])
    if reverse:
        inclusive = np.cumprod(kept, axis=-2)
        result = np.concatenate([ones, inclusive[..., :-1, :]], axis=-2)
    else:
        inclusive = np.flip(np.cumprod(np.flip(kept, -2), axis=-2), -2)
        result = np.concatenate([inclusive[..., 1:, :], ones], axis=-2)
    return np.where(mask[..., None], result, 0.0)


def _directions(layer) -> list[tuple[str, keras.layers.Layer]]:
    if isinstance(layer, keras.layers.Bidirectional):
        return [("forward", layer.forward_layer), ("backward", layer.backward_layer)]
    return [("forward", layer)]


def gates_available(layer) -> bool:
    """Whether `gate_activations` can read `layer` (textlstm cells only)."""
    return all(
        isinstance(getattr(rnn, "cell", None), RecurrentCell)
        for _, rnn in _directions(layer)
    )


def cell_name(layer) -> str:
    """The class name of the layer's cell (`LSTMCell`, ...)."""
    rnn = _directions(layer)[0][1]
    return type(getattr(rnn, "cell", rnn)).__name__


def units_of(layer) -> int:
    """Units per direction."""
    rnn = _directions(layer)[0][1]
    return int(getattr(rnn, "cell", rnn).units)


def read_layer(layer, inputs, mask) -> tuple[LayerReading, dict]:
    """Gates and retention of one recurrent layer for one text.

    Args:
        layer: A recurrent layer of the classifier (a textlstm layer, or a
            `keras.layers.Bidirectional` of one).
        inputs: What the layer reads, `(1, time, features)`.
        mask: Its mask `(1, time)` (or None).

    Returns:
        `(reading, raw)`: the `LayerReading` (per-token values at the
        unmasked steps), and direction -> `(gates, retention)`, the per-unit
        arrays `(tokens, units)` of those steps (retention None without a
        retention gate), for `top_units`.
    """
    mask = np.ones(np.shape(inputs)[:2], bool) if mask is None else np.asarray(mask)
    kept = mask[0]
    directions, raw = [], {}
    for direction, rnn in _directions(layer):
        gates = {
            name: values[0, kept]
            for name, values in gate_activations(rnn, inputs, mask=mask).items()
        }
        summary = {
            ("h_norm" if name == "h" else name): (
                np.linalg.norm(values, axis=-1) if name == "h" else values.mean(-1)
            )
            for name, values in gates.items()
        }
        gate = next((g for g in _RETENTION_GATES if g in gates), None)
        reading = DirectionReading(
            direction, {k: as_floats(v) for k, v in summary.items()}
        )
        per_unit = None
        if gate is None:
            reading.note = (
                f"{cell_name(layer)} has no forget or update gate: retention is "
                "not defined (its state is rewritten at every step)"
            )
        else:
            per_unit = retention(gates[gate], reverse=direction == "backward")
            reading.retention_gate = gate
            reading.retention = as_floats(per_unit.mean(-1))
            reading.retention_per_unit = [as_floats(row) for row in per_unit]
        directions.append(reading)
        raw[direction] = (gates, per_unit)
    reading = LayerReading(layer.name, cell_name(layer), units_of(layer), directions)
    return reading, raw


def rank_units(
    layer, contributions: np.ndarray, raw: dict | None, count: int
) -> list[UnitReading]:
    """The `count` units of `layer` with the largest |contribution|.

    Args:
        layer: The last recurrent layer.
        contributions: Gradient x activation per output channel of the
            layer, summed over time (`2 * units` for a bidirectional layer,
            forward units first).
        raw: The `raw` of `read_layer` for it, or None without gates.
        count: How many units.
    """
    units = units_of(layer)
    order = np.argsort(-np.abs(contributions), kind="stable")[:count]
    readings = []
    for channel in order:
        direction = "forward" if channel < units else "backward"
        unit = int(channel % units)
        gates, kept_retention = raw[direction] if raw else ({}, None)
        readings.append(
            UnitReading(
                layer=layer.name,
                direction=direction,
                unit=unit,
                contribution=float(contributions[channel]),
                gates={
                    name: as_floats(values[:, unit]) for name, values in gates.items()
                },
                retention=None
                if kept_retention is None
                else as_floats(kept_retention[:, unit]),
            )
        )
    return readings
