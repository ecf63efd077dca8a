"""Verification of a LiteRT export with the `ai-edge-litert` interpreter.

Checks: the interpreter loads `model.tflite`; its ops are TensorFlow Lite
builtins only (no Flex or custom op); it holds one fused
`UNIDIRECTIONAL_SEQUENCE_LSTM` per LSTM layer and direction, none of which
clips its cell state (the converter's 10, removed by the export); and its
probabilities, tokenized by the export's own files, equal the Keras
model's on the sample texts within 1e-4 (a `--quantize dynamic` model:
its measured test accuracy is at most 1 point below the Keras model's).
Runs in this process: the interpreter is not TensorFlow.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np

from textlstm.export.litert_predictor import LITERT_MODEL, LiteRTPredictor, model_ops
from textlstm.export.report import CheckList

__all__ = ["LITERT_TOLERANCE", "QUANTIZED_POINTS", "check_litert"]

#: Largest |LiteRT - Keras| probability difference of a float model.
LITERT_TOLERANCE = 1e-4
#: Largest test-accuracy change (points) of a quantized model.
QUANTIZED_POINTS = 1.0
_FUSED = "UNIDIRECTIONAL_SEQUENCE_LSTM"


def check_litert(path: Path, samples: dict, info: dict) -> CheckList:
    """Every check of a LiteRT export, in order."""
    checks = CheckList()
    try:
        predictor = LiteRTPredictor(path)
    except Exception as error:  # the interpreter raises many kinds
        checks.add("LiteRT interpreter", False, f"{type(error).__name__}: {error}")
        return checks
    size = (path / LITERT_MODEL).stat().st_size
    checks.add(
        "LiteRT interpreter",
        True,
        f"ai-edge-litert loaded {LITERT_MODEL} ({size / 1024:.1f} KiB)",
    )
    ops = model_ops(predictor.interpreter)
    _check_ops(checks, ops, info)
    _check_cell_state(checks, path, info)
    texts = [base64.b64decode(t) for t in samples["texts_b64"]]
    got, _ = predictor(texts)
    expected = np.asarray(samples["probabilities"], np.float64)
    diff = float(np.abs(got - expected).max()) if len(texts) else 0.0
    checks.max_abs_diff["litert"] = diff
    labels = float((got.argmax(-1) == expected.argmax(-1)).mean())
    if not info.get("quantize"):
        checks.add(
            "parity litert",
            diff <= LITERT_TOLERANCE and np.all(np.isfinite(got)),
            f"max |litert - keras| = {diff:.2e} on {len(texts)} texts "
            f"(<= {LITERT_TOLERANCE:g})",
        )
        return checks
    checks.add(
        "quantized outputs",
        bool(np.all(np.isfinite(got))),
        f"max |litert - keras| = {diff:.2e}, same label on {100 * labels:.1f}% of "
        f"{len(texts)} sample texts",
    )
    _check_quantized_accuracy(checks, info.get("quantization", {}))
    return checks


def _check_ops(checks: CheckList, ops: list[str], info: dict) -> None:
    foreign = sorted({op for op in ops if op.startswith("Flex") or op == "CUSTOM"})
    checks.add(
        "builtin ops",
        not foreign,
        f"{len(set(ops))} op types, all TensorFlow Lite builtins (no Flex op)"
        if not foreign
        else f"not builtin: {foreign}",
    )
    fused, expected = ops.count(_FUSED), int(info.get("fused_lstms", 0))
    loops = ops.count("WHILE")
    checks.add(
        "fused LSTM",
        fused == expected,
        f"{fused} {_FUSED} ops (expected {expected}), {loops} WHILE loops",
    )


def _check_cell_state(checks: CheckList, path: Path, info: dict) -> None:
    """No fused LSTM clips its cell state (the converter's 10 removed), and
    how far the cell state went on the measured texts."""
    if not info.get("fused_lstms"):
        return
    from textlstm.export.litert import cell_clips  # heavy: TensorFlow Lite

    clips = cell_clips((path / LITERT_MODEL).read_bytes())
    peak = info.get("cell_state_peak") or {}
    value = peak.get("max_abs")
    measured = (
        f"; max |c| = {value:.2f} on {peak['texts']} texts ({peak['test_texts']} "
        "from the test split)"
        if value is not None
        else ""
    )
    checks.add(
        "cell clip",
        bool(clips) and all(clip == 0 for clip in clips),
        f"none in the {len(clips)} fused LSTM ops, as in Keras{measured}"
        if clips and all(clip == 0 for clip in clips)
        else f"the fused LSTM ops clip the cell state at {clips}: LiteRT would "
        f"clip what Keras does not{measured}",
    )


def _check_quantized_accuracy(checks: CheckList, quantization: dict) -> None:
    count = quantization.get("test_texts", 0)
    if not count:
        checks.add("quantized accuracy", False, "no test texts could be read")
        return
    change = float(quantization["change_points"])
    checks.add(
        "quantized accuracy",
        change >= -QUANTIZED_POINTS,
        f"{100 * quantization['litert_accuracy']:.2f}% vs Keras "
        f"{100 * quantization['keras_accuracy']:.2f}% on {count} test texts "
        f"({change:+.2f} points; at most {QUANTIZED_POINTS:g} lost)",
    )
