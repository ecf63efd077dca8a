"""MkDocs hooks: the parts of the docs that are generated from the code.

- `<!-- textlstm:config-keys -->` in a page becomes the table of every
  config key (`textlstm.config.describe_schema`, what `textlstm configs
  --keys` prints), so the docs list the keys the schema has today.
- `<!-- textlstm:help COMMAND -->` becomes the `--help` text of
  `textlstm COMMAND` (`<!-- textlstm:help -->`: of `textlstm` itself).
- The benchmark plots in `benchmarks/results/` are served as
  `images/<name>.png`: mkdocs only serves files inside `docs/`, and a copy
  there would go stale when a benchmark is rerun.

Neither `textlstm.config` nor the Click application imports TensorFlow, so
the build stays fast and needs no accelerator libraries.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
# The plots the pages show (kept explicit: a missing one fails the build).
PLOTS = (
    "memory_lag.png",
    "memory_adding.png",
    "memory_gradients.png",
    "robustness_imdb_bilstm_edit.png",
    "robustness_imdb_robust_edit.png",
)

_MARKER = re.compile(r"<!-- textlstm:(?P<what>config-keys|help)(?P<arg> [a-z]+)? -->")


def on_files(files, config):
    for name in PLOTS:
        files.append(
            File.generated(config, f"images/{name}", abs_src_path=str(RESULTS / name))
        )
    return files


def on_page_markdown(markdown, page, config, files):
    return _MARKER.sub(lambda m: _expand(m["what"], (m["arg"] or "").strip()), markdown)


def _expand(what: str, arg: str) -> str:
    if what == "config-keys":
        return config_key_table()
    return help_block(arg)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def config_key_table() -> str:
    """Markdown table of every config key, its type, default and meaning."""
    from textlstm.config import describe_schema

    rows = [
        "| key | type or allowed values | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for key, kind, default, meaning in describe_schema():
        kind = kind.replace(" | ", ", ")
        rows.append(
            f"| `{key}` | {_cell(kind)} | `{_cell(default)}` | {_cell(meaning)} |"
        )
    return "\n".join(rows)


def help_block(command: str) -> str:
    """`textlstm COMMAND --help` as a console block (88 columns)."""
    from click.testing import CliRunner

    from textlstm.cli.main import cli

    args = [command, "--help"] if command else ["--help"]
    result = CliRunner().invoke(cli, args, prog_name="textlstm", terminal_width=88)
    if result.exit_code != 0:
        raise RuntimeError(f"textlstm {' '.join(args)} failed: {result.output}")
    name = f"textlstm {command}".strip()
    return f"```console\n$ {name} --help\n{result.output.rstrip()}\n```"
