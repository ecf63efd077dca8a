"""`explain_texts` and `explain_run`: one `Explanation` per text."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from textlstm.explain.attributions import (
    AfterEmbedding,
    integrated_gradients,
    split_text_model,
)
from textlstm.explain.memory import (
    cell_name,
    gates_available,
    rank_units,
    read_layer,
    units_of,
)
from textlstm.explain.records import (
    DEFAULT_MAX_STEPS,
    DEFAULT_STEPS,
    DEFAULT_TOLERANCE,
    DEFAULT_TOP_UNITS,
    Explanation,
    IntegratedGradients,
    LayerReading,
    as_floats,
)
from textlstm.explain.report import write_explanations
from textlstm.layers import fast_path_options
from textlstm.model import load_text_classifier
from textlstm.runs import RunError, read_run

__all__ = ["ExplainResult", "explain_run", "explain_texts"]

#: Texts vectorized per call.
_CHUNK = 64


def explain_texts(
    model: keras.Model,
    texts: Iterable[str],
    class_names: Sequence[str],
    *,
    steps: int = DEFAULT_STEPS,
    max_steps: int = DEFAULT_MAX_STEPS,
    tolerance: float = DEFAULT_TOLERANCE,
    top_units: int = DEFAULT_TOP_UNITS,
    progress: Callable[[int, int], None] | None = None,
) -> list[Explanation]:
    """Explain the predictions of an end-to-end text model, text by text.

    Args:
        model: A `model.keras` of `textlstm fit` (raw strings -> vectorizer
            -> `classifier`), e.g. from `textlstm.model.load_text_classifier`.
        texts: The texts.
        class_names: Name of each class id.
        steps: Gauss-Legendre nodes of the first integrated-gradients pass
            (8 per panel); panels are halved where the completeness error
            is until it is below `tolerance` of |f(x) - f(baseline)|, up to
            `max_steps` nodes (see `integrated_gradients`).
        max_steps: Most nodes.
        tolerance: Target relative completeness error.
        top_units: How many units of the last recurrent layer to show one by
            one.
        progress: Called with `(done, total)` after each text.

    Returns:
        One `Explanation` per text, in order.
    """
    vectorizer, classifier = split_text_model(model)
    after = AfterEmbedding(classifier)
    vocabulary = vectorizer.get_vocabulary()
    options = dict(
        steps=steps, max_steps=max_steps, tolerance=tolerance, top_units=top_units
    )
    texts = list(texts)
    explanations = []
    # Without XLA: XLA compiles the fast path once per input shape, which
    # costs seconds for every new text length; the plain graph is traced once.
    with fast_path_options(xla=False):
        for start in range(0, len(texts), _CHUNK):
            chunk = texts[start : start + _CHUNK]
            encoded = [text.encode("utf-8", errors="replace") for text in chunk]
            rows = np.asarray(vectorizer(np.array(encoded, dtype=object)))
            for text, row in zip(chunk, rows):
                token_ids = row[row != 0]
                explanations.append(
                    _explain(after, text, token_ids, vocabulary, class_names, **options)
                )
                if progress is not None:
                    progress(len(explanations), len(texts))
    return explanations


def _explain(after, text, token_ids, vocabulary, class_names, *, top_units, **ig):
    """One text (its ids without padding); see `explain_texts`."""
    if not len(token_ids):
        return _no_tokens(after, text, class_names)
    embedded = after.embed(token_ids[None])
    mask = np.ones((1, len(token_ids)), bool)
    with tf.GradientTape() as tape:
        tape.watch(embedded)
        trace = after(embedded, mask)
        probabilities = trace.probabilities[0]
        target = int(np.argmax(probabilities))
        picked = probabilities[target]
    last = after.recurrent[-1] if after.recurrent else None
    attributions, summary = integrated_gradients(
        after, embedded[0], mask[0], target, target_name=class_names[target], **ig
    )

    layers, raw, notes = [], None, []
    if not summary.converged:
        notes.append(_not_converged(after, summary))
    for layer in after.recurrent:
        if gates_available(layer):
            reading, raw = read_layer(
                layer, trace.inputs[layer.name], trace.masks[layer.name]
            )
        else:
            reading = LayerReading(layer.name, cell_name(layer), units_of(layer), [])
            raw = None
            notes.append(_unavailable(layer))
        layers.append(reading)
    units = []
    if last is not None and top_units:
        output = trace.last_output
        gradient = tape.gradient(picked, output).numpy()
        contributions = (gradient * output.numpy())[0]
        if contributions.ndim == 2:  # a sequence: sum over its tokens
            contributions = contributions.sum(0)
        units = rank_units(last, contributions, raw, top_units)
    return Explanation(
        text=text,
        tokens=[str(vocabulary[i]) for i in token_ids],
        token_ids=[int(i) for i in token_ids],
        label=class_names[target],
        probabilities=_probabilities(probabilities, class_names),
        attributions=as_floats(attributions),
        integrated_gradients=summary,
        layers=layers,
        top_units=units,
        gates_available=all(gates_available(layer) for layer in after.recurrent),
        notes=notes,
    )


def _no_tokens(after, text, class_names) -> Explanation:
    """An empty text (after standardization): only the prediction."""
    embedded = after.embed(np.zeros((1, 1), np.int64))
    probabilities = after(embedded, np.zeros((1, 1), bool)).probabilities[0]
    target = int(np.argmax(probabilities))
    p = float(probabilities[target])
    return Explanation(
        text=text,
        tokens=[],
        token_ids=[],
        label=class_names[target],
        probabilities=_probabilities(probabilities, class_names),
        attributions=[],
        integrated_gradients=IntegratedGradients(
            target=class_names[target],
            f_input=p,
            f_baseline=p,
            total=0.0,
            completeness_error=0.0,
            relative_completeness_error=0.0,
            steps=0,
            converged=True,
        ),
        layers=[],
        top_units=[],
        gates_available=all(gates_available(layer) for layer in after.recurrent),
        notes=["the text has no tokens after standardization: nothing to attribute"],
    )


def _not_converged(after, summary) -> str:
    note = (
        f"integrated gradients did not reach the tolerance in {summary.steps} "
        f"steps: completeness error {summary.relative_completeness_error:.2%}"
    )
    if any("LayerNorm" in cell_name(layer) for layer in after.recurrent):
        note += (
            " (layer normalization is scale-invariant: the path from the zero "
            "baseline jumps right next to it, where no quadrature can follow)"
        )
    return note


def _unavailable(layer) -> str:
    rnn = getattr(layer, "forward_layer", layer)
    return (
        f"gates are not available for {layer.name}: the built-in "
        f"keras.layers.{type(rnn).__name__} does not expose its gates "
        "(train with model.impl: textlstm)"
    )


def _probabilities(probabilities, class_names) -> dict[str, float]:
    values = as_floats(np.asarray(probabilities))
    return {str(name): value for name, value in zip(class_names, values)}


@dataclasses.dataclass
class ExplainResult:
    """What `explain_run` computed and wrote.

    Attributes:
        explanations: One per text.
        out_dir: The folder written.
        html: `explain.html`.
        json: `explain.json`.
        plots: One PNG per text, in order.
    """

    explanations: list[Explanation]
    out_dir: Path
    html: Path
    json: Path
    plots: list[Path]


def explain_run(
    run_dir: str | os.PathLike,
    texts: Iterable[str],
    out_dir: str | os.PathLike | None = None,
    **options,
) -> ExplainResult:
    """Explain texts with a run folder's model and write PNG, HTML and JSON.

    Args:
        run_dir: A run folder written by `textlstm fit`.
        texts: The texts.
        out_dir: Where to write `text-NNN.png`, `explain.html` and
            `explain.json` (default `RUN_DIR/explain/`).
        **options: `steps`, `max_steps`, `tolerance`, `top_units`,
            `progress` of `explain_texts`.

    Raises:
        textlstm.errors.RunError: not a usable run folder.
    """
    run = read_run(run_dir)
    if not (run.path / "model.keras").is_file():
        raise RunError(f"{run.path} has no model.keras (the run did not finish)")
    model = load_text_classifier(run.path)
    explanations = explain_texts(model, texts, run.class_names, **options)
    out_dir = Path(out_dir) if out_dir is not None else run.path / "explain"
    files = write_explanations(explanations, out_dir, run_dir=run.path)
    return ExplainResult(explanations, out_dir, **files)
