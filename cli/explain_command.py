"""`textlstm explain`: a thin wrapper over `textlstm.explain.explain_run`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from textlstm.cli.common import (
    BadInput,
    handle_errors,
    import_tensorflow_quietly,
    input_option,
    read_texts,
)
from textlstm.explain.records import (
    DEFAULT_MAX_STEPS,
    DEFAULT_STEPS,
    DEFAULT_TOP_UNITS,
)

_NO_GATES = (
    "gates are not available: the built-in keras.layers recurrent layers do not "
    "expose their gates (train with model.impl: textlstm); attributions only"
)
#: What a run folder needs for `explain` (checked before TensorFlow loads).
_RUN_FILES = ("config.yaml", "run.json", "model.keras")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("texts", nargs=-1)
@input_option
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the PNGs, explain.html and explain.json "
    "[default: RUN_DIR/explain].",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print every number: one JSON object per text (JSON lines).",
)
@click.option(
    "--steps",
    type=click.IntRange(min=1),
    default=DEFAULT_STEPS,
    show_default=True,
    help="Integrated-gradients nodes of the first pass; panels are then halved "
    f"where the completeness error is (at most {DEFAULT_MAX_STEPS} nodes).",
)
@click.option(
    "--top-units",
    type=click.IntRange(min=0),
    default=DEFAULT_TOP_UNITS,
    show_default=True,
    help="Units of the last recurrent layer shown one by one.",
)
@handle_errors
def explain(run_dir, texts, input_file, out_dir, as_json, steps, top_units):
    """Explain a run's predictions: attributions, gates and retention.

    For each text: the tokens the model reads, integrated-gradients
    attributions (with their completeness error), the gate activations of
    every recurrent layer, retention (how much of what the cell wrote at a
    token survives to the end) and the units that matter most. Writes one
    PNG per text, explain.html (self-contained) and explain.json to --out.
    Texts come from TEXT arguments, else --input FILE, else stdin.

    \b
    Examples:
      textlstm explain runs/quickstart-20250101-120000 "at first i found it dull . but by the end , i found it brilliant ."
      textlstm explain runs/quickstart-20250101-120000 --input reviews.txt --out explained/
      cat reviews.txt | textlstm explain runs/quickstart-20250101-120000 --json > explained.jsonl
    """  # noqa: E501
    _check_run_dir(run_dir)
    lines = list(read_texts(texts, input_file))
    if not lines:
        raise BadInput(
            "no texts to explain (give TEXT arguments, --input FILE, or pipe texts)"
        )

    import_tensorflow_quietly()
    from rich.console import Console
    from rich.progress import Progress

    from textlstm.explain import explain_run

    err = Console(stderr=True, highlight=False)
    with Progress(console=err, transient=True, disable=len(lines) < 2) as bar:
        task = bar.add_task("explaining", total=len(lines))
        result = explain_run(
            run_dir,
            lines,
            out_dir,
            steps=steps,
            top_units=top_units,
            progress=lambda done, total: bar.update(task, completed=done),
        )
    if not all(explanation.gates_available for explanation in result.explanations):
        err.print(_NO_GATES, markup=False)
    for number, (explanation, plot) in enumerate(
        zip(result.explanations, result.plots), 1
    ):
        if as_json:
            click.echo(json.dumps(explanation.to_dict(), ensure_ascii=False))
        else:
            click.echo(_summary(number, explanation, plot))
    click.echo(
        f"wrote {len(result.plots)} PNG(s), {result.html.name} and "
        f"{result.json.name} to {result.out_dir}",
        err=as_json,
    )


def _check_run_dir(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise BadInput(f"run folder not found: {run_dir}")
    for name in _RUN_FILES:
        if not (run_dir / name).is_file():
            raise BadInput(
                f"{run_dir} is not a finished textlstm run folder ({name} missing)"
            )


def _summary(number: int, explanation, plot: Path) -> str:
    ig = explanation.integrated_gradients
    top = ", ".join(
        f"{token} {value:+.3f}" for token, value in explanation.top_tokens(3)
    )
    text = "".join(c if c.isprintable() else " " for c in explanation.text[:70])
    text = text if len(explanation.text) <= 60 else text[:57] + "..."
    probability = explanation.probabilities[explanation.label]
    lines = [
        f"[{number}] {explanation.label} {probability:.4f}  {text}",
        f"    top tokens: {top or 'none'}",
        f"    completeness error {ig.relative_completeness_error:.3%} "
        f"({ig.completeness_error:.1e}, {ig.steps} steps)   plot: {plot}",
    ]
    lines += [
        f"    note: {note}"
        for note in explanation.notes
        if not note.startswith("gates are not available")
    ]
    return "\n".join(lines)
