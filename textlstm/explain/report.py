"""The files of `textlstm explain`: one HTML page, one JSON document, PNGs.

The HTML page is self-contained (inline CSS, no script, no network asset):
each token's background is its attribution (red: for the predicted class,
blue: against, strongest = the text's largest |attribution|), its underline
the retention of the last recurrent layer, and hovering it shows every
number of that token.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

from textlstm.explain.plot import plot_explanation
from textlstm.explain.records import BASELINE, Explanation
from textlstm.runs import write_json, write_text

__all__ = ["explanation_document", "render_html", "write_explanations"]

METHOD = {
    "attributions": "integrated gradients (Sundararajan et al., 2017) of the "
    "predicted class's probability with respect to the embedding outputs, "
    "summed over the embedding dimension; Gauss-Legendre quadrature",
    "baseline": BASELINE,
    "gates": "per-token mean over the units (h_norm: Euclidean norm of the "
    "state, for cells without gates)",
    "retention": "R_t = product over the later real tokens of f (LSTM family) "
    "or z (GRU); over the earlier tokens for a backward direction",
    "top_units": "units of the last recurrent layer ranked by |gradient x "
    "activation| of their output, summed over the tokens the pooling reads",
}

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #222; max-width: 72em; margin: 1.5em auto; padding: 0 1em; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-bottom: .3em; }
.legend, .meta { color: #555; font-size: .9em; }
.swatch { display: inline-block; width: 2.2em; height: .9em; vertical-align: middle; }
section { border-top: 1px solid #ddd; padding: .6em 0 1em; }
.tokens { line-height: 2.3; font-size: 1.05em; }
.tok { position: relative; display: inline-block; padding: 0 .22em; margin: 0 .04em;
  border-radius: 3px; border-bottom: 4px solid transparent; line-height: 1.5; }
.tok .tip { display: none; position: absolute; left: 0; top: 2.1em; z-index: 9;
  background: #fff; color: #222; border: 1px solid #999; border-radius: 4px;
  padding: .4em .6em; font-size: .8em; line-height: 1.4; white-space: pre;
  box-shadow: 0 2px 6px rgba(0,0,0,.2); font-family: ui-monospace, Menlo, monospace; }
.tok:hover .tip { display: block; }
.tok:hover { outline: 1px solid #333; }
table { border-collapse: collapse; font-size: .85em; margin-top: .5em; }
td, th { padding: .15em .6em; border-bottom: 1px solid #eee; text-align: left; }
.note { color: #8a4b00; font-size: .9em; }
"""


def explanation_document(
    explanations: Sequence[Explanation], *, run_dir: str | os.PathLike | None = None
) -> dict:
    """The content of `explain.json`: `run_dir`, `method` and `explanations`."""
    return {
        "run_dir": None if run_dir is None else str(run_dir),
        "method": METHOD,
        "explanations": [explanation.to_dict() for explanation in explanations],
    }


def render_html(
    explanations: Sequence[Explanation], *, run_dir: str | os.PathLike | None = None
) -> str:
    """One self-contained HTML page for all explanations."""
    sections = "\n".join(
        _section(explanation, number)
        for number, explanation in enumerate(explanations, 1)
    )
    index = "".join(
        f'<li><a href="#text-{n}">{html.escape(e.label)} '
        f"{e.probabilities[e.label]:.3f}</a> {html.escape(_shorten(e.text, 90))}</li>"
        for n, e in enumerate(explanations, 1)
    )
    where = f" of {html.escape(str(run_dir))}" if run_dir is not None else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>textlstm explain</title>
<style>{_CSS}</style></head>
<body>
<h1>textlstm explain{where}</h1>
<p class="legend">Background: integrated-gradients attribution of the token to the
predicted class's probability
(<span class="swatch" style="background:rgba(214,39,40,.85)"></span> for it,
<span class="swatch" style="background:rgba(33,102,172,.85)"></span> against;
the strongest token of each text is fully coloured). Underline: retention of the
last recurrent layer (darker = more of what the cell wrote there survives to the
end). Hover a token for its gates and retention. Baseline: {html.escape(BASELINE)}.</p>
<ol class="meta">{index}</ol>
{sections}
</body></html>
"""


def _section(explanation: Explanation, number: int) -> str:
    ig = explanation.integrated_gradients
    scale = max((abs(a) for a in explanation.attributions), default=0.0) or 1.0
    underline = _underline(explanation)
    tokens = " ".join(
        _token(explanation, t, scale, underline) for t in range(len(explanation.tokens))
    )
    probabilities = ", ".join(
        f"{html.escape(name)} {p:.4f}" for name, p in explanation.probabilities.items()
    )
    top = ", ".join(
        f"{html.escape(token)} ({value:+.3f})"
        for token, value in explanation.top_tokens(3)
    )
    notes = "".join(
        f'<p class="note">{html.escape(note)}</p>' for note in explanation.notes
    )
    return f"""<section id="text-{number}">
