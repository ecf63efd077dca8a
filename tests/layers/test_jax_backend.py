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
# A representative subset, every layer kind in each: the plain, sequence +
# state, backward and unrolled layers; the hardest mask (a fully masked row)
# both ways; cells in RNN; concat Bidirectional; stacked cells (36 tests:
# the whole module takes minutes under JAX, which compiles every shape, and
# the TensorFlow run checks every option).
SELECTION = (
    "(test_layer_matches_builtin and (default or return_sequences-return_state"
    " or go_backwards or unroll)) or (test_masks_match_builtin and "
    "fully-masked-row) or (test_cell_in_rnn and return_sequences) or "
    "(test_bidirectional and concat) or test_stacked_cells"
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
            "-n",
            "0",  # one process: pyproject's -n would start idle workers
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
    assert summary.startswith("36 passed"), summary
