"""What an explanation holds: plain dataclasses, JSON-ready (no TensorFlow).

`Explanation.to_dict()` is one line of `textlstm explain --json` and one
entry of `explain.json`. Every per-token list is aligned with `tokens`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

__all__ = [
    "DEFAULT_MAX_STEPS",
    "DEFAULT_STEPS",
    "DEFAULT_TOLERANCE",
    "DEFAULT_TOP_UNITS",
    "BASELINE",
    "DirectionReading",
    "Explanation",
    "IntegratedGradients",
    "LayerReading",
    "UnitReading",
    "as_floats",
]

#: Gauss-Legendre nodes of the first integrated-gradients pass (2 panels).
DEFAULT_STEPS = 16
#: Panels are halved where the completeness error sits until it is below
#: `DEFAULT_TOLERANCE` of |f(x) - f(baseline)|, up to this many nodes.
DEFAULT_MAX_STEPS = 2048
DEFAULT_TOLERANCE = 0.002
#: Units of the last recurrent layer shown one by one.
DEFAULT_TOP_UNITS = 4

#: What integrated gradients integrate from (said in every explanation).
BASELINE = (
    "zero embedding: every token's embedding vector set to 0, same length "
    "and same mask as the text"
)


@dataclasses.dataclass
class IntegratedGradients:
    """How the attributions were computed, and how exact they are.

    Attributes:
        target: The explained class (the predicted one); the attributions
            explain its probability.
        f_input: That probability for the text, f(x).
        f_baseline: That probability for the baseline, f(x').
        total: The sum of the attributions.
        completeness_error: |total - (f_input - f_baseline)|.
        relative_completeness_error: The error over |f_input - f_baseline|
            (0 when both are 0).
        steps: Gauss-Legendre nodes of the final composite rule.
        converged: Whether the error met the tolerance before `max_steps`.
        baseline: What the baseline is, in words.
        rule: The quadrature rule.
    """

    target: str
    f_input: float
    f_baseline: float
    total: float
    completeness_error: float
    relative_completeness_error: float
    steps: int
    converged: bool
    baseline: str = BASELINE
    rule: str = "adaptive composite Gauss-Legendre, 8 nodes per panel"


@dataclasses.dataclass
class DirectionReading:
    """Gates and retention of one direction of one recurrent layer.

    Attributes:
        direction: `"forward"` or `"backward"`.
        gates: Gate name -> per-token mean over the units (`i`, `f`, `o` for
            the LSTM family, `z`, `r` for GRU); for a cell without gates
            (SimpleRNN) `h_norm`, the Euclidean norm of the state h_t.
        retention_gate: `"f"` (LSTM family) or `"z"` (GRU); None when the
            cell has neither.
        retention: Per-token mean over the units of R_t, the product of the
            retention gate over the later tokens (earlier ones for the
            backward direction); None when not defined.
        retention_per_unit: R_t per token and unit (`[token][unit]`).
        note: Why `retention` is None, if it is.
    """

    direction: str
    gates: dict[str, list[float]]
    retention_gate: str | None = None
    retention: list[float] | None = None
    retention_per_unit: list[list[float]] | None = None
    note: str | None = None


@dataclasses.dataclass
class LayerReading:
    """One recurrent layer of the classifier.

    Attributes:
        name: The layer's name in the model (`lstm_1`, `bidirectional_gru_2`).
        cell: The cell class (`LSTMCell`, `GRUCell`, ...).
        units: Units per direction.
        directions: One reading per direction (empty when the gates are not
            available).
    """

    name: str
    cell: str
    units: int
    directions: list[DirectionReading]


@dataclasses.dataclass
class UnitReading:
    """One unit of the last recurrent layer that matters for the prediction.

    Attributes:
        layer: The layer's name.
        direction: `"forward"` or `"backward"`.
        unit: The unit's index in that direction.
        contribution: Gradient x activation of the unit's output summed over
            the tokens the pooling reads (the final output for `last`
            pooling): d p / d h[t, unit] * h[t, unit], p the predicted
            class's probability. The units are ranked by its magnitude.
        gates: Gate name -> the unit's value per token (`h` for SimpleRNN).
        retention: The unit's R_t per token, or None.
    """

    layer: str
    direction: str
    unit: int
    contribution: float
    gates: dict[str, list[float]]
    retention: list[float] | None = None


@dataclasses.dataclass
class Explanation:
    """Everything `textlstm explain` computes for one text.

    Attributes:
        text: The raw text.
        tokens: The tokens the model reads, in order: standardized, looked up
            in the vocabulary (`[UNK]` for unknown words), truncated as the
            vectorizer truncates, padding dropped.
        token_ids: Their ids.
        label: The predicted class.
        probabilities: Class name -> probability.
        attributions: Integrated-gradients attribution of each token to the
            predicted class's probability (positive: for the class).
        integrated_gradients: How they were computed and their error.
        layers: Gate readings of every recurrent layer, input to output.
        top_units: The units of the last recurrent layer that matter most.
        gates_available: False for layers that do not expose their gates
            (`model.impl: keras`).
        notes: Remarks in words (gates unavailable, no tokens, ...).
    """

    text: str
    tokens: list[str]
    token_ids: list[int]
    label: str
    probabilities: dict[str, float]
    attributions: list[float]
    integrated_gradients: IntegratedGradients
    layers: list[LayerReading]
    top_units: list[UnitReading]
    gates_available: bool
    notes: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        """A JSON-serializable dict of every field (nested dataclasses too)."""
        return dataclasses.asdict(self)

    def top_tokens(self, count: int = 3) -> list[tuple[str, float]]:
        """The `count` tokens with the largest attribution, largest first."""
        order = sorted(range(len(self.tokens)), key=lambda t: -self.attributions[t])
        return [(self.tokens[t], self.attributions[t]) for t in order[:count]]


def as_floats(values) -> list[float]:
    """Plain floats to 7 significant digits (float32 precision, no more):
    explain.json stays readable, and tiny retentions keep their value."""
    return [float(f"{v:.7g}") for v in np.asarray(values, np.float64).reshape(-1)]
