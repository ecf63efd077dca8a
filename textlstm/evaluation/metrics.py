"""Classification metrics, pure NumPy: labels and probabilities in, one
JSON-serializable dict out (the content of `metrics.json` and of
`textlstm evaluate --json`).

Example:

>>> import numpy as np
>>> metrics = classification_metrics(
...     np.array([0, 1, 1, 0]),
...     np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3]]),
...     ["neg", "pos"],
... )
>>> metrics["accuracy"], metrics["confusion_matrix"]
(0.75, [[2, 0], [1, 1]])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["classification_metrics", "log_loss", "roc_auc"]

#: Probabilities are clipped like Keras' cross-entropy before taking logs.
_EPSILON = 1e-7


def classification_metrics(
    labels: Sequence[int] | np.ndarray,
    probabilities: np.ndarray,
    class_names: Sequence[str],
    *,
    split: str | None = None,
) -> dict:
    """Accuracy, loss, macro-F1, per-class scores and the confusion matrix.

    Args:
        labels: True class ids, shape `(n,)`.
        probabilities: Predicted probabilities, shape `(n, num_classes)`.
        class_names: Name of each class id.
        split: Name of the split, stored under `"split"` when given.

    Returns:
        A dict with `split`, `num_examples`, `loss` (mean cross-entropy),
        `accuracy`, `macro_f1`, `per_class` (name -> `precision`, `recall`,
        `f1`, `support`), `confusion_matrix` (rows: true class, columns:
        predicted class), `class_names`, and `roc_auc` for two classes.
        Scores of a class that is never predicted or never present are 0.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    num_classes = len(class_names)
    if probabilities.shape != (labels.shape[0], num_classes):
        raise ValueError(
            f"probabilities have shape {probabilities.shape}, expected "
            f"({labels.shape[0]}, {num_classes})"
        )
    predicted = probabilities.argmax(axis=1) if len(labels) else labels
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    true_positive = np.diag(matrix).astype(np.float64)
    predicted_count = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    precision = _safe_divide(true_positive, predicted_count)
    recall = _safe_divide(true_positive, support)
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    picked = probabilities[np.arange(len(labels)), labels]
    loss = log_loss(picked) if len(labels) else 0.0
    metrics = {
        "split": split,
        "num_examples": int(len(labels)),
        "loss": round_metric(loss),
        "accuracy": round_metric(float(true_positive.sum() / max(len(labels), 1))),
        "macro_f1": round_metric(float(f1.mean())) if num_classes else 0.0,
        "per_class": {
            name: {
                "precision": round_metric(float(precision[index])),
                "recall": round_metric(float(recall[index])),
                "f1": round_metric(float(f1[index])),
                "support": int(support[index]),
            }
            for index, name in enumerate(class_names)
        },
        "confusion_matrix": matrix.tolist(),
        "class_names": list(class_names),
    }
    if split is None:
        del metrics["split"]
    if num_classes == 2:
        metrics["roc_auc"] = round_metric(roc_auc(labels, probabilities[:, 1]))
    return metrics


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve of binary `labels` given `scores`.

    The probability that a random positive scores above a random negative
    (ties count one half). `None` when one of the classes is absent.

    >>> roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8]))
    0.75
    """
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    ranks = np.empty(len(scores), dtype=np.float64)
    start = 0
    while start < len(scores):  # average ranks over ties
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    rank_sum = ranks[labels].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def log_loss(picked: np.ndarray) -> float:
    """The mean cross-entropy of the probabilities given to the true labels.

    >>> round(log_loss(np.array([1.0, 0.5])), 4)
    0.3466
    """
    return float(-np.log(np.clip(picked, _EPSILON, 1.0)).mean())


def round_metric(value: float | None) -> float | None:
    """A metric rounded to 6 decimals, so that metrics.json reads well and
    compares exactly across runs (None stays None)."""
    return None if value is None else round(float(value), 6)


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    denominator = np.asarray(denominator, dtype=np.float64)
    return np.divide(
        numerator, denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
