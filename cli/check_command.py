"""`textlstm check`: a thin wrapper over `textlstm.robustness.behaviour.check_model`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from textlstm.cli import render
from textlstm.cli.common import (
    handle_errors,
    import_tensorflow_quietly,
    require_model,
)

if TYPE_CHECKING:
    from textlstm.robustness.behaviour import CheckReport

#: `textlstm.robustness.wordlists.WORDINGS` (a test checks): importing the
#: package loads TensorFlow, which `textlstm --help` must not wait for.
WORDINGS = ("movie", "general")
#: Widest worst example shown in the table (the HTML page shows them whole).
_EXAMPLE_WIDTH = 60
_READING = (
    "worst failure: P(positive) of its text (INV, DIR: of the original -> of the edit)"
)


@click.command()
@click.argument(
    "model_dir",
    metavar="RUN_DIR|EXPORT",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option(
    "--positive",
    metavar="LABEL",
    help="The positive class [default: the class named pos..., good... or 1].",
)
@click.option(
    "--wording",
    type=click.Choice(WORDINGS),
    default="movie",
    show_default=True,
    help="Words of the test sentences: movie (film, acting, plot) or general "
    "(product, service, staff, delivery).",
)
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for check.json and check.html [default: RUN_DIR; an export "
    "writes them only with --out].",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Texts per model call.",
)
@handle_errors
def check(model_dir, positive, wording, out_dir, as_json, batch_size):
    """Behaviour tests of a two-class sentiment model (CheckList-style).

    About 3,400 templated sentences test vocabulary, negation ("not
    good"), contrast ("dull, but superb"), intensity ("very good"),
    invariance (names, filler, punctuation, case, typos must not change
    the label) and direction (adding "Highly recommended." must not lower
    P(positive)). Prints the failure rate of every test with its worst
    failure; writes check.json and check.html to the run folder, or to
    --out. Generated the same way on every run: counts compare across
    models.

    \b
    Examples:
      textlstm check runs/quickstart-20250101-120000
      textlstm check runs/reviews-20250101-120000 --positive good --json
      textlstm check exports/quickstart --out checks/ --wording general
    """
    is_run = require_model(model_dir, "RUN_DIR|EXPORT")
    if is_run and out_dir is None:
        out_dir = model_dir  # an export folder is written to only with --out

    import_tensorflow_quietly()
    from textlstm.robustness.behaviour import check_model  # heavy: TensorFlow
    from textlstm.robustness.report import write_report

    err = render.console(stderr=True)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("checking", total=None)
        report = check_model(
            model_dir,
            positive,
            wording,
            batch_size=batch_size,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        render.console().print(_table(report))
        click.echo(_READING)
        click.echo(_totals(report))
    if out_dir is not None:
        json_path, html_path = write_report(report, out_dir)
        click.echo(
            f"wrote {json_path.name} and {html_path.name} to {out_dir}", err=as_json
        )


def _table(report: CheckReport) -> Table:
    """One row per test under a row per capability; the worst failure's
    text wraps (the columns before it keep their width)."""
    from textlstm.robustness.report import failure_line  # heavy: TensorFlow

    table = Table(title=f"textlstm check: {report.model}", title_justify="left")
    for header in ("test", "kind", "cases", "failed"):
        justify = "right" if header in ("cases", "failed") else "left"
        table.add_column(header, no_wrap=True, justify=justify)
    table.add_column("worst failure")
    summaries = {summary["name"]: summary for summary in report.capabilities()}
    capability = None
    for result in report.results:
        test = result.test
        if test.capability != capability:
            capability, summary = test.capability, summaries[test.capability]
            table.add_row(
                Text(capability, style="bold"),
                "",
                f"[bold]{summary['num_cases']:,}[/]",
                f"[bold]{_rate(summary['failure_rate'], summary['num_failures'])}[/]",
            )
        worst = failure_line(result.worst[0], _EXAMPLE_WIDTH) if result.worst else ""
        table.add_row(
            Text(f"  {test.name}"),
            test.kind,
            f"{result.num_cases:,}",
            _rate(result.failure_rate, result.num_failures),
            Text(worst),
        )
    return table


def _rate(rate: float, failures: int) -> str:
    style = "green" if failures == 0 else "yellow" if rate < 0.1 else "red"
    return f"[{style}]{rate:.1%}[/]"


def _totals(report: CheckReport) -> str:
    rate = report.num_failures / max(report.num_cases, 1)
    return (
        f"{report.num_failures:,} of {report.num_cases:,} cases failed ({rate:.1%}), "
        f"{report.num_texts:,} texts read; positive class {report.positive!r}, "
        f"{report.wording} wording"
    )
