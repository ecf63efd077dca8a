"""Fixtures shared by `test_export.py` and `test_serving.py`: one tiny
trained run and its exports, built once per session (training and
exporting take most of those files' time)."""

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

# A tiny quickstart run: seconds to train; the exports only need a model.
EXPORT_RUN = [
    "data.size=200",
    "data.test_size=60",
    "text.max_tokens=300",
    "text.sequence_length=32",
    "model.units=8",
    "model.embedding_dim=8",
    "train.epochs=2",
    "train.batch_size=16",
]


def run_textlstm(*args, timeout=300) -> subprocess.CompletedProcess:
    """The real `textlstm` command in a fresh Python process."""
    return subprocess.run(
        [sys.executable, "-m", "textlstm.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


@pytest.fixture(scope="session")
def export_run(tmp_path_factory) -> Path:
    """A finished run folder of the quickstart preset, made tiny."""
    from textlstm.config import load_config
    from textlstm.training import fit

    run_dir = tmp_path_factory.mktemp("export-run") / "run"
    fit(load_config("quickstart", EXPORT_RUN), run_dir, verbose=0)
    return run_dir


@pytest.fixture(scope="session")
def exports(export_run, tmp_path_factory) -> SimpleNamespace:
    """`textlstm export RUN --out BASE --target all`, in a real process:
    BASE/cpu/1, BASE/gpu/1 and BASE/tpu/1, each verified."""
    base = tmp_path_factory.mktemp("exports") / "reviews"
    result = run_textlstm("export", export_run, "--out", base, "--target", "all")
    assert result.returncode == 0, result.stderr
    return SimpleNamespace(base=base, run=export_run, result=result)


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory) -> Path:
    """A finished run of the real `quickstart` preset (what `textlstm fit`
    trains, under a minute): the model that the hand-written reviews and the
    explanations are checked on."""
    from textlstm.config import load_config
    from textlstm.training import fit

    run_dir = tmp_path_factory.mktemp("quickstart") / "run"
    fit(load_config("quickstart"), run_dir, verbose=0)
    return run_dir


def handwritten_reviews() -> list[dict]:
    """The hand-written held-out reviews (`tests/data/handwritten_reviews.jsonl`):
    `text`, `label` (neg/pos), `opinions` (1-3), `trailing` (neutral words
    after the deciding opinion) and `deciding` (the deciding opinion word)."""
    import json

    path = Path(__file__).parent / "data" / "handwritten_reviews.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]
