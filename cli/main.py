"""Entry point of the `textlstm` command.

Commands are thin: they parse and validate options, call one library
function, and print. Heavy imports (TensorFlow, Keras) happen inside the
commands, so `textlstm --help` answers instantly.
"""

import json

import click

from textlstm import __version__

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="textlstm")
def cli():
    """Train, evaluate, export and serve LSTM/GRU text classifiers.

    \b
    Quick start (trains on the embedded synthetic corpus, offline):
      textlstm fit
    """


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(as_json):
    """Show versions, devices, the Keras backend and the layer kernel paths.

    \b
    Example:
      textlstm info
      textlstm info --json
    """
    from textlstm.info import collect_info

    report = collect_info()
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        return
    width = max(len(key) for key in report)
    for key, value in report.items():
        if isinstance(value, (list, dict)):
            value = json.dumps(value)
        click.echo(f"{key.ljust(width)}  {value}")


def main():
    """Console-script entry point."""
    cli(prog_name="textlstm")


if __name__ == "__main__":
    main()
