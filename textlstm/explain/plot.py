"""One PNG per explanation: attributions, gate means, retention, top units.

Tokens run along x, wrapped into panels of at most `tokens_per_panel`, so a
150-token review stays readable. Each panel has a bar chart of the
integrated-gradients attributions (red for the predicted class, blue
against) over a heatmap with one row per gate mean, retention and top unit.
Drawn with matplotlib's Agg canvas (no display, no pyplot state).
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np

from textlstm.explain.records import Explanation
from textlstm.runs import atomic_path

__all__ = ["plot_explanation"]

_POSITIVE, _NEGATIVE = "#d62728", "#2166ac"
_SHORT = {"forward": "fwd", "backward": "bwd"}
#: Longest token label drawn; longer ones end in an ellipsis.
_LABEL_CHARS = 16


def plot_explanation(
    explanation: Explanation,
    path: str | os.PathLike,
    *,
    index: int | None = None,
    tokens_per_panel: int = 40,
) -> Path:
    """Draw one explanation to a PNG (written atomically).

    Args:
        explanation: What `explain_texts` returned for one text.
        path: The PNG to write.
        index: The text's number, for the title.
        tokens_per_panel: Most tokens per panel; longer texts wrap.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = _heatmap_rows(explanation)
    count = len(explanation.tokens)
    panels = max(1, math.ceil(count / tokens_per_panel))
    per_panel = max(1, math.ceil(count / panels))
    width = max(8.0, 2.8 + 0.3 * per_panel)
    bar_height, heat_height = 1.4, 0.26 * max(len(rows), 1) + 0.2
    label_height = (
        0.12 * min(_LABEL_CHARS, max((len(t) for t in explanation.tokens), default=1))
        + 0.3
    )
    height = 1.0 + panels * (bar_height + heat_height + label_height)
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    ratios = [bar_height, heat_height] * panels if rows else [bar_height] * panels
    axes = figure.subplots(len(ratios), 1, height_ratios=ratios, squeeze=False)[:, 0]
    figure.suptitle(_title(explanation, index), fontsize=11)
    scale = max((abs(a) for a in explanation.attributions), default=0.0) or 1.0
    images = []
    for panel in range(panels):
        span = slice(panel * per_panel, min(count, (panel + 1) * per_panel))
        bar = axes[panel * (2 if rows else 1)]
        _draw_bars(bar, explanation, span, per_panel, scale)
        if rows:
            heat = axes[panel * 2 + 1]
            images += _draw_heatmap(heat, rows, explanation.tokens, span, per_panel)
        else:
            _token_ticks(bar, explanation.tokens, span)
    for kind, image in dict(images).items():
        label = "gate / retention" if kind == "unit" else "state h of the unit"
        figure.colorbar(image, ax=list(axes), shrink=0.5, aspect=30, label=label)
    FigureCanvasAgg(figure)
    with atomic_path(path) as temporary, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing")
        figure.savefig(temporary, format="png")
    return Path(path)


def _title(explanation: Explanation, index: int | None) -> str:
    ig = explanation.integrated_gradients
    probability = explanation.probabilities[explanation.label]
    text = " ".join(explanation.text.split())
    text = text if len(text) <= 110 else text[:107] + "..."
    number = f"Text {index}: " if index is not None else ""
    return (
        f"{number}predicted {explanation.label} (p = {probability:.3f})   "
        f"integrated gradients: completeness error "
        f"{ig.relative_completeness_error:.3%} ({ig.steps} steps)\n"
        f"{_escape(text)}"
    )


def _heatmap_rows(explanation: Explanation) -> list[tuple[str, str, list[float]]]:
    """`(label, kind, values)`: kind "unit" in [0, 1], "signed" in [-1, 1].

    Labels are short: `L2 bwd z` is the mean update gate of the backward
    direction of the second recurrent layer (layer and direction only when
    there are several).
    """
    rows = []
    for number, layer in enumerate(explanation.layers, 1):
        for reading in layer.directions:
            where = f"L{number} " if len(explanation.layers) > 1 else ""
            if len(layer.directions) > 1:
                where += f"{_SHORT[reading.direction]} "
            for gate, values in reading.gates.items():
                if gate == "h_norm":
                    top = max(values, default=0.0) or 1.0
                    rows.append(
                        (f"{where}|h| / max", "unit", [v / top for v in values])
                    )
                else:
                    rows.append((f"{where}{gate} mean", "unit", values))
            if reading.retention is not None:
                rows.append((f"{where}retention mean", "unit", reading.retention))
            rows.append(("", "gap", []))
    bidirectional = any(len(layer.directions) > 1 for layer in explanation.layers)
    for unit in explanation.top_units:
        name = f"unit {unit.unit}" + (
            f" {_SHORT[unit.direction]}" if bidirectional else ""
        )
        if unit.retention is not None:
            rows.append((f"{name} retention", "unit", unit.retention))
        elif "h" in unit.gates:
            rows.append((f"{name} h", "signed", unit.gates["h"]))
    while rows and rows[-1][1] == "gap":
        rows.pop()
    return rows


def _draw_bars(axes, explanation, span, width, scale) -> None:
    values = np.asarray(explanation.attributions[span], np.float64)
    colors = [_POSITIVE if v >= 0 else _NEGATIVE for v in values]
    axes.bar(np.arange(len(values)), values, color=colors, width=0.8)
    axes.axhline(0.0, color="#555", linewidth=0.6)
    axes.set_xlim(-0.5, width - 0.5)
    axes.set_ylim(-1.08 * scale, 1.08 * scale)
    axes.set_ylabel("attribution", fontsize=9)
    axes.tick_params(axis="y", labelsize=8)
    axes.set_xticks([])
    axes.grid(axis="y", alpha=0.3)
    axes.set_title(
        f"tokens {span.start + 1}-{span.stop} of {len(explanation.tokens)}",
        fontsize=9,
        loc="left",
    )


def _draw_heatmap(axes, rows, tokens, span, width) -> list:
    values = np.full((len(rows), width), np.nan)
    for row, (_, _, row_values) in enumerate(rows):
        chunk = row_values[span]
        values[row, : len(chunk)] = chunk  # a "gap" row stays empty (white)
    kinds = np.array([kind for _, kind, _ in rows])
    images = []
    for kind, cmap, low in (("unit", "viridis", 0.0), ("signed", "RdBu_r", -1.0)):
        if (kinds == kind).any():
            shown = np.ma.masked_where(
                (kinds[:, None] != kind) | np.isnan(values), values
            )
            image = axes.imshow(
                shown, aspect="auto", cmap=cmap, vmin=low, vmax=1.0,
                interpolation="nearest",
            )  # fmt: skip
            images.append((kind, image))
    axes.set_xlim(-0.5, width - 0.5)
    labelled = [row for row, (label, _, _) in enumerate(rows) if label]
    axes.set_yticks(labelled, labels=[rows[row][0] for row in labelled], fontsize=8)
    _token_ticks(axes, tokens, span)
    return images


def _token_ticks(axes, tokens, span) -> None:
    shown = [_escape(_shorten(token)) for token in tokens[span]]
    axes.set_xticks(range(len(shown)), labels=shown, rotation=90, fontsize=9)


def _shorten(token: str) -> str:
    return token if len(token) <= _LABEL_CHARS else token[: _LABEL_CHARS - 1] + "…"


def _escape(text: str) -> str:
    # A `$` pair would turn a label into mathtext.
    return text.replace("$", r"\$")
