"""Predictions from a LiteRT export (`--target litert`), with the
`ai-edge-litert` interpreter.

A LiteRT export folder holds

```
model.tflite        token_ids int32 [1, T] -> probabilities float32 [1, C]
vocab.txt           line i = the token of id i (0 padding, 1 [UNK])
labels.txt          line i = the class of output column i
assets.extra/       export.json (the tokenizer rules, ...), verification
```

The model takes one text's ids at its true length (no padding: the fused
LSTM op takes no mask). `LiteRTPredictor` tokenizes as the run's vectorizer
did (rebuilt from `vocab.txt` and the rules in `export.json`), drops
nothing but what the vectorizer truncates, and runs the interpreter once
per text. A text without any token gets the probabilities the Keras model
gives an all-padding row (`export.json`: `empty_text_probabilities`).

Importing this module imports neither TensorFlow nor the interpreter.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textlstm.errors import ExportError
from textlstm.export.report import EXTRA
from textlstm.export.versions import LITERT_MODEL

__all__ = ["LITERT_MODEL", "LiteRTPredictor", "interpreter_class", "model_ops"]


def interpreter_class():
    """`ai_edge_litert.interpreter.Interpreter`, or a one-line error."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ExportError(
            "litert: running a LiteRT model needs the ai-edge-litert interpreter "
            "(pip install 'textlstm[litert]')"
        ) from None
    return Interpreter


def model_ops(interpreter) -> list[str]:
    """The op of each node of a loaded model, in order (builtin op names,
    e.g. `UNIDIRECTIONAL_SEQUENCE_LSTM`; Flex ops show as `Flex...`)."""
    return [op["op_name"] for op in interpreter._get_ops_details()]


class LiteRTPredictor:
    """`predictor(texts) -> (probabilities [N, C], class names)` on a LiteRT
    export folder.

    Args:
        path: The export version folder (holding `model.tflite`).
        info: Its `export.json` content, if not to be read from the folder
            (while the export is being written).

    Attributes:
        info: The export's `export.json`.
        interpreter: The `ai_edge_litert` interpreter.

    Example:

    ```python
    predict = LiteRTPredictor("exports/quickstart-lite/1")
    probabilities, class_names = predict(["what a film", ""])
    ```
    """

    def __init__(self, path: str | os.PathLike, info: dict | None = None):
        self.path = Path(path)
        info_path = self.path / EXTRA / "export.json"
        if not (self.path / LITERT_MODEL).is_file() or not (
            info is not None or info_path.is_file()
        ):
            raise ExportError(
                f"{self.path} is not a LiteRT export of textlstm export "
                f"({LITERT_MODEL} or {EXTRA}/export.json missing)"
            )
        if info is None:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        self.info = info
        self.class_names = _lines(self.path / "labels.txt")
        self.interpreter = interpreter_class()(model_path=str(self.path / LITERT_MODEL))
        self._input = self.interpreter.get_input_details()[0]["index"]
        self._output = self.interpreter.get_output_details()[0]["index"]
        self._length = None
        self._tokenizer = None

    def token_rows(self, texts: Sequence[str | bytes]) -> list[list[int]]:
        """Each text's token ids as the run's vectorizer gives them,
        truncated as it truncates, without padding."""
        if not texts:
            return []
        import tensorflow as tf  # heavy: the vectorizer's string ops

        if self._tokenizer is None:
            self._tokenizer = _tokenizer(self.path, self.info["tokenizer"])
        encoded = [
            t if isinstance(t, bytes) else str(t).encode("utf-8", "replace")
            for t in texts
        ]
        ids = self._tokenizer.token_ids(tf.constant(encoded, tf.string))
        length = int(self.info["tokenizer"]["sequence_length"])
        keep_last = self.info["tokenizer"]["truncation"] == "pre"
        rows = []
        for row in ids.to_list():
            rows.append(row[-length:] if keep_last else row[:length])
        return rows

    def run_ids(self, row: Sequence[int]) -> np.ndarray:
        """The probabilities `[C]` of one text's ids (empty: the Keras
        model's for an all-padding row)."""
        if not len(row):
            return np.asarray(self.info["empty_text_probabilities"], np.float32)
        if len(row) != self._length:
            self.interpreter.resize_tensor_input(self._input, [1, len(row)])
            self.interpreter.allocate_tensors()
            self._length = len(row)
        # The fused LSTM ops keep their state in variable tensors, which
        # carry over from one invocation to the next: each text starts anew.
        self.interpreter.reset_all_variables()
        self.interpreter.set_tensor(self._input, np.asarray([row], np.int32))
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._output)[0].copy()

    def __call__(self, texts: Sequence[str | bytes]):
        rows = self.token_rows(list(texts))
        parts = [self.run_ids(row) for row in rows]
        probabilities = (
            np.stack(parts)
            if parts
            else np.zeros((0, len(self.class_names)), np.float32)
        )
        return probabilities, list(self.class_names)


def _lines(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="\n") as f:
        return f.read().split("\n")[:-1]


def _tokenizer(path: Path, rules: dict):
    """The run's vectorizer, rebuilt from `vocab.txt` and its rules."""
    from textlstm.text import TextVectorizer  # heavy: Keras

    vocabulary = _lines(path / "vocab.txt")[2:]  # without padding and [UNK]
    return TextVectorizer(
        **{key: value for key, value in rules.items() if key != "max_tokens"},
        max_tokens=len(vocabulary) + 2,
        vocabulary=vocabulary,
    )
