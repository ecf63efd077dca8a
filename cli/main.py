"""Entry point of the `textlstm` command.

Commands are thin: they parse and validate options, call one library
function, and print. Heavy imports (TensorFlow, Keras) happen inside the
commands, after the config is validated, so `textlstm --help` and config
errors answer instantly.

Exit codes: 0 success, 2 usage, config or data error (one line on stderr),
1 any other failure (one line; `TEXTLSTM_DEBUG=1` shows the traceback).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from textlstm import __version__, runs
from textlstm.cli import render
from textlstm.cli.check_command import check
from textlstm.cli.common import (
    CONTEXT_SETTINGS,
    config_option,
    handle_errors,
    import_tensorflow_quietly,
    quiet_option,
    refuse_used_run_dir,
    set_option,
)
from textlstm.cli.evaluate_commands import evaluate, predict
from textlstm.cli.explain_command import explain
from textlstm.cli.export_commands import export, serve
from textlstm.cli.pretrain_command import pretrain
from textlstm.cluster import ClusterError, cluster_report, read_cluster
from textlstm.cluster.launcher import run_local_workers
from textlstm.cluster.workers import require_run_dir, unfinished_run
from textlstm.config import (
    DATA_FILE_PRESET,
    data_file_overrides,
    describe_schema,
    dump_config,
    list_presets,
    load_config,
)


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="textlstm")
def cli():
    """Train, evaluate, export and serve LSTM/GRU text classifiers.

    \b
    Quick start (trains on the embedded synthetic corpus, offline):
      textlstm fit
      textlstm evaluate runs/quickstart-<timestamp> --json
      textlstm predict runs/quickstart-<timestamp> "what a film"
    """


# --------------------------------------------------------------------------- #
# fit


@cli.command()
@config_option
@set_option("model.units=128")
@click.option(
    "--data",
    "data_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Train on your own file (.csv, .tsv, .jsonl, optionally .gz; text "
    "and label columns) with the text_classifier preset unless --config is "
    "given; validation and test are held out of it.",
)
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run folder [default: runs/<config name>-<timestamp>].",
)
@click.option(
    "--epochs", type=click.IntRange(min=1), help="Same as --set train.epochs=N."
)
@click.option(
    "--batch-size", type=click.IntRange(min=1), help="Same as --set train.batch_size=N."
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run in --run-dir (default: the latest run of the config) "
    "from its last checkpoint. Options given again must equal the run's own; "
    "only --epochs and --deterministic may change.",
)
@click.option("--seed", type=int, help="Same as --set train.seed=N.")
@click.option(
    "--deterministic",
    is_flag=True,
    help="Deterministic ops: same seed, same metrics and weights (slower).",
)
@click.option(
    "--strategy",
    type=click.Choice(["default", "mirrored", "multi_worker", "tpu"]),
    help="Same as --set train.strategy=NAME (docs: Distributed training).",
)
@click.option(
    "--local-workers",
    type=click.IntRange(min=1),
    metavar="N",
    help="Try multi_worker on this machine: start N workers on 127.0.0.1 "
    "(the chief's progress is shown; if one fails, the others are stopped).",
)
@quiet_option
@handle_errors
def fit(
    config_name,
    overrides,
    data_file,
    run_dir,
    epochs,
    batch_size,
    resume,
    seed,
    deterministic,
    strategy,
    local_workers,
    quiet,
):
    """Train a classifier from a config and write a run folder.

    The run folder holds config.yaml, run.json, vocab.txt, checkpoints/,
    model.keras, history.csv, metrics.json, tensorboard/ and plots/.

    \b
    Examples:
      textlstm fit                                   # quickstart preset, < 2 min on CPU
      textlstm fit --config imdb_bilstm --epochs 2
      textlstm fit --data reviews.csv                # your own texts
      textlstm fit --config my.yaml --set model.cell=gru --set model.units=128
      textlstm fit --run-dir runs/a --deterministic --seed 7
      textlstm fit --run-dir runs/a --resume         # after an interruption
      textlstm fit --local-workers 2                 # a 2-worker cluster, here
      textlstm fit --strategy multi_worker --run-dir /shared/runs/a   # each host
    """
    source = click.get_current_context().get_parameter_source("config_name")
    named = source is not click.core.ParameterSource.DEFAULT
    if data_file is not None:
        config_name = config_name if named else DATA_FILE_PRESET
        overrides = (*data_file_overrides(data_file), *overrides)
    flags = [f"train.epochs={epochs}"] if epochs is not None else []
    flags += [f"train.batch_size={batch_size}"] if batch_size is not None else []
    flags += [f"train.seed={seed}"] if seed is not None else []
    flags += ["train.deterministic=true"] if deterministic else []
    flags += ["train.strategy=multi_worker"] if local_workers else []
    flags += [f"train.strategy={strategy}"] if strategy and not local_workers else []
    config = load_config(config_name, [*overrides, *flags])
    if local_workers:
        _fit_local_workers(local_workers, config, locals())
        return
    cluster, chief = _fit_cluster(config, run_dir)
    if cluster is not None and not resume and unfinished_run(run_dir):
        resume = True  # a restarted worker continues, as BackupAndRestore does
        render.console(stderr=True).print(
            f"[dim]Continuing the unfinished run in {run_dir}[/]"
        )
    if resume:
        run_dir, config = _resumed(run_dir, config, [*overrides, *flags], named)
    elif chief:
        refuse_used_run_dir(run_dir)

    err = render.console(stderr=True)
    err.print(f"[bold]textlstm fit[/] {config['name']}: {config['description']}")
    import_tensorflow_quietly()
    from textlstm import training  # heavy: TensorFlow, after the checks above

    verbose = 0 if quiet else (1 if sys.stdout.isatty() else 2)
    result = training.fit(
        config,
        run_dir,
        resume=resume,
        verbose=verbose,
        log=lambda message: err.print(f"[dim]{message}[/]"),
    )
    if chief:
        render.fit_summary(result, config)
    else:
        err.print(f"Worker {cluster.worker_id} done; the chief wrote {run_dir}")


def _resumed(run_dir, config, overrides, named: bool):
    """`fit --resume`: the run folder (default: the config's latest run) and
    the config it continues with."""
    if run_dir is None:
        run_dir = _latest_run(config)
    config = runs.resume_config(run_dir, overrides, requested=config, compare_all=named)
    return run_dir, config


def _latest_run(config) -> Path:
    """`--resume` without `--run-dir`: the config's latest run folder."""
    run_dir = runs.latest_run_dir(config["name"])
    if run_dir is None:
        raise click.UsageError(
            f"--resume: no run of config {config['name']!r} under runs/; give --run-dir"
        )
    return run_dir


def _fit_cluster(config, run_dir):
    """The `TF_CONFIG` cluster of a multi_worker run (else None), and
    whether this process is the chief (it writes the run folder)."""
    if config["train"]["strategy"] != "multi_worker":
        return None, True
    cluster = read_cluster()
    if cluster is None:
        raise ClusterError(
            "train.strategy multi_worker: TF_CONFIG is not set (set it on every "
            "host, or try it here with --local-workers 2)"
        )
    require_run_dir(run_dir, cluster)
    return cluster, cluster.is_chief


def _fit_local_workers(count: int, config, options: dict) -> None:
    """`fit --local-workers N`: the same fit command as N local workers."""
    run_dir = options["run_dir"]
    if run_dir is None:
        run_dir = _latest_run(config) if options["resume"] else None
    run_dir = run_dir or runs.default_run_dir(config)
    arguments = ["fit", "--run-dir", str(run_dir), "--strategy", "multi_worker"]
    arguments += ["--config", str(options["config_name"])]  # --data resolved
    for key in ("epochs", "batch_size", "seed"):
        if options[key] is not None:
            arguments += [f"--{key.replace('_', '-')}", str(options[key])]
    for flag in ("resume", "deterministic", "quiet"):
        arguments += [f"--{flag}"] if options[flag] else []
    for override in options["overrides"]:
        arguments += ["--set", override]
    err = render.console(stderr=True)
    err.print(f"[bold]textlstm fit[/] {count} local workers, run folder {run_dir}")
    status = run_local_workers(count, arguments, report=lambda line: err.print(line))
    if status:
        raise SystemExit(status)


# --------------------------------------------------------------------------- #
# configs and info


@cli.command()
@click.argument("name", required=False, metavar="[NAME|PATH]")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Preview an override.",
)
@click.option(
    "--keys", is_flag=True, help="List every config key with its default and meaning."
)
@handle_errors
def configs(name, overrides, keys):
    """List the presets, or print one fully resolved (every key).

    \b
    Examples:
      textlstm configs                      # the presets
      textlstm configs quickstart           # the resolved YAML of one
      textlstm configs imdb_bilstm --set model.units=128
      textlstm configs --keys               # every key, default and meaning
    """
    if keys:
        render.console().print(
            render.rows_table(
                ("key", "type / allowed", "default", "meaning"), describe_schema()
            )
        )
        return
    if name is None:
        if overrides:
            raise click.UsageError("--set needs a NAME")
        presets = [(p, load_config(p)["description"]) for p in list_presets()]
        render.console().print(render.rows_table(("preset", "description"), presets))
        click.echo("Print one with: textlstm configs NAME")
        return
    click.echo(dump_config(load_config(name, overrides)), nl=False)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(as_json):
    """Show versions, devices, the Keras backend, the layer kernel paths and
    the cluster TF_CONFIG describes (the one train.strategy multi_worker joins).

    \b
    Example:
      textlstm info
      textlstm info --json
    """
    import_tensorflow_quietly()
    from textlstm.training.environment import collect_info  # heavy: TensorFlow

    report = {**collect_info(), **cluster_report()}
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    for line in render.key_value_lines(report):
        click.echo(line)


def main():
    """Console-script entry point."""
    # TensorFlow's C++ start-up chatter (oneDNN notices, CUDA probing on
    # machines without a GPU) buries the progress output. Python errors are
    # unaffected; TEXTLSTM_DEBUG=1 shows everything.
    if not os.environ.get("TEXTLSTM_DEBUG"):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    cli(prog_name="textlstm")


for _command in (evaluate, predict, check, explain, export, serve, pretrain):
    cli.add_command(_command)

if __name__ == "__main__":
    main()