<h2>{number}. predicted {html.escape(explanation.label)}
({explanation.probabilities[explanation.label]:.4f})</h2>
<p class="meta">probabilities: {probabilities}<br>
integrated gradients, {ig.steps} steps: sum {ig.total:+.4f}, f(x) &minus; f(x&prime;) =
{ig.f_input - ig.f_baseline:+.4f}, completeness error {ig.completeness_error:.2e}
({ig.relative_completeness_error:.3%})<br>top tokens: {top or "none"}</p>
{notes}<div class="tokens">{tokens}</div>
{_units_table(explanation)}
</section>"""


def _token(explanation: Explanation, t: int, scale: float, underline) -> str:
    value = explanation.attributions[t]
    alpha = min(1.0, abs(value) / scale)
    rgb = "214,39,40" if value >= 0 else "33,102,172"
    color = "#fff" if alpha > 0.55 else "#111"
    style = f"background:rgba({rgb},{alpha:.3f});color:{color}"
    if underline is not None:
        style += f";border-bottom-color:rgba(0,0,0,{0.08 + 0.82 * underline[t]:.3f})"
    lines = [f"{explanation.tokens[t]}  (token {t + 1})", f"attribution {value:+.5f}"]
    for layer in explanation.layers:
        for reading in layer.directions:
            gates = "  ".join(f"{g} {v[t]:.3f}" for g, v in reading.gates.items())
            kept = (
                ""
                if reading.retention is None
                else f"  retention {reading.retention[t]:.3g}"
            )
            lines.append(f"{layer.name} {reading.direction}: {gates}{kept}")
    for unit in explanation.top_units:
        values = "  ".join(f"{g} {v[t]:.3f}" for g, v in unit.gates.items())
        kept = "" if unit.retention is None else f"  retention {unit.retention[t]:.3g}"
        lines.append(f"unit {unit.unit} {unit.direction}: {values}{kept}")
    tip = html.escape("\n".join(lines))
    word = html.escape(explanation.tokens[t])
    return (
        f'<span class="tok" style="{style}">{word}<span class="tip">{tip}</span></span>'
    )


def _underline(explanation: Explanation):
    """The retention shown under the tokens: the last layer, forward."""
    for layer in reversed(explanation.layers):
        for reading in layer.directions:
            if reading.retention is not None:
                return reading.retention
        break
    return None


def _units_table(explanation: Explanation) -> str:
    if not explanation.top_units:
        return ""
    rows = "".join(
        f"<tr><td>{html.escape(u.layer)}</td><td>{u.direction}</td><td>{u.unit}</td>"
        f"<td>{u.contribution:+.4f}</td></tr>"
        for u in explanation.top_units
    )
    return (
        "<table><tr><th>top unit: layer</th><th>direction</th><th>unit</th>"
        f"<th>gradient &times; activation</th></tr>{rows}</table>"
    )


def write_explanations(
    explanations: Sequence[Explanation],
    out_dir: str | os.PathLike,
    *,
    run_dir: str | os.PathLike | None = None,
) -> dict:
    """Write `text-NNN.png` per text, `explain.html` and `explain.json`.

    Every file is written atomically; PNGs of an earlier, longer call in
    the same folder are removed.

    Returns:
        A dict with `html`, `json` (paths) and `plots` (a list of paths).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    digits = max(3, len(str(len(explanations))))
    plots = [
        plot_explanation(e, out_dir / f"text-{n:0{digits}d}.png", index=n)
        for n, e in enumerate(explanations, 1)
    ]
    for stale in set(out_dir.glob("text-*.png")) - set(plots):
        stale.unlink()
    page = write_text(
        out_dir / "explain.html", render_html(explanations, run_dir=run_dir)
    )
    document = write_json(
        out_dir / "explain.json", explanation_document(explanations, run_dir=run_dir)
    )
    return {"html": page, "json": document, "plots": plots}


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
