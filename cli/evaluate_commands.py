"""`textlstm evaluate` and `textlstm predict`: thin wrappers over
`textlstm.evaluation` (a split, texts) and `textlstm.robustness` (pairs)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from textlstm import runs
from textlstm.cli import render
from textlstm.cli.common import (
    BadInput,
    handle_errors,
    import_tensorflow_quietly,
    input_option,
    is_export,
    read_texts,
    require_model,
)
from textlstm.config import ConfigError, apply_overrides, load_config, validate_config

# --------------------------------------------------------------------------- #
# evaluate


@click.command()
@click.argument(
    "run_dir",
    metavar="RUN_DIR|EXPORT",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.option(
    "--split",
    type=click.Choice(["test", "validation", "train"]),
    default="test",
    show_default=True,
    help="Which split to evaluate on.",
)
@click.option(
    "--pairs",
    "pair_files",
    multiple=True,
    metavar="FILE",
    type=click.Path(path_type=Path),
    help="Evaluate on counterfactual pairs instead of a split: one CSV/TSV/JSONL "
    "file paired by an id column, or --pairs ORIGINALS --pairs EDITS (row-aligned).",
)
@click.option(
    "--config",
    "-c",
    "config_name",
    metavar="NAME|PATH",
    help="Evaluate on the data of another config (its data section is used).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a data key of the run's config, e.g. --set data.distance=60.",
)
@click.option("--batch-size", type=click.IntRange(min=1), help="Texts per batch.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@handle_errors
def evaluate(run_dir, split, pair_files, config_name, overrides, batch_size, as_json):
    """Evaluate a run (or an export) on a split, or on counterfactual pairs.

    Prints accuracy, loss, macro-F1, per-class precision/recall/F1, the
    confusion matrix and, for two classes, ROC-AUC.

    With --pairs, scores original texts and their minimal edits with the
    other label: accuracy on each side, consistency (both right), how
    often the prediction flips, and the pairs that moved least. Labels
    such as Positive/pos/1 are matched to the model's classes. A run
    folder keeps the result in RUN_DIR/pairs/.

    \b
    Examples:
      textlstm evaluate runs/quickstart-20250101-120000
      textlstm evaluate runs/quickstart-20250101-120000 --split validation --json
      textlstm evaluate runs/quickstart-20250101-120000 --set data.distance=60
      textlstm evaluate runs/imdb_bilstm-20250101-120000 --config my_reviews.yaml
      textlstm evaluate runs/imdb_bilstm-20250101-120000 --pairs cad_dev_paired.tsv
      textlstm evaluate exports/imdb --pairs originals.tsv --pairs edits.tsv
    """
    if pair_files:
        _evaluate_pairs(run_dir, pair_files, batch_size, as_json)
        return
    if not (run_dir / "model.keras").is_file() and is_export(run_dir):
        raise BadInput(
            f"{run_dir} is an export: it can be evaluated on --pairs FILE; "
            "give its run folder to evaluate a split"
        )
    for override in overrides:
        key = override.split("=", 1)[0].strip()
        if not key.startswith("data."):
            raise ConfigError(
                f"{key}: evaluate can only override data keys "
                "(the trained model fixes the others)"
            )
    config = None
    if config_name is not None:
        config = load_config(config_name, overrides)

    if config is None and overrides:
        run_config = runs.read_run(run_dir).config
        config = validate_config(apply_overrides(run_config, overrides))

    import_tensorflow_quietly()
    from textlstm.evaluation import evaluate_run  # heavy: TensorFlow

    metrics = evaluate_run(run_dir, split, config=config, batch_size=batch_size)
    if as_json:
        click.echo(json.dumps(metrics))
        return
    render.metrics_tables(metrics)


def _evaluate_pairs(run_dir: Path, pair_files, batch_size, as_json) -> None:
    """`evaluate --pairs`: check the files and the folder, score, print."""
    if len(pair_files) > 2:
        raise BadInput(
            "give --pairs once (a file paired by an id column) or twice "
            f"(originals, then edits), not {len(pair_files)} times"
        )
    for file in pair_files:
        if not file.is_file():
            raise BadInput(f"--pairs {file}: no such file")
    is_run = require_model(run_dir, "RUN_DIR|EXPORT")
    import_tensorflow_quietly()
    from textlstm.robustness.pairs import evaluate_pairs, save_pair_metrics

    metrics = evaluate_pairs(run_dir, pair_files, batch_size=batch_size or 64)
    saved = save_pair_metrics(run_dir, metrics) if is_run else None
    if as_json:
        click.echo(json.dumps(metrics))
        return
    render.pair_tables(metrics, saved)


# --------------------------------------------------------------------------- #
# predict


@click.command()
@click.argument(
    "run_dir",
    metavar="RUN_DIR|EXPORT_DIR",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@click.argument("texts", nargs=-1)
@input_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object per text (JSON lines).",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@handle_errors
def predict(run_dir, texts, input_file, as_json, batch_size):
    """Classify texts with a run or an export: arguments, a file, or stdin.

    Reads TEXT arguments, else one text per line from --input FILE, else
    from stdin. Every line gets a prediction, empty ones included. An
    export (a version folder, or a model base for its latest version) is
    run through its serving_default signature, without Keras.

    \b
    Examples:
      textlstm predict runs/quickstart-20250101-120000 "i found this film dull ."
      textlstm predict runs/quickstart-20250101-120000 --input reviews.txt --json
      cat reviews.txt | textlstm predict runs/quickstart-20250101-120000 --json
      textlstm predict exports/quickstart "i found this film dull ." --json
    """
    lines = read_texts(texts, input_file)
    require_model(run_dir, "RUN_DIR|EXPORT_DIR")

    import_tensorflow_quietly()
    from textlstm.evaluation import predict_texts  # heavy: TensorFlow

    for record in predict_texts(run_dir, lines, batch_size=batch_size):
        line = render.prediction_line(record, as_json=as_json)
        click.echo(line.encode("utf-8", errors="replace").decode("utf-8"))
