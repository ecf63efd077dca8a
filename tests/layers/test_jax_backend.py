"""Runs the parity checks again under the JAX backend, when jax is importable.

The layers are written with `keras.ops` only; this proves it. The backend is
chosen when Keras is first imported, so the checks run in a subprocess.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jax", reason="jax is not installed (pip install -e '.[dev]')")

ROOT = Path(__file__).resolve().parents[2]
# A representative subset: plain layers, masks, cells in RNN, Bidirectional,
# stacks (the whole module takes minutes under JAX, compiling every shape).
SELECTION = (
    "test_layer_matches_builtin or test_masks_match_builtin or "
    "test_cell_in_rnn or test_bidirectional or test_stacked_cells"
)


@pytest.mark.slow
def test_parity_under_jax_backend():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(ROOT / "tests" / "layers" / "test_parity.py"),
            "-k",
            SELECTION,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout else ""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in summary and "failed" not in summary, summary
    assert "skipped" not in summary, summary
