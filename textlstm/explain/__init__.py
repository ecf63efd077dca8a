"""Why a model predicted what it did: attributions, gates and retention.

For each text, `explain_texts` (a loaded model) and `explain_run` (a run
folder, also writing the files) compute:

1. The tokens the model reads: standardized, looked up in the vocabulary
   (`[UNK]` for unknown words), truncated as the vectorizer truncates, padding
   dropped; the predicted class and the probabilities.
2. Integrated gradients (Sundararajan et al., 2017) of the predicted class's
   probability with respect to the embedding outputs, summed over the
   embedding dimension per token. The baseline is the zero embedding: the
   same tokens' positions and mask, every embedding vector set to 0. The
   path integral is an adaptive composite Gauss-Legendre rule (8 nodes per
   panel, panels halved where the completeness error
   |sum of attributions - (f(x) - f(baseline))| sits) until that error is
   under 0.2% of |f(x) - f(baseline)|; the error is reported per text.
3. Per-token gate activations of every recurrent layer and direction
   (`textlstm.layers.gate_activations`), as means over the units: i, f, o for
   the LSTM family, z, r for GRU, the state norm ||h_t|| for SimpleRNN.
4. Retention R_t: the product of the forget (LSTM) or update (GRU) gates
   over the later tokens (earlier ones for a backward direction), per unit
   and averaged; how much of what the cell wrote at t survives to the end.
5. The top units of the last recurrent layer, ranked by
   |d p / d h[t, u] * h[t, u]| summed over the tokens the pooling reads (the
   final output for `last` pooling), with their gates and retention.

The built-in `keras.layers.LSTM`/`GRU` (`model.impl: keras`) do not expose
their gates: their explanations have attributions and top units, no gates,
and a note saying so.

Example, on a run folder of `textlstm fit`:

```python
from textlstm.explain import explain_run

result = explain_run("runs/quickstart-20250101-120000",
                     ["at first i found it dull . but by the end , "
                      "i found it brilliant ."])
result.explanations[0].label          # 'pos'
result.explanations[0].top_tokens(3)  # [('brilliant', 0.61), ...]
result.html                           # runs/.../explain/explain.html
```
"""

from __future__ import annotations

import importlib

from textlstm.explain.records import (
    BASELINE,
    DirectionReading,
    Explanation,
    IntegratedGradients,
    LayerReading,
    UnitReading,
)

__all__ = [
    "BASELINE",
    "DirectionReading",
    "ExplainResult",
    "Explanation",
    "IntegratedGradients",
    "LayerReading",
    "UnitReading",
    "explain_run",
    "explain_texts",
    "integrated_gradients",
    "plot_explanation",
    "render_html",
    "retention",
    "write_explanations",
]

# The computing half imports TensorFlow; it is loaded on first use, so that
# the records and the renderers (`textlstm.explain.report`, `.plot`) stay
# importable without it.
_LAZY = {
    "ExplainResult": "core",
    "explain_run": "core",
    "explain_texts": "core",
    "integrated_gradients": "attributions",
    "retention": "memory",
    "plot_explanation": "plot",
    "render_html": "report",
    "write_explanations": "report",
}


def __getattr__(name: str):
    if name in _LAZY:
        module = importlib.import_module(f"textlstm.explain.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'textlstm.explain' has no attribute {name!r}")
