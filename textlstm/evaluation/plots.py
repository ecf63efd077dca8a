"""Plots of a run: learning curves and the confusion matrix, as PNG.

Drawn with matplotlib's Agg canvas (no display needed, no global pyplot
state) and written atomically.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from textlstm.runs import atomic_path

__all__ = ["plot_confusion_matrix", "plot_learning_curves"]


def plot_learning_curves(history: Sequence[Mapping], path: str | os.PathLike) -> Path:
    """Draw loss and accuracy per epoch, training and validation, to a PNG.

    Args:
        history: One mapping per epoch with `epoch`, `loss`, `accuracy`,
            `val_loss`, `val_accuracy` (as in `history.csv`).
        path: The PNG to write (atomically).
    """
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 4), dpi=100, layout="constrained")
    epochs = [int(row["epoch"]) for row in history]
    for axes, metric, label in zip(
        figure.subplots(1, 2), ("loss", "accuracy"), ("Loss", "Accuracy")
    ):
        for prefix, name, style in (
            ("", "training", "o-"),
            ("val_", "validation", "s--"),
        ):
            values = [row.get(prefix + metric) for row in history]
            if any(v is not None and not _is_nan(v) for v in values):
                axes.plot(epochs, values, style, label=name)
        axes.set_title(f"{label} per epoch")
        axes.set_xlabel("epoch")
        axes.set_ylabel(label.lower())
        axes.set_xticks(epochs)
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle("Learning curves")
    return _save_figure(figure, path)


def plot_confusion_matrix(
    matrix: Sequence[Sequence[int]],
    class_names: Sequence[str],
    path: str | os.PathLike,
    *,
    title: str = "Confusion matrix",
) -> Path:
    """Draw a confusion matrix (counts, colour by row share) to a PNG.

    Args:
        matrix: Counts; rows are true classes, columns predicted classes.
        class_names: Name of each class.
        path: The PNG to write (atomically).
        title: Figure title.
    """
    from matplotlib.figure import Figure

    counts = np.asarray(matrix, dtype=np.int64)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 2.5 + 0.7 * len(class_names)
    figure = Figure(figsize=(size + 1.5, size), dpi=100, layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="share of the true class")
    ticks = range(len(class_names))
    axes.set_xticks(
        ticks, labels=class_names, rotation=45 if len(class_names) > 4 else 0
    )
    axes.set_yticks(ticks, labels=class_names)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    for row in ticks:
        for column in ticks:
            axes.text(
                column,
                row,
                f"{counts[row, column]}\n{shares[row, column]:.0%}",
                ha="center",
                va="center",
                color="white" if shares[row, column] > 0.5 else "black",
            )
    return _save_figure(figure, path)


def _save_figure(figure, path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # heavy: plots only

    FigureCanvasAgg(figure)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    return Path(path)


def _is_nan(value) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True
