"""The results of the behaviour checks as files: `check.json` and `check.html`.

`render_html` turns a `CheckReport` into one self-contained page (inline
style, no script, every text escaped): a summary per capability, then a
table per capability with each test's failure rate and worst examples.
`write_report` writes both files atomically. No TensorFlow.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

from textlstm.robustness.behaviour import BehaviourResult, CheckReport, Failure
from textlstm.runs import write_json, write_text

__all__ = ["JSON_NAME", "HTML_NAME", "failure_line", "render_html", "write_report"]

JSON_NAME = "check.json"
HTML_NAME = "check.html"

_KINDS = {
    "MFT": "minimum functionality: each text has an expected label",
    "INV": "invariance: the edit must not change the predicted label",
    "DIR": "directional: the edit must not move P(positive) the wrong way "
    "by more than the tolerance",
}
_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em;
       color: #222; padding: 0 1em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .35em .6em; text-align: left;
         vertical-align: top; }
th { background: #f4f4f4; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: .7em; background: #c0392b; margin-left: .4em; }
.ok { color: #27ae60; } .bad { color: #c0392b; font-weight: 600; }
.muted { color: #777; font-size: 90%; }
ol.worst { margin: 0; padding-left: 1.2em; } ol.worst li { margin-bottom: .2em; }
code { background: #f4f4f4; padding: 0 .2em; }
table.narrow { width: auto; min-width: 30em; }
td.worst { width: 38%; }
"""


def failure_line(failure: Failure, width: int = 60) -> str:
    """A failure in one line: P(positive) (before -> after for an edit),
    then the text read, cut to `width` characters.

    >>> from textlstm.robustness.behaviour import Case
    >>> failure_line(Failure(Case("The film was not good.", "negative"), 0.93, None, 0.93))
    '0.93  The film was not good.'
    >>> failure_line(Failure(Case("Marco said it was bad.", original="Anna said it was bad."), 0.61, 0.2, 0.41), width=12)
    '0.20->0.61  Marco said…'
    """  # noqa: E501
    text = "".join(c if c.isprintable() else " " for c in failure.case.text)
    text = text if len(text) <= width else text[: width - 1].rstrip() + "…"
    if failure.original_probability is None:
        return f"{failure.probability:.2f}  {text}"
    return f"{failure.original_probability:.2f}->{failure.probability:.2f}  {text}"


def render_html(report: CheckReport) -> str:
    """The report as one self-contained HTML page.

    Args:
        report: The outcome of `run_checks` or `check_model`.

    Returns:
        The page: a summary per capability, then a table per capability
        (test, kind, cases, failure rate, description, worst examples).
    """
    rate = report.num_failures / max(report.num_cases, 1)
    about = [
        ("model", report.model or "(a function)"),
        ("positive class", report.positive or "(not named)"),
        ("wording", report.wording or "(not named)"),
        ("texts read", f"{report.num_texts:,}"),
        (
            "cases failed",
            f"{report.num_failures:,} of {report.num_cases:,} ({rate:.1%})",
        ),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>textlstm check</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Behaviour checks</h1>",
        "<table class='narrow'>"
        + "".join(f"<tr><th>{k}</th><td>{_escape(v)}</td></tr>" for k, v in about)
        + "</table>",
        _summary_table(report),
        _kinds_note(),
    ]
    for summary in report.capabilities():
        name = summary["name"]
        results = [r for r in report.results if r.test.capability == name]
        parts.append(f"<h2 id='{_escape(name)}'>{_escape(name)}</h2>")
        parts.append(_capability_table(results))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(report: CheckReport, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write `check.json` and `check.html` into `out_dir` (created if need be).

    Args:
        report: The outcome of `run_checks` or `check_model`.
        out_dir: The folder (a run folder, or any folder).

    Returns:
        The paths of the JSON file and of the HTML page.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = write_json(out_dir / JSON_NAME, report.to_dict())
    html_path = write_text(out_dir / HTML_NAME, render_html(report))
    return json_path, html_path


def _escape(value) -> str:
    return html.escape(str(value))


def _rate_cell(failures: int, cases: int) -> str:
    rate = failures / max(cases, 1)
    style = "ok" if failures == 0 else "bad"
    bar = f"<span class='bar' style='width:{rate * 5:.2f}em'></span>" if rate else ""
    return (
        f"<td class='num'><span class='{style}'>{rate:.1%}</span>"
        f"<span class='muted'> ({failures:,}/{cases:,})</span>{bar}</td>"
    )


def _summary_table(report: CheckReport) -> str:
    rows = [
        f"<tr><td><a href='#{_escape(s['name'])}'>{_escape(s['name'])}</a></td>"
        f"<td class='num'>{s['num_tests']}</td><td class='num'>{s['num_cases']:,}</td>"
        + _rate_cell(s["num_failures"], s["num_cases"])
        + "</tr>"
        for s in report.capabilities()
    ]
    return (
        "<h2>Capabilities</h2><table class='narrow'><tr><th>capability</th>"
        "<th>tests</th><th>cases</th><th>failed</th></tr>" + "".join(rows) + "</table>"
    )


def _kinds_note() -> str:
    items = "".join(
        f"<li><b>{kind}</b>: {_escape(meaning)}</li>"
        for kind, meaning in _KINDS.items()
    )
    return (
        "<p>A text counts as positive when P(positive) &ge; 0.5. Test kinds:</p>"
        f"<ul>{items}</ul><p class='muted'>Worst examples show P(positive) "
        "of the text (for an edit: of the original, then of the edited "
        "text), the most severe failure first.</p>"
    )


def _capability_table(results: list[BehaviourResult]) -> str:
    rows = []
    for result in results:
        test = result.test
        rows.append(
            f"<tr><td>{_escape(test.name)}</td><td>{test.kind}</td>"
            f"<td class='num'>{result.num_cases:,}</td>"
            + _rate_cell(result.num_failures, result.num_cases)
            + f"<td>{_escape(test.description)}"
            + (
                f"<br><span class='muted'>e.g. {_example_html(test.cases[0])}</span>"
                if test.cases
                else ""
            )
            + f"</td><td class='worst'>{_worst_html(result)}</td></tr>"
        )
    return (
        "<table><tr><th>test</th><th>kind</th><th>cases</th><th>failed</th>"
        "<th>what it checks</th><th>worst failures</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _example_html(case) -> str:
    if case.original is None:
        return f"<code>{_escape(case.text)}</code> &rarr; {_escape(case.expected)}"
    original, edited = _escape(case.original), _escape(case.text)
    return f"<code>{original}</code> &rarr; <code>{edited}</code>"


def _worst_html(result: BehaviourResult) -> str:
    if not result.worst:
        return "<span class='ok'>none</span>"
    items = []
    for failure in result.worst:
        case = failure.case
        if failure.original_probability is None:
            items.append(
                f"<li>{failure.probability:.3f} <code>{_escape(case.text)}</code></li>"
            )
        else:
            items.append(
                f"<li>{failure.original_probability:.3f} "
                f"<code>{_escape(case.original)}</code><br>&rarr; "
                f"{failure.probability:.3f} <code>{_escape(case.text)}</code></li>"
            )
    return f"<ol class='worst'>{''.join(items)}</ol>"
