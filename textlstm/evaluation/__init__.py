"""Metrics, plots, and evaluation and prediction of runs and exports.

`metrics.py` is pure NumPy (labels and probabilities in, one JSON-ready
dict out: `metrics.json` and `textlstm evaluate --json`); `plots.py` draws
learning curves and confusion matrices to PNG; `predictions.py` scores a
model, a run folder or an export.

What it may import: `textlstm.errors`, `textlstm.config`, `textlstm.runs`,
`textlstm.data`, `textlstm.model` and `textlstm.export` (an export is
scored through its SavedModel).
"""

from textlstm.evaluation.metrics import (
    classification_metrics,
    log_loss,
    roc_auc,
)
from textlstm.evaluation.plots import (
    plot_confusion_matrix,
    plot_learning_curves,
)
from textlstm.evaluation.predictions import (
    WEIGHT_GRID,
    evaluate_mixture,
    evaluate_model,
    evaluate_run,
    load_predictor,
    mixture_weight,
    predict_probabilities,
    predict_texts,
)

__all__ = [
    "WEIGHT_GRID",
    "classification_metrics",
    "evaluate_mixture",
    "evaluate_model",
    "evaluate_run",
    "load_predictor",
    "log_loss",
    "mixture_weight",
    "plot_confusion_matrix",
    "plot_learning_curves",
    "predict_probabilities",
    "predict_texts",
    "roc_auc",
]
