"""Helpers shared by the command modules: error handling and quiet imports."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click

from textlstm.errors import ExportError, UserError
from textlstm.export import resolve_export

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class BadInput(click.ClickException):
    """A one-line `Error:` message with exit code 2 (no usage text)."""

    exit_code = 2


#: `--config NAME|PATH` of `fit` and `pretrain`.
config_option = click.option(
    "--config",
    "-c",
    "config_name",
    default="quickstart",
    show_default=True,
    metavar="NAME|PATH",
    help="A preset name (see `textlstm configs`) or a YAML file.",
)


def set_option(example: str):
    """`--set KEY=VALUE` (repeatable), with an example key in its help."""
    return click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help=f"Override one config key, e.g. --set {example} (repeatable).",
    )


#: `--quiet` of the training commands.
quiet_option = click.option(
    "--quiet", "-q", is_flag=True, help="No progress output, only the summary."
)


#: The `--input FILE` option of `predict` and `explain` (read by `read_texts`).
input_option = click.option(
    "--input",
    "-i",
    "input_file",
    metavar="FILE",
    help="Read one text per line from FILE ('-' for stdin).",
)


def read_texts(texts: tuple[str, ...], input_file: str | None) -> Iterator[str]:
    """The texts of `predict` and `explain`: the TEXT arguments, else one
    per line of `--input FILE` (`-`: stdin), else piped stdin.

    The lines are read lazily (a file may be large); a file that cannot be
    opened, both sources at once, or nothing at all on a terminal raise
    `BadInput`. Invalid UTF-8 is replaced (U+FFFD).
    """
    if texts and input_file is not None:
        raise BadInput("give TEXT arguments or --input FILE, not both")
    if texts:
        return iter(texts)
    if input_file is None and sys.stdin.isatty():
        raise BadInput("give TEXT arguments, --input FILE, or pipe texts")
    if input_file is None or input_file == "-":
        stream = click.get_text_stream("stdin", encoding="utf-8", errors="replace")
    else:
        try:
            stream = open(input_file, encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError as error:
            raise BadInput(
                f"--input {input_file}: cannot read it ({error.strerror or error})"
            ) from None
    return (line.rstrip("\r\n") for line in stream)


def handle_errors(command):
    """Turn library errors into one-line messages and exit codes 2 and 1."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`textlstm configs | head`): stop quietly,
            # and keep Python from complaining again when it flushes stdout.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except Exception as error:
            if os.environ.get("TEXTLSTM_DEBUG"):
                raise
            if isinstance(error, UserError):
                click.echo(f"Error: {error}", err=True)
                sys.exit(2)
            message = str(error).strip().splitlines()
            click.echo(
                f"Error: {type(error).__name__}: {message[0] if message else ''}"
                " (set TEXTLSTM_DEBUG=1 for the traceback)",
                err=True,
            )
            sys.exit(1)

    return wrapper


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with the C++ start-up lines (oneDNN, CUDA probing)
    sent to /dev/null: they bury the progress output and say nothing useful
    on a CPU machine. Python exceptions still propagate; `TEXTLSTM_DEBUG=1`
    keeps everything.
    """
    if os.environ.get("TEXTLSTM_DEBUG") or "tensorflow" in sys.modules:
        return
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def refuse_used_run_dir(run_dir) -> None:
    """`--run-dir` of a new run must be new or empty (exit 2 otherwise)."""
    if run_dir is not None and run_dir.exists() and any(run_dir.iterdir()):
        raise click.BadParameter(
            f"{run_dir} exists and is not empty (add --resume to continue it)",
            param_hint="--run-dir",
        )


def is_export(path: Path) -> bool:
    """Whether `path` is an export (a version folder or a model base)."""
    try:
        resolve_export(path)
    except ExportError:
        return False
    return True


def require_model(path: Path, hint: str) -> bool:
    """True for a run folder, False for an export; exit 2 for neither."""
    if (path / "model.keras").is_file():
        return True
    if not is_export(path):
        raise click.BadParameter(
            f"{path} has no model.keras and no saved_model.pb (give a "
            "finished run folder or an export of textlstm export)",
            param_hint=hint,
        )
    return False
