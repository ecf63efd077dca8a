"""A worker of a two-process `multi_worker` run killed after epoch 1: the
other stops with one line, and the same command continues the run.

A file of its own (helpers in `test_multi_worker.py`): it is the longest
test of the suite, and xdist runs each file on one worker, so alone it runs
beside the other multi-worker tests instead of after them.
"""

import signal
import time

import pytest

from tests.test_multi_worker import (
    SMALL,
    error_lines,
    finish,
    fit_arguments,
    run_json,
    start_workers,
)
from tests.test_training import RUN_FILES
from textlstm import cluster as cluster_lib

pytestmark = pytest.mark.slow


def test_a_killed_worker_stops_the_other_and_a_restart_continues(tmp_path):
    run_dir = tmp_path / "run"
    arguments = fit_arguments(run_dir, SMALL)
    tf_configs = cluster_lib.local_tf_configs(2)
    chief, worker = start_workers(arguments, tf_configs)
    first = run_dir / "checkpoints" / "epoch-0001" / "state.json"
    deadline = time.monotonic() + 300
    while not first.is_file() and time.monotonic() < deadline and chief.poll() is None:
        time.sleep(0.1)
    assert first.is_file(), chief.communicate()[1][-3000:]
    worker.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    _, err = chief.communicate(timeout=120)
    waited = time.monotonic() - killed
    worker.wait()
    assert chief.returncode == 2, err[-3000:]
    assert waited < 90
    assert len(error_lines(err)) == 1
    assert error_lines(err)[0].startswith(
        "Error: a worker of the cluster stopped or stopped answering ("
    )
    assert run_json(run_dir)["status"] == "failed"

    # The same command again (as a cluster manager restarts a job) continues.
    results = finish(start_workers(arguments, tf_configs))
    assert [code for code, *_ in results] == [0, 0], results[0][2][-3000:]
    info = run_json(run_dir)
    assert info["status"] == "completed" and info["epochs_completed"] == 3
    assert [r["from_epoch"] for r in info["resumed"]] == [1]
    history = (run_dir / "history.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in history[1:]] == ["1", "2", "3"]
    assert (run_dir / "model.keras").is_file()

    # --resume with more epochs works on the multi-worker run too.
    more = [*arguments, "--resume", "--epochs", "4"]
    results = finish(start_workers(more))
    assert [code for code, *_ in results] == [0, 0], results[0][2][-3000:]
    info = run_json(run_dir)
    assert info["epochs_completed"] == 4
    assert [r["from_epoch"] for r in info["resumed"]] == [1, 3]
    assert {p.name for p in run_dir.iterdir()} == RUN_FILES

    # A worker that cannot see the chief's checkpoints (a run folder that is
    # not shared) would resume elsewhere: both stop, saying so.
    elsewhere = fit_arguments(tmp_path / "not-shared", SMALL)
    tf_configs = cluster_lib.local_tf_configs(2)
    chief = start_workers([*arguments, "--resume", "--epochs", "5"], tf_configs[:1])
    worker = start_workers([*elsewhere, "--resume", "--epochs", "5"], tf_configs[1:])
    for code, _, err in finish([*chief, *worker]):
        assert code == 2
        assert error_lines(err) == [
            "Error: the workers would resume from different epochs (4, 0, chief "
            "first): the run folder must be on storage every worker can read"
        ]
    assert run_json(run_dir)["epochs_completed"] == 4
