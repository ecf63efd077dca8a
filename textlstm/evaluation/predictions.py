"""Evaluation and prediction of trained models, runs and exports.

`evaluate_run` loads a run folder written by `textlstm.training.fit` and
scores a split of its data; `predict_texts` labels texts with a run folder
or an export of `textlstm.export`; `evaluate_mixture` and `mixture_weight`
score and weigh the average of the network and the n-gram model.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from textlstm.config import explicit_values
from textlstm.errors import DataError
from textlstm.evaluation.metrics import classification_metrics, log_loss, round_metric
from textlstm.export import load_export_predictor
from textlstm.runs import read_run

__all__ = [
    "WEIGHT_GRID",
    "evaluate_mixture",
    "evaluate_model",
    "evaluate_run",
    "load_predictor",
    "mixture_weight",
    "predict_probabilities",
    "predict_texts",
]

#: The n-gram shares `model.ngram_weight: auto` chooses from.
WEIGHT_GRID = tuple(round(0.1 * step, 1) for step in range(11))


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
        share: log_loss((1 - share) * network_true + share * ngrams_true)
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
    from textlstm.model import load_text_classifier

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


def load_predictor(
    path: str | os.PathLike, *, batch_size: int = 64
) -> tuple[Callable[[Sequence[str]], np.ndarray], list[str]]:
    """A run folder's model or an export, loaded once, as a function of texts.

    Args:
        path: A run folder written by `textlstm fit` (its `model.keras`), or
            an export of `textlstm export`: a version folder or a model base
            (its latest version), run through its `serving_default`
            signature with `tf.saved_model.load`, without Keras.
        batch_size: Texts per model call.

    Returns:
        `(predict, class_names)`: `predict(texts)` gives the probabilities,
        a float array `[len(texts), len(class_names)]`. Any string gets a
        prediction: empty, very long, control characters, unpaired
        surrogates (replaced by U+FFFD before encoding).
    """
    if (Path(path) / "model.keras").is_file():
        from textlstm.model import load_text_classifier  # heavy: TensorFlow

        run = read_run(path)
        model = load_text_classifier(run.path)
        num_classes = len(run.class_names)

        def predict(texts):
            parts = [np.zeros((0, num_classes), np.float32)]
            for chunk in _chunks(texts, batch_size):
                encoded = [text.encode("utf-8", errors="replace") for text in chunk]
                batch = np.array(encoded, dtype=object)
                parts.append(np.asarray(model.predict_on_batch(batch)))
            return np.concatenate(parts)

        return predict, list(run.class_names)
    predictor = load_export_predictor(path, batch_size=batch_size)
    _, class_names = predictor([])
    return (lambda texts: predictor(list(texts))[0]), list(class_names)


def predict_texts(
    path: str | os.PathLike, texts: Iterable[str], *, batch_size: int = 64
) -> Iterable[dict]:
    """Classify raw texts with a run folder's model or with an export.

    Any string gets a prediction: empty, very long, control characters,
    unpaired surrogates (replaced by U+FFFD before encoding).

    Args:
        path: A run folder or an export, as `load_predictor` takes it.
        texts: The texts; consumed lazily, `batch_size` at a time.
        batch_size: Texts per model call.

    Yields:
        One dict per text: `text`, `label` (class name) and `probabilities`
        (class name -> probability).
    """
    predict, class_names = load_predictor(path, batch_size=batch_size)
    for chunk in _chunks(texts, batch_size):
        for text, row in zip(chunk, predict(chunk)):
            yield {
                "text": text,
                "label": class_names[int(row.argmax())],
                "probabilities": {
                    str(name): round_metric(float(p))
                    for name, p in zip(class_names, row)
                },
            }


def _chunks(items: Iterable, size: int):
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
