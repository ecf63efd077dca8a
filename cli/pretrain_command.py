"""`textlstm pretrain`: a thin wrapper over `textlstm.pretraining.pretrain`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from textlstm import runs
from textlstm.cli import render
from textlstm.cli.common import (
    config_option,
    handle_errors,
    import_tensorflow_quietly,
    quiet_option,
    refuse_used_run_dir,
    set_option,
)
from textlstm.config import load_config


@click.command()
@config_option
@set_option("pretrain.unlabeled=unsup/")
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run folder [default: runs/pretrain-<config name>-<timestamp>].",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in --run-dir from its last checkpoint. Options given "
    "again must equal the run's own; only --epochs may change.",
)
@click.option(
    "--epochs", type=click.IntRange(min=1), help="Same as --set pretrain.epochs=N."
)
@quiet_option
@handle_errors
def pretrain(config_name, overrides, run_dir, resume, epochs, quiet):
    """Pretrain a config's encoder as a language model (Dai & Le 2015; ULMFiT).

    Trains the embedding and recurrent layers that `textlstm fit` would
    build for the same config to predict each next token, on the training
    split's texts (labels ignored) plus any unlabeled texts of
    pretrain.unlabeled (a .txt/.csv/.tsv/.jsonl file or a folder of .txt
    files), and writes a run folder: config.yaml, run.json, vocab.txt,
    vectorizer.json, checkpoints/, history.csv, metrics.json (held-out loss
    and perplexity) and encoder.npz. A classifier starts from it with
    --set model.init_from=RUN_DIR (same model keys; it reuses the vocabulary).

    \b
    Examples:
      textlstm pretrain --run-dir runs/lm --epochs 3
      textlstm fit --set model.init_from=runs/lm
      textlstm pretrain --config imdb_lm \\
          --set pretrain.unlabeled=aclImdb/train/unsup --run-dir runs/imdb-lm
      textlstm pretrain --run-dir runs/lm --resume --epochs 5
    """
    flags = [f"pretrain.epochs={epochs}"] if epochs is not None else []
    config = load_config(config_name, [*overrides, *flags])
    if resume:
        if run_dir is None:
            raise click.UsageError("--resume needs --run-dir")
        config = runs.resume_config(run_dir, overrides, requested=config)
        if epochs is not None:
            config["pretrain"]["epochs"] = epochs
    else:
        refuse_used_run_dir(run_dir)

    err = render.console(stderr=True)
    err.print(f"[bold]textlstm pretrain[/] {config['name']}: {config['description']}")
    import_tensorflow_quietly()
    from textlstm import pretraining  # heavy: TensorFlow, after the checks above

    result = pretraining.pretrain(
        config,
        run_dir,
        resume=resume,
        verbose=0 if quiet else (1 if sys.stdout.isatty() else 2),
        log=lambda message: err.print(f"[dim]{message}[/]"),
    )
    render.pretrain_summary(result, config)
