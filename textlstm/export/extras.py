"""`assets.extra/`: what an export says about itself, beside the SavedModel.

```
class_names.json             label of each output column
config.yaml, run.json        copies of the run folder's
export.json                  format, target, version, signatures, versions
verification_samples.json    sample inputs and the Keras model's outputs
verification.json            the verification report (written by `publish`)
```

Every file is written atomically (`textlstm.runs`). Imports TensorFlow and
Keras: the Keras reference outputs are computed here.
"""

from __future__ import annotations

import base64
import datetime
import os
import sys
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import textlstm
from textlstm.export.report import EXTRA, JSON_INDENT
from textlstm.export.samples import sample_texts
from textlstm.export.saved_model import model_parts, token_model
from textlstm.model import load_text_classifier
from textlstm.runs import Run, write_bytes, write_json

__all__ = ["keras_reference", "run_reference", "write_extras"]

_SIGNATURES = {
    "serving_default": {"inputs": {"text": "string [None]"}},
    "serve_tokens": {"inputs": {"token_ids": "int64 [None, None]"}},
}
_OUTPUTS = {
    "probabilities": "float32 [None, C]",
    "label_id": "int64 [None]",
    "label": "string [None]",
}


def write_extras(
    text_model, run: Run, folder: Path, extras: dict, *, target: str, version: int
) -> None:
    """Write `folder/assets.extra/` (all but `verification.json`).

    Args:
        text_model: The exported model (for the sequence length and the
            Keras reference outputs).
        run: Its run folder.
        folder: The SavedModel folder.
        extras: The target's fields of `export.json`.
        target: The export target.
        version: The version number.
    """
    extra = folder / EXTRA
    extra.mkdir(exist_ok=True)  # the warm-up requests may be there
    write_json(extra / "class_names.json", list(run.class_names), JSON_INDENT)
    for name in ("config.yaml", "run.json"):
        write_bytes(extra / name, (run.path / name).read_bytes())
    vectorizer, _ = model_parts(text_model)
    export_info = {
        "format": "textlstm-export-1",
        "target": target,
        "version": version,
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "source_run": str(run.path.resolve()),
        "class_names": list(run.class_names),
        "signatures": _SIGNATURES,
        "outputs": _OUTPUTS,
        "sequence_length": int(vectorizer.sequence_length),
        "versions": {
            "textlstm": textlstm.__version__,
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "python": sys.version.split()[0],
        },
        **extras,
    }
    write_json(extra / "export.json", export_info, JSON_INDENT)
    samples = keras_reference(text_model)
    write_json(extra / "verification_samples.json", samples, JSON_INDENT)


def run_reference(run_dir: str | os.PathLike) -> dict:
    """`keras_reference` of the `model.keras` of a run folder."""
    return keras_reference(load_text_classifier(run_dir))


def keras_reference(text_model) -> dict:
    """Sample inputs and the Keras model's outputs on them.

    Returns:
        The content of `verification_samples.json`: the texts of
        `sample_texts` (base64), their probabilities, token id batches of
        several widths (`serve_tokens` takes any `[N, M]`) and theirs, and
        the first 8 rows of ids for `tpu_func`.
    """
    vectorizer, _ = model_parts(text_model)
    classifier = token_model(text_model)
    texts = sample_texts(vectorizer.get_vocabulary(include_special_tokens=True))
    probabilities, ids = [], []
    for start in range(0, len(texts), 64):
        batch = tf.constant(texts[start : start + 64], tf.string)
        probabilities.append(np.asarray(text_model(batch, training=False)))
        ids.append(np.asarray(vectorizer(batch)))
    ids = np.concatenate(ids)
    token_ids = [ids[:40], ids[40:60, : max(1, ids.shape[1] // 3)], ids[60:61, :1]]
    token_probabilities = [
        np.asarray(classifier(tf.constant(batch), training=False))
        for batch in token_ids
    ]
    return {
        "texts_b64": [base64.b64encode(t).decode("ascii") for t in texts],
        "probabilities": np.concatenate(probabilities).tolist(),
        "token_ids": [batch.tolist() for batch in token_ids],
        "token_probabilities": [p.tolist() for p in token_probabilities],
        "tpu_token_ids": ids[:8].tolist(),
        "tpu_probabilities": np.concatenate(probabilities)[:8].tolist(),
    }
