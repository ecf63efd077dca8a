"""Write a LiteRT export: `model.tflite`, `vocab.txt`, `labels.txt` and
`assets.extra/` (see `textlstm.export.litert_predictor` for the layout).

What `export.json` adds for this target:

- `tokenizer`: the vectorizer's rules (what an app must reproduce);
- `fused_lstms`: how many `UNIDIRECTIONAL_SEQUENCE_LSTM` ops the model
  must hold (the verification counts them);
- `cell_state_peak`: the largest |cell state| of the fused LSTMs on the
  sample texts and up to `PEAK_TEXTS` texts of the run's test split
  (what the converter's clip of 10, removed, would have cut);
- `quantization` (`--quantize dynamic`): test accuracy of the Keras model
  and of the quantized model on up to `ACCURACY_TEXTS` test texts;
- `empty_text_probabilities`, `file_bytes`.

Imports TensorFlow: used only while an export is written.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from textlstm.errors import ExportError
from textlstm.export.litert import (
    CELL_CLIP,
    cell_state_peaks,
    convert,
    empty_text_probabilities,
    fused_lstm_count,
)
from textlstm.export.litert_predictor import LITERT_MODEL, LiteRTPredictor
from textlstm.export.samples import sample_texts
from textlstm.export.saved_model import has_ngram_model, model_parts
from textlstm.runs import Run, write_bytes, write_text
from textlstm.text import write_vocabulary

__all__ = ["ACCURACY_TEXTS", "PEAK_TEXTS", "write_litert"]

#: Test texts the cell state is measured on (besides the samples).
PEAK_TEXTS = 500
#: Test texts the quantized model's accuracy is measured on.
ACCURACY_TEXTS = 2000

_TOKENIZER_KEYS = (
    "max_tokens",
    "sequence_length",
    "level",
    "ngrams",
    "lowercase",
    "strip_html",
    "strip_punctuation",
    "padding",
    "truncation",
    "standardizer_version",
)


def write_litert(
    text_model, run: Run, folder: Path, *, quantize: str | None, log
) -> dict:
    """Write the LiteRT files of `text_model` to the new `folder`.

    Returns:
        The fields `export.json` adds (see the module docstring).
    """
    vectorizer, classifier = model_parts(text_model)
    if has_ngram_model(text_model):
        raise ExportError(
            "LiteRT exports cannot take a run with model.ngram_ensemble yet (its "
            "n-gram features need ops LiteRT lacks); export a SavedModel"
        )
    folder.mkdir(parents=True, exist_ok=True)
    log("Converting to TensorFlow Lite" + (" (dynamic-range int8)" if quantize else ""))
    model = convert(classifier, quantize=quantize)
    write_bytes(folder / LITERT_MODEL, model)
    write_vocabulary(vectorizer, folder / "vocab.txt")
    write_text(folder / "labels.txt", "".join(f"{n}\n" for n in run.class_names))
    tokenizer = {
        key: value
        for key, value in vectorizer.get_config().items()
        if key in _TOKENIZER_KEYS
    }
    test_texts, unreadable = _test_texts(
        run, max(PEAK_TEXTS, ACCURACY_TEXTS if quantize else 0)
    )
    if quantize and not test_texts:
        raise ExportError(
            "--quantize dynamic measures the test accuracy, but the run's test "
            f"split cannot be read here: {unreadable}"
        )
    samples = sample_texts(vectorizer.get_vocabulary(include_special_tokens=True))
    texts = list(samples) + [t for t, _ in test_texts]
    rows = _rows(vectorizer, texts[: len(samples) + PEAK_TEXTS])
    peaks = cell_state_peaks(classifier, rows)
    fields = {
        "litert": True,
        "quantize": quantize,
        "signatures": {
            "serving_default": {"inputs": {"token_ids": "int32 [1, T], T >= 1"}}
        },
        "outputs": {"probabilities": "float32 [1, C]"},
        "tokenizer": tokenizer,
        "fused_lstms": fused_lstm_count(classifier),
        "cell_state_peak": {
            "max_abs": max(peaks, default=None),
            "per_lstm": peaks,
            "texts": len(rows),
            "test_texts": min(len(test_texts), PEAK_TEXTS),
            "converter_clip": CELL_CLIP,
            "clip": 0.0,
        },
        "empty_text_probabilities": empty_text_probabilities(classifier),
        "file_bytes": len(model),
    }
    if quantize:
        log(f"Measuring accuracy on {min(len(test_texts), ACCURACY_TEXTS)} test texts")
        fields["quantization"] = _accuracy(
            text_model, folder, fields, test_texts[:ACCURACY_TEXTS]
        )
    return fields


def _test_texts(run: Run, count: int) -> tuple[list[tuple[bytes, int]], str]:
    """Up to `count` `(text, label)` of the run's test split, and why there
    are none if its data cannot be read here any more."""
    from textlstm.data import load_dataset
    from textlstm.errors import DataError

    try:
        bundle = load_dataset(run.config["data"], run.config["train"]["seed"])
    except (DataError, OSError) as error:
        return [], str(error)
    texts = [
        (text, int(label))
        for text, label in itertools.islice(bundle.test.as_numpy_iterator(), count)
    ]
    return texts, "" if texts else "the test split is empty"


def _rows(vectorizer, texts) -> list[list[int]]:
    import tensorflow as tf

    length = int(vectorizer.sequence_length)
    rows = []
    for start in range(0, len(texts), 256):
        ids = vectorizer.token_ids(tf.constant(texts[start : start + 256], tf.string))
        for row in ids.to_list():
            rows.append(
                row[-length:] if vectorizer.truncation == "pre" else row[:length]
            )
    return rows


def _accuracy(text_model, folder: Path, fields: dict, test_texts) -> dict:
    """Test accuracy of the Keras model and of the written LiteRT model."""
    if not test_texts:
        return {"test_texts": 0}
    texts = [t for t, _ in test_texts]
    labels = np.asarray([label for _, label in test_texts])
    keras_probabilities = np.concatenate(
        [
            np.asarray(
                text_model.predict_on_batch(np.array(texts[i : i + 256], object))
            )
            for i in range(0, len(texts), 256)
        ]
    )
    lite_probabilities, _ = LiteRTPredictor(folder, info=fields)(texts)
    keras_accuracy = float((keras_probabilities.argmax(-1) == labels).mean())
    lite_accuracy = float((lite_probabilities.argmax(-1) == labels).mean())
    return {
        "test_texts": len(texts),
        "keras_accuracy": round(keras_accuracy, 5),
        "litert_accuracy": round(lite_accuracy, 5),
        "change_points": round(100 * (lite_accuracy - keras_accuracy), 3),
        "label_agreement": round(
            float(
                (lite_probabilities.argmax(-1) == keras_probabilities.argmax(-1)).mean()
            ),
            5,
        ),
    }
