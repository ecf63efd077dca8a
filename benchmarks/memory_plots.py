"""The plots of `benchmarks/memory.py`, drawn from its results dict.

Each function takes the results (as written to `memory.json`) and a PNG
path; the file is written to a temporary name and renamed.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

COLORS = {"simple_rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
LABELS = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}


def plot_cells(ax, cells, summary: list[dict], key: str) -> None:
    """Each cell's mean over seeds against `key`, with its min-max band."""
    for cell in cells:
        points = [s for s in summary if s["cell"] == cell]
        if not points:
            continue
        x = [s[key] for s in points]
        ax.plot(
            x,
            [s["mean"] for s in points],
            "o-",
            color=COLORS[cell],
            label=f"{LABELS[cell]}: mean of {points[0]['seeds']} seed(s), min-max band",
        )
        ax.fill_between(
            x,
            [s["min"] for s in points],
            [s["max"] for s in points],
            color=COLORS[cell],
            alpha=0.2,
        )


def plot_lag(results: dict, path: Path) -> None:
    lag = results["lag"]
    fig, ax = plt.subplots(figsize=(11, 5))
    plot_cells(ax, results["layers"], lag["summary"], "lag")
    bow = sorted(lag["bag_of_words"], key=lambda b: b["lag"])
    ax.plot(
        [b["lag"] for b in bow],
        [b["test_accuracy"] for b in bow],
        "s--",
        color="tab:gray",
        label="bag of words (logistic regression)",
    )
    ax.axhline(0.5, color="black", linestyle=":", label="chance")
    ax.set_xscale("symlog", linthresh=10)
    ax.margins(x=0.05)
    ax.set_xticks(sorted({s["lag"] for s in lag["summary"]}))
    ax.get_xaxis().set_major_formatter("{x:.0f}")
    ax.set_ylim(0.4, 1.02)
    ax.set_xlabel("lag: neutral words after the deciding opinion (lag to 2 x lag)")
    ax.set_ylabel("test accuracy")
    s = results["settings"]
    ax.set_title(
        "Synthetic reviews: accuracy vs. lag\n"
        f"{s['units']} units, {s['train_size']} reviews x {s['epochs']} epochs "
        "per cell and lag"
        + (
            ", trained on lags 0 to 2 x lag"
            if s.get("train_lags") == "from_zero"
            else ", trained on lags lag to 2 x lag only"
        )
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    save(fig, path)


def plot_adding(results: dict, path: Path) -> None:
    adding = results["adding"]
    fig, ax = plt.subplots(figsize=(11, 5))
    plot_cells(ax, results["layers"], adding["summary"], "steps")
    base = sorted(adding["baseline"], key=lambda b: b["steps"])
    ax.plot(
        [b["steps"] for b in base],
        [b["test_mse"] for b in base],
        "s--",
        color="black",
        label="always 1 (measured on the test set)",
    )
    ax.axhline(1 / 6, color="gray", linestyle=":", label="always 1, expected 0.167")
    ax.set_xscale("log", base=2)
    ax.margins(x=0.05)
    ax.set_xticks([b["steps"] for b in base])
    ax.get_xaxis().set_major_formatter("{x:.0f}")
    ax.set_yscale("log")
    # Label the decades only: minor labels overlap on a short log axis.
    ax.yaxis.set_major_formatter("{x:.3g}")
    ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("test MSE (log scale)")
    s = results["settings"]
    ax.set_title(
        "Adding problem: test MSE vs. sequence length\n"
        f"{s['units']} units, {s['adding_train_size']} sequences x "
        f"{s['adding_epochs']} epochs per cell and T"
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    save(fig, path)


def plot_gradients(results: dict, path: Path) -> None:
    panels = [
        (
            results["gradients"].get("corpus"),
            "reviews, lag {lag}",
            "embedding output",
            "accuracy {:.0%}",
            "test_accuracy",
        ),
        (
            results["gradients"].get("adding"),
            "adding problem, T = {steps}",
            "input",
            "MSE {:.3f}",
            "test_mse",
        ),
    ]
    panels = [p for p in panels if p[0]]
    fig, axes = plt.subplots(
        1, len(panels), figsize=(6.5 * len(panels), 5), squeeze=False
    )
    for ax, (curves, title, wrt, score, metric) in zip(axes[0], panels):
        underflow = False
        for cell, curve in curves["cells"].items():
            for state, style in (("initial", "--"), ("trained", "-")):
                label = f"{LABELS[cell]}, " + (
                    "at initialization"
                    if state == "initial"
                    else "trained (" + score.format(curve[metric]) + ")"
                )
                # A gradient that underflows float32 is 0: the curve stops.
                values = np.array(curve[state])
                underflow |= bool(np.any(values == 0))
                values[values == 0] = np.nan
                ax.plot(values, style, color=COLORS[cell], label=label)
        ax.set_yscale("log")
        ax.set_xlabel("distance from the end, T - 1 - t (steps)")
        ax.set_ylabel(f"mean |d loss / d {wrt} at step t|")
        ax.set_title("Gradient flow: " + title.format(**curves))
        ax.grid(alpha=0.3, which="both")
        ax.legend(
            fontsize=8,
            title="a curve stops where float32 underflows to 0" if underflow else None,
            title_fontsize=8,
        )
    save(fig, path)


def save(fig, path: Path) -> None:
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    plt.close(fig)
