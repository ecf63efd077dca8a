"""Predictions from an export, with TensorFlow alone (no Keras model)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence

import numpy as np

from textlstm.export.litert_predictor import LiteRTPredictor
from textlstm.export.report import EXTRA
from textlstm.export.versions import LITERT_MODEL, resolve_export

__all__ = ["load_export_predictor"]


def load_export_predictor(
    path: str | os.PathLike, *, batch_size: int = 256
) -> Callable[[Sequence[str | bytes]], tuple[np.ndarray, list[str]]]:
    """A predictor on an export: `predict(texts) -> (probabilities, class_names)`.

    Loads the SavedModel with `tf.saved_model.load` (no Keras) and calls its
    `serving_default` signature in batches; a LiteRT export (`model.tflite`)
    runs in the `ai-edge-litert` interpreter, one text at a time
    (`LiteRTPredictor`). Any string gets a prediction:
    `str` is UTF-8 encoded (unpaired surrogates replaced), `bytes` are passed
    as they are.

    Args:
        path: An export version folder, or a model base (its latest version).
        batch_size: Texts per signature call.

    Returns:
        A callable from a sequence of texts to a float32 array
        `[len(texts), C]` and the class names.

    Example:

    ```python
    predict = load_export_predictor("exports/quickstart")
    probabilities, class_names = predict(["what a film", ""])
    ```
    """
    path = resolve_export(path)
    if (path / LITERT_MODEL).is_file():
        predict = LiteRTPredictor(path)
        predict.loaded = predict.interpreter
        return predict
    import tensorflow as tf  # heavy: `textlstm.export` imports without it

    loaded = tf.saved_model.load(str(path))
    serve = loaded.signatures["serving_default"]
    names_file = path / EXTRA / "class_names.json"
    if names_file.is_file():
        class_names = json.loads(names_file.read_text(encoding="utf-8"))
    else:  # exported elsewhere: the classes are numbered
        class_names = None
    num_classes = int(serve.structured_outputs["probabilities"].shape[-1])

    def predict(texts):
        encoded = [
            t if isinstance(t, bytes) else str(t).encode("utf-8", "replace")
            for t in texts
        ]
        parts = [np.zeros((0, num_classes), np.float32)]
        for start in range(0, len(encoded), batch_size):
            batch = tf.constant(encoded[start : start + batch_size], tf.string)
            parts.append(serve(text=batch)["probabilities"].numpy())
        return np.concatenate(parts), list(class_names or range(num_classes))

    predict.path = path
    predict.loaded = loaded
    return predict
