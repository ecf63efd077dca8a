"""Fixtures shared across test files: one tiny trained run and its exports
(`test_export.py`, `test_serving*.py`, `test_explain.py`), and a run of the
real quickstart preset (`test_quickstart.py`, `test_explain.py`,
`test_multi_worker.py`). Training and exporting take most of those files'
time, so each is built once per `pytest` run, even when the suite runs on
several xdist workers (`shared_once`).

The suite compiles its XLA kernels without LLVM's optimizations
(`--xla_backend_optimization_level=0`, set here before anything compiles
and inherited by every process a test starts): the same programs and the
same parity checks to 1e-5, at about three quarters of the CPU time (the
fast-path tests alone: 230 -> 172 s; the JAX parity run: 81 -> 62 s).
Benchmarks and users compile with XLA's defaults.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
from filelock import FileLock

_FLAG = "--xla_backend_optimization_level=0"
if _FLAG.split("=")[0] not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_FLAG}".strip()

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


def shared_once(
    tmp_path_factory, worker_id: str, name: str, build: Callable[[Path], None]
) -> Path:
    """A folder `build(folder)` fills once per `pytest` run, for every worker.

    Without xdist it is a fresh temporary folder. Under xdist each worker has
    its own session, so a plain session fixture would be built once per
    worker: here the first worker to ask builds it in the run's shared
    temporary folder, under a file lock, and the others wait and reuse it
    (the recipe of the pytest-xdist docs). A build that failed leaves no
    `.done` mark, so the next worker to ask builds it again (and fails the
    same way, in its own tests).
    """
    if worker_id == "master":
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    root = tmp_path_factory.getbasetemp().parent
    folder, done = root / name, root / f"{name}.done"
    with FileLock(str(root / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


def _fit(overrides: list[str]) -> Callable[[Path], None]:
    def build(folder: Path) -> None:
        from textlstm.config import load_config
        from textlstm.training import fit

        fit(load_config("quickstart", overrides), folder / "run", verbose=0)

    return build


@pytest.fixture(scope="session")
def export_run(tmp_path_factory, worker_id) -> Path:
    """A finished run folder of the quickstart preset, made tiny."""
    return (
        shared_once(tmp_path_factory, worker_id, "export-run", _fit(EXPORT_RUN)) / "run"
    )


@pytest.fixture(scope="session")
def exports(export_run, tmp_path_factory, worker_id) -> SimpleNamespace:
    """`textlstm export RUN --out BASE --target all`, in a real process:
    BASE/cpu/1, BASE/gpu/1 and BASE/tpu/1, each verified."""

    def build(folder: Path) -> None:
        result = run_textlstm(
            "export", export_run, "--out", folder / "reviews", "--target", "all"
        )
        assert result.returncode == 0, result.stderr
        (folder / "stdout.txt").write_text(result.stdout)
        (folder / "stderr.txt").write_text(result.stderr)

    folder = shared_once(tmp_path_factory, worker_id, "exports", build)
    return SimpleNamespace(
        base=folder / "reviews",
        run=export_run,
        stdout=(folder / "stdout.txt").read_text(),
        stderr=(folder / "stderr.txt").read_text(),
    )


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory, worker_id) -> Path:
    """A finished run of the real `quickstart` preset (what `textlstm fit`
    trains, under a minute): the model that the hand-written reviews and the
    explanations are checked on."""
    return shared_once(tmp_path_factory, worker_id, "quickstart", _fit([])) / "run"


def handwritten_reviews() -> list[dict]:
    """The hand-written held-out reviews (`tests/data/handwritten_reviews.jsonl`):
    `text`, `label` (neg/pos), `opinions` (1-3), `trailing` (neutral words
    after the deciding opinion) and `deciding` (the deciding opinion word)."""
    import json

    path = Path(__file__).parent / "data" / "handwritten_reviews.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


# The files that take longest (`--durations`, on 2 cores), longest first.
# `pytest -n 2 --dist loadfile` hands files to the workers in collection
# order, each a new one as it finishes the last: started first, the long
# files run beside each other and the short ones fill in at the end, so
# both workers finish together (longest-first scheduling). Left in
# collection order, the multi-worker file came last and ran alone.
LONGEST_FIRST = (
    "tests/test_multi_worker.py",
    "tests/test_export.py",
    "tests/layers/test_fast_path.py",
    "tests/test_cli.py",
    "tests/layers/test_jax_backend.py",
    "tests/test_distributed.py",
    "tests/test_ngrams.py",
    "tests/test_check.py",
    "tests/layers/test_parity.py",
    "tests/test_litert.py",
    "tests/test_explain.py",
)


def pytest_collection_modifyitems(config, items):
    root = Path(config.rootpath)
    missing = [name for name in LONGEST_FIRST if not (root / name).is_file()]
    if missing:  # a renamed file would silently lose its place
        raise pytest.UsageError(f"LONGEST_FIRST names missing files: {missing}")
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}

    def key(item):
        path = Path(item.path).relative_to(root).as_posix()
        return rank.get(path, len(rank))

    items.sort(key=key)  # stable: the order within a file and among the rest
