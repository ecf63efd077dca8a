"""Integrated gradients on the embedding outputs.

`integrated_gradients` differentiates the classifier from its embedding
outputs on (`textlstm.model.forward.AfterEmbedding`, run with dropout off).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from textlstm.explain.records import (
    DEFAULT_MAX_STEPS,
    DEFAULT_STEPS,
    DEFAULT_TOLERANCE,
    IntegratedGradients,
)
from textlstm.model.forward import AfterEmbedding, Trace

__all__ = ["AfterEmbedding", "Trace", "integrated_gradients", "split_text_model"]

#: A completeness error this small counts as converged whatever the ratio
#: (a probability that hardly moves from the baseline).
_ABSOLUTE_TOLERANCE = 1e-6
#: Interpolated inputs per model call.
_ROWS_PER_CALL = 256
#: Gauss-Legendre nodes per panel of the composite rule.
_NODES = 8


def split_text_model(model: keras.Model):
    """`(vectorizer, classifier)` of an end-to-end model of `textlstm fit`.

    Raises:
        ValueError: `model` has no `classifier` sub-model or no vectorizer.
    """
    try:
        classifier = model.get_layer("classifier")
    except ValueError:
        raise ValueError(
            f"{model.name!r} has no 'classifier' sub-model: not a model of textlstm fit"
        ) from None
    vectorizers = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.TextVectorization)
    ]
    if not vectorizers:
        raise ValueError(f"{model.name!r} has no vectorizer layer")
    return vectorizers[0], classifier


def integrated_gradients(
    after: AfterEmbedding,
    embedded: np.ndarray,
    mask: np.ndarray,
    target: int,
    *,
    steps: int = DEFAULT_STEPS,
    max_steps: int = DEFAULT_MAX_STEPS,
    tolerance: float = DEFAULT_TOLERANCE,
    target_name: str = "",
) -> tuple[np.ndarray, IntegratedGradients]:
    """Integrated gradients (Sundararajan et al., 2017) of one text's tokens.

    With x the embedding outputs `(time, dim)` and the baseline x' = 0 (same
    length, same mask), the attribution of token t is

        a_t = sum_d x[t, d] * integral_0^1 dF(alpha x) / dx[t, d] d alpha,

    F the probability of class `target`. The integral is an adaptive
    composite Gauss-Legendre rule: [0, 1] is cut into panels of 8 nodes
    each, and since the attributions of a panel [a, b] must add up to
    F(b x) - F(a x), the panels that miss by the most are halved, in
    batches, until the completeness error |sum_t a_t - (F(x) - F(x'))| is
    at most `tolerance` times |F(x) - F(x')| (or 1e-6), or `max_steps` nodes
    are used. A trained recurrent network can switch its prediction within
    a thousandth of the path; the panels gather there.

    Args:
        after: The classifier after its embedding.
        embedded: The text's embedding outputs, `(time, dim)`.
        mask: Its mask `(time,)`.
        target: The explained class id.
        steps: Nodes of the first pass (`steps / 8` equal panels).
        max_steps: Most nodes.
        tolerance: Target relative completeness error.
        target_name: The class name, for the summary.

    Returns:
        `(attributions (time,), IntegratedGradients)`.
    """
    x = tf.convert_to_tensor(embedded)
    mask = np.asarray(mask, bool)
    edges = np.linspace(0.0, 1.0, max(1, -(-int(steps) // _NODES)) + 1)
    panels = list(zip(edges[:-1], edges[1:]))
    pieces, values = _integrate(after, x, mask, target, panels, edges)
    delta = values[1.0] - values[0.0]
    while True:
        attributions = np.sum(list(pieces.values()), axis=0)
        error = abs(float(attributions.sum()) - delta)
        converged = error <= max(tolerance * abs(delta), _ABSOLUTE_TOLERANCE)
        misses = {
            (a, b): abs(piece.sum() - (values[b] - values[a]))
            for (a, b), piece in pieces.items()
        }
        worst = _worst(misses)
        if converged or (len(pieces) + len(worst)) * _NODES > max_steps:
            break
        halves = [
            half for a, b in worst for half in ((a, (a + b) / 2), ((a + b) / 2, b))
        ]
        for panel in worst:
            del pieces[panel]
        new_pieces, new_values = _integrate(
            after, x, mask, target, halves, [(a + b) / 2 for a, b in worst]
        )
        pieces.update(new_pieces)
        values.update(new_values)
    summary = IntegratedGradients(
        target=target_name,
        f_input=values[1.0],
        f_baseline=values[0.0],
        total=float(attributions.sum()),
        completeness_error=error,
        relative_completeness_error=error / abs(delta) if delta else 0.0,
        steps=len(pieces) * _NODES,
        converged=converged,
    )
    return attributions, summary


def _worst(misses: dict) -> list:
    """The fewest panels that hold half of the total miss, worst first."""
    order = sorted(misses, key=misses.get, reverse=True)
    total, chosen, covered = sum(misses.values()), [], 0.0
    for panel in order:
        if covered >= total / 2:
            break
        chosen.append(panel)
        covered += misses[panel]
    return chosen


def _integrate(after, x, mask, target, panels, points):
    """Per panel, the attributions of its 8-node rule; and F at `points`.

    Returns:
        `({panel: attributions (time,)}, {alpha: F(alpha x)})`.
    """
    nodes, weights = np.polynomial.legendre.leggauss(_NODES)
    nodes, weights = (nodes + 1) / 2, weights / 2  # [-1, 1] -> [0, 1]
    alphas = [a + (b - a) * nodes for a, b in panels]
    alphas = np.concatenate([*alphas, np.asarray(points, np.float64)])
    probabilities, gradients = _probabilities_and_gradients(
        after, x, mask, target, alphas
    )
    embedded = np.asarray(x, np.float64)
    pieces = {}
    for k, (a, b) in enumerate(panels):
        rows = gradients[k * _NODES : (k + 1) * _NODES]
        integral = np.tensordot((b - a) * weights, rows, 1)
        pieces[(a, b)] = (embedded * integral).sum(axis=-1)
    tail = probabilities[len(panels) * _NODES :]
    return pieces, {float(p): float(f) for p, f in zip(points, tail)}


def _probabilities_and_gradients(after, x, mask, target, alphas):
    """F(alpha x) and dF/dx at alpha x for every alpha, in batches."""
    probabilities, gradients = [], []
    for start in range(0, len(alphas), _ROWS_PER_CALL):
        alpha = tf.constant(alphas[start : start + _ROWS_PER_CALL], x.dtype)
        scaled = alpha[:, None, None] * x[None]
        with tf.GradientTape() as tape:
            tape.watch(scaled)
            trace = after(scaled, np.repeat(mask[None], len(alpha), 0))
            picked = trace.probabilities[:, target]
            total = tf.reduce_sum(picked)
        gradients.append(tape.gradient(total, scaled).numpy().astype(np.float64))
        probabilities.append(picked.numpy().astype(np.float64))
    return np.concatenate(probabilities), np.concatenate(gradients)
