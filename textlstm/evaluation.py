"""Metrics, plots, and evaluation and prediction of trained runs.

`classification_metrics` is pure NumPy: labels and probabilities in, one
JSON-serializable dict out (the content of `metrics.json` and of
`textlstm evaluate --json`). `evaluate_run` loads a run folder written by
`textlstm.training.fit`, `predict_texts` a run folder or an export of
`textlstm.export`. Plots are drawn with matplotlib's Agg canvas (no display
needed, no global pyplot state).

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

import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from textlstm.config import explicit_values
from textlstm.errors import DataError
from textlstm.export import load_export_predictor
from textlstm.runs import atomic_path, read_run

__all__ = [
    "classification_metrics",
    "evaluate_mixture",
    "evaluate_model",
    "evaluate_run",
    "mixture_weight",
    "plot_confusion_matrix",
    "plot_learning_curves",
    "predict_probabilities",
    "predict_texts",
    "roc_auc",
]

#: Probabilities are clipped like Keras' cross-entropy before taking logs.
_EPSILON = 1e-7
#: The n-gram shares `model.ngram_weight: auto` chooses from.
WEIGHT_GRID = tuple(round(0.1 * step, 1) for step in range(11))


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
    loss = _log_loss(picked) if len(labels) else 0.0
    metrics = {
        "split": split,
        "num_examples": int(len(labels)),
        "loss": _round(loss),
        "accuracy": _round(float(true_positive.sum() / max(len(labels), 1))),
        "macro_f1": _round(float(f1.mean())) if num_classes else 0.0,
        "per_class": {
            name: {
                "precision": _round(float(precision[index])),
                "recall": _round(float(recall[index])),
                "f1": _round(float(f1[index])),
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
        metrics["roc_auc"] = _round(roc_auc(labels, probabilities[:, 1]))
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


def _inputs_only(inputs, labels):
    return inputs


def predict_probabilities(model, batches) -> tuple[np.ndarray, np.ndarray]:
    """Run `model` over a `tf.data.Dataset` of `(inputs, label)` batches.

    Uses `model.predict`, so it also works under a `tf.distribute`
    strategy; the dataset is iterated twice (labels, then inputs) and must
    give the same batches in the same order each time (no shuffling).

    Returns:
        `(labels, probabilities)` as NumPy arrays, in dataset order.
    """
    labels = [np.asarray(batch_labels) for _, batch_labels in batches]
    if not labels or not sum(len(batch) for batch in labels):
        num_classes = int(model.outputs[0].shape[-1])
        return np.zeros((0,), np.int64), np.zeros((0, num_classes), np.float32)
    with warnings.catch_warnings():
        # The dataset's length is unknown to Keras; its end is expected.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        probabilities = model.predict(batches.map(_inputs_only), verbose=0)
    return np.concatenate(labels), np.asarray(probabilities)


def evaluate_model(model, batches, class_names: Sequence[str], split: str) -> dict:
    """`classification_metrics` of `model` on a dataset of `(inputs, label)`."""
    labels, probabilities = predict_probabilities(model, batches)
    return classification_metrics(labels, probabilities, class_names, split=split)


def evaluate_mixture(
    parts, weight: float, batches, class_names, split: str = "test"
) -> dict:
    """`classification_metrics` of the network `parts[0]` on `batches`, or
    with `parts = [network, ngrams]` of the two averaged (`weight`: the
    n-gram model's share), plus `components`: each one's accuracy alone."""
    labels, probabilities = predict_probabilities(parts[0], batches)
    if len(parts) == 1:
        return classification_metrics(labels, probabilities, class_names, split=split)
    _, ngram_probabilities = predict_probabilities(parts[1], batches)
    mixed = (1.0 - weight) * probabilities + weight * ngram_probabilities
    metrics = classification_metrics(labels, mixed, class_names, split=split)
    metrics["components"] = {
        name: classification_metrics(labels, p, class_names, split=split)["accuracy"]
        for name, p in (("network", probabilities), ("ngrams", ngram_probabilities))
    }
    return metrics


def mixture_weight(parts, weight, batches) -> dict:
    """The n-gram model's share of the average of `parts = [network,
    ngrams]`: `weight` itself, or with `weight="auto"` the share of
    `WEIGHT_GRID` whose average has the lowest loss on `batches` (the
    validation split; 0.5 where it has no texts).

    Args:
        parts: `[network, ngrams]`, models from token ids to probabilities.
        weight: `model.ngram_weight`: a share in [0, 1], or `"auto"`.
        batches: `(token ids, label)` batches to choose on, unshuffled.

    Returns:
        What run.json records: the `weight`, how it was `chosen` and, for
        `auto`, the `validation_loss` of each share.

    >>> mixture_weight([None, None], 0.3, None)
    {'weight': 0.3, 'chosen': 'model.ngram_weight'}
    """
    if weight != "auto":
        return {"weight": float(weight), "chosen": "model.ngram_weight"}
    labels, network = predict_probabilities(parts[0], batches)
    if not len(labels):
        return {"weight": 0.5, "chosen": "auto, but no validation texts: 0.5"}
    _, ngrams = predict_probabilities(parts[1], batches)
    rows = np.arange(len(labels))
    # Each model's probability of the true label: the average's is theirs.
    network_true, ngrams_true = network[rows, labels], ngrams[rows, labels]
    losses = {
        share: _log_loss((1 - share) * network_true + share * ngrams_true)
        for share in WEIGHT_GRID
    }
    best = min(losses, key=losses.get)
    return {
        "weight": best,
        "chosen": f"auto: the lowest loss on {len(labels):,} validation texts",
        "validation_loss": {str(k): round(v, 5) for k, v in losses.items()},
    }


def evaluate_run(
    run_dir: str | os.PathLike,
    split: str = "test",
    *,
    config: Mapping | None = None,
    batch_size: int | None = None,
) -> dict:
    """Evaluate the `model.keras` of a run folder on a split of a dataset.

    Args:
        run_dir: A run folder written by `textlstm fit`.
        split: `"train"`, `"validation"` or `"test"`.
        config: A resolved config whose `data` section names the dataset;
            default: the run's own `config.yaml`. Its class names must be
            those the model was trained on (in any order).
        batch_size: Default: the run's `train.batch_size`.

    Returns:
        The `classification_metrics` dict, plus `run_dir`.

    Raises:
        textlstm.data.DataError: the dataset cannot be read or its classes
            do not match the model's.
    """
    import tensorflow as tf  # heavy: the data and model modules import it too

    from textlstm.data import load_dataset
    from textlstm.models import load_text_classifier

    if split not in ("train", "validation", "test"):
        raise ValueError(f"split must be train, validation or test, got {split!r}")
    run = read_run(run_dir)
    config = config or run.config
    bundle = load_dataset(
        explicit_values(config, "data"), seed=run.config["train"]["seed"]
    )
    dataset = getattr(bundle, split)
    class_names = run.class_names
    if list(bundle.class_names) != class_names:
        if sorted(bundle.class_names) != sorted(class_names):
            raise DataError(
                f"the dataset's classes ({', '.join(bundle.class_names)}) are not "
                f"the model's ({', '.join(class_names)})"
            )
        remap = tf.constant(
            [class_names.index(n) for n in bundle.class_names], tf.int64
        )
        dataset = dataset.map(lambda text, label: (text, tf.gather(remap, label)))
    model = load_text_classifier(run.path)
    batches = dataset.batch(batch_size or run.config["train"]["batch_size"])
    metrics = evaluate_model(model, batches, class_names, split)
    return {**metrics, "run_dir": str(run.path)}


def predict_texts(
    path: str | os.PathLike, texts: Iterable[str], *, batch_size: int = 64
) -> Iterable[dict]:
    """Classify raw texts with a run folder's model or with an export.

    Any string gets a prediction: empty, very long, control characters,
    unpaired surrogates (replaced by U+FFFD before encoding).

    Args:
        path: A run folder written by `textlstm fit` (its `model.keras`), or
            an export of `textlstm export`: a version folder or a model base
            (its latest version), run through its `serving_default`
            signature with `tf.saved_model.load`, without Keras.
        texts: The texts; consumed lazily, `batch_size` at a time.
        batch_size: Texts per model call.

    Yields:
        One dict per text: `text`, `label` (class name) and `probabilities`
        (class name -> probability).
    """
    if (Path(path) / "model.keras").is_file():
        from textlstm.models import load_text_classifier  # heavy: TensorFlow

        run = read_run(path)
        model = load_text_classifier(run.path)
        class_names = list(run.class_names)

        def probabilities_of(chunk):
            encoded = [text.encode("utf-8", errors="replace") for text in chunk]
            return np.asarray(model.predict_on_batch(np.array(encoded, dtype=object)))
    else:
        predictor = load_export_predictor(path, batch_size=batch_size)

        def probabilities_of(chunk):
            probabilities, _ = predictor(chunk)
            return probabilities

        _, class_names = predictor([])
    for chunk in _chunks(texts, batch_size):
        for text, row in zip(chunk, probabilities_of(chunk)):
            yield {
                "text": text,
                "label": class_names[int(row.argmax())],
                "probabilities": {
                    str(name): _round(float(p)) for name, p in zip(class_names, row)
                },
            }


# --------------------------------------------------------------------------- #
# Plots


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


# --------------------------------------------------------------------------- #


def _log_loss(picked: np.ndarray) -> float:
    """The mean cross-entropy of the probabilities given to the true labels."""
    return float(-np.log(np.clip(picked, _EPSILON, 1.0)).mean())


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    denominator = np.asarray(denominator, dtype=np.float64)
    return np.divide(
        numerator, denominator, out=np.zeros_like(denominator), where=denominator > 0
    )


def _round(value: float | None) -> float | None:
    # Rounded so that metrics.json reads well and compares exactly across runs.
    return None if value is None else round(float(value), 6)


def _is_nan(value) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def _chunks(items: Iterable, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
