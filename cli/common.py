"""Helpers shared by the command modules: error handling and quiet imports."""

from __future__ import annotations

import functools
import os
import sys

import click

from textlstm.config import ConfigError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _usage_errors() -> tuple[type[BaseException], ...]:
    """Library errors that mean "bad input": exit code 2."""
    errors: list[type[BaseException]] = [ConfigError]
    for module, name in (
        ("textlstm.training", "RunError"),
        ("textlstm.data", "DataError"),
        ("textlstm.export", "ExportError"),
    ):
        error = getattr(sys.modules.get(module), name, None)
        if error is not None:
            errors.append(error)
    return tuple(errors)


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
            if isinstance(error, _usage_errors()):
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
