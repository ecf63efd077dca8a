"""train.strategy multi_worker: two worker processes on 127.0.0.1.

Each test starts real `textlstm fit` processes with their own TF_CONFIG
(MultiWorkerMirroredStrategy needs a fresh process per worker) and checks
what they wrote: the accuracy, which examples each worker saw, the run
folder, a SIGKILLed worker and the restart after it, `--resume`, and the
errors for a broken cluster.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.test_training import RUN_FILES
from textlstm import cluster as cluster_lib
from textlstm.cluster.launcher import worker_command
from textlstm.config import load_config
from textlstm.runs import KEEP_CHECKPOINTS

pytestmark = pytest.mark.slow

# Small and quick, yet with epochs long enough (a second or more: a step
# waits on its peer) that a worker killed after the first one dies mid-run.
SMALL = [
    "data.size=400",
    "data.test_size=60",
    "text.max_tokens=300",
    "text.sequence_length=32",
    "model.units=8",
    "model.embedding_dim=8",
    "train.epochs=3",
]
# The quickstart preset on fewer, shorter reviews: the same >= 95% in a
# third of the time (a multi-worker step waits on its peer: time goes with
# the number of steps).
QUICK = ["data.size=1000", "data.test_size=200", "text.sequence_length=64"]


def start_workers(arguments, tf_configs=None, count=2):
    """Popen `textlstm <arguments>` once per worker, with its TF_CONFIG."""
    tf_configs = tf_configs or cluster_lib.local_tf_configs(count)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return [
        subprocess.Popen(
            worker_command(arguments),
            env={**env, "TF_CONFIG": tf_config},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tf_config in tf_configs
    ]


def finish(workers, timeout=300):
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=timeout)
        results.append((worker.returncode, out, err))
    return results


def fit_arguments(run_dir, overrides):
    arguments = [
        "fit",
        "--run-dir",
        str(run_dir),
        "--strategy",
        "multi_worker",
        "--quiet",
    ]
    for override in overrides:
        arguments += ["--set", override]
    return arguments


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def run_json(run_dir: Path) -> dict:
    return json.loads((run_dir / "run.json").read_text())


def test_two_local_workers_train_the_quickstart_preset(tmp_path, quickstart_run):
    from textlstm.data import load_dataset
    from textlstm.training.distributed import shard_checksum

    run_dir = tmp_path / "cluster"
    temporary = tmp_path / "tmp"  # the workers' TMPDIR: what they leave there
    temporary.mkdir()
    result = subprocess.run(
        worker_command(
            ["fit", "--local-workers", "2", "--run-dir", str(run_dir), "--quiet"]
            + [argument for override in QUICK for argument in ("--set", override)]
        ),
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TMPDIR": str(temporary)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The same preset in one process (the session's shared quickstart run).
    single = json.loads((quickstart_run / "metrics.json").read_text())
    assert single["accuracy"] >= 0.95
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.95

    info = run_json(run_dir)
    assert info["status"] == "completed" and info["strategy"] == "multi_worker"
    assert info["environment"]["replicas"] == 2
    workers = info["cluster"]["workers"]
    train = info["num_examples"]["train"]
    # Each worker saw its own half, together every training example once.
    assert [w["examples_per_epoch"] for w in workers] == [
        (train + 1) // 2,
        train // 2,
    ]
    config = load_config("quickstart", QUICK)
    bundle = load_dataset(config["data"], seed=config["train"]["seed"])
    count, checksum = shard_checksum(bundle.train)
    assert count == train
    total = sum(w["shard_checksum"] for w in workers)
    assert (total - checksum) % 2**64 == 0
    assert workers[0]["shard_checksum"] != workers[1]["shard_checksum"]
    # The chief wrote the run folder once; no worker left anything behind.
    assert {p.name for p in run_dir.iterdir()} == RUN_FILES
    epochs = config["train"]["epochs"]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        f"epoch-{e:04d}" for e in range(epochs - KEEP_CHECKPOINTS + 1, epochs + 1)
    ]
    assert len((run_dir / "history.csv").read_text().splitlines()) == epochs + 1
    assert list((temporary / "textlstm-workers").iterdir()) == []
    assert not list(temporary.glob("textlstm-workers-*"))  # the launcher's logs


def test_first_step_equals_the_single_process_step(tmp_path):
    from textlstm.model import load_text_classifier
    from textlstm.training import fit

    # One step: every training example in one global batch (no bucketing,
    # which would make a batch per length bucket); no dropout; clipping on.
    overrides = [
        "text.bucketing=false",
        "train.clipnorm=0.05",
        "data.size=100",
        "data.test_size=20",
        "train.epochs=1",
        "train.batch_size=128",
        "model.embedding_dropout=0.0",
        "model.head_dropout=0.0",
        "text.max_tokens=300",
        "text.sequence_length=32",
        "model.units=8",
        "model.embedding_dim=8",
    ]
    results = finish(start_workers(fit_arguments(tmp_path / "two", overrides)))
    assert [code for code, *_ in results] == [0, 0], results[0][2][-3000:]
    fit(load_config("quickstart", overrides), tmp_path / "one", verbose=0)
    two = load_text_classifier(tmp_path / "two").get_weights()
    one = load_text_classifier(tmp_path / "one").get_weights()
    assert len(two) == len(one) > 3
    for a, b in zip(two, one):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    # The step moved the weights: equal untouched weights would prove nothing.
    fit(
        load_config("quickstart", [*overrides, "train.learning_rate=0.0"]),
        tmp_path / "still",
        verbose=0,
    )
    still = load_text_classifier(tmp_path / "still").get_weights()
    assert max(float(np.abs(a - b).max()) for a, b in zip(one, still)) > 1e-3
    info = run_json(tmp_path / "two")
    assert info["epochs_completed"] == 1 and info["num_examples"]["train"] <= 128


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


def test_unreachable_peer_gives_one_line_and_exit_2_in_bounded_time(tmp_path):
    arguments = fit_arguments(tmp_path / "run", ["train.cluster_timeout=5"])
    alone = start_workers(arguments, cluster_lib.local_tf_configs(2)[:1])[0]
    started = time.monotonic()
    _, err = alone.communicate(timeout=120)
    assert alone.returncode == 2
    assert time.monotonic() - started < 60
    lines = error_lines(err)
    assert len(lines) == 1
    assert lines[0].startswith(
        "Error: the cluster did not form within 5 s (train.cluster_timeout): "
        "no answer from 127.0.0.1:"
    )


@pytest.mark.parametrize(
    "tf_config, message",
    [
        (
            None,
            "Error: train.strategy multi_worker: TF_CONFIG is not set (set it on "
            "every host, or try it here with --local-workers 2)",
        ),
        (
            "{oops",
            "Error: TF_CONFIG: not JSON (line 1, column 2: Expecting property "
            "name enclosed in double quotes)",
        ),
    ],
)
def test_bad_tf_config_is_refused_before_tensorflow_starts(
    tmp_path, tf_config, message
):
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    if tf_config is not None:
        env["TF_CONFIG"] = tf_config
    started = time.monotonic()
    result = subprocess.run(
        worker_command(fit_arguments(tmp_path / "run", [])),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == message
    assert time.monotonic() - started < 20
    assert not (tmp_path / "run").exists()


def test_batch_size_must_divide_across_workers(tmp_path):
    results = finish(
        start_workers(fit_arguments(tmp_path / "run", ["train.batch_size=33"]))
    )
    for code, _, err in results:
        assert code == 2
        assert error_lines(err) == [
            "Error: train.batch_size: 33 does not divide across the 2 replicas "
            "(use a multiple of 2)"
        ]
