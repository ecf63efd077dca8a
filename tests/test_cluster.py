"""TF_CONFIG parsing, the worker roles and the local launcher (no TensorFlow)."""

import json
import os
import socket
import subprocess
import sys
import tempfile

import pytest

from textlstm import cluster as cluster_lib
from textlstm.cluster import ClusterError, launcher, parse_cluster, workers


def tf_config(workers_list, task=("worker", 0), chief=None):
    cluster = {"worker": workers_list}
    if chief is not None:
        cluster["chief"] = chief
    return json.dumps({"cluster": cluster, "task": {"type": task[0], "index": task[1]}})


def test_parse_cluster_orders_the_chief_first():
    cluster = parse_cluster(tf_config(["w0:1", "w1:2"], ("worker", 1), chief=["c:3"]))
    assert cluster.tasks == (
        ("chief", 0, "c:3"),
        ("worker", 0, "w0:1"),
        ("worker", 1, "w1:2"),
    )
    assert (cluster.num_workers, cluster.worker_id, cluster.is_chief) == (3, 2, False)
    assert cluster.peers == ["c:3", "w0:1"]
    chief = parse_cluster(tf_config(["w0:1"], ("chief", 0), chief=["c:3"]))
    assert chief.is_chief and chief.address == "c:3"
    # Without a chief task, worker 0 is the chief.
    assert parse_cluster(tf_config(["a:1", "b:2"])).is_chief


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            "{",
            "TF_CONFIG: not JSON (line 1, column 2: Expecting property name "
            "enclosed in double quotes)",
        ),
        ("[1]", "TF_CONFIG: expected a JSON object, found list"),
        ('{"task": {}}', 'TF_CONFIG: no "cluster" object (task type -> addresses)'),
        (
            '{"cluster": {"ps": ["a:1"]}, "task": {"type": "ps", "index": 0}}',
            "TF_CONFIG: cluster has task type 'ps'; MultiWorkerMirroredStrategy "
            "takes only 'chief' and 'worker'",
        ),
        (
            '{"cluster": {"worker": "a:1"}, "task": {"type": "worker", "index": 0}}',
            "TF_CONFIG: cluster.worker must be a list of host:port strings",
        ),
        (
            '{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}',
            "TF_CONFIG: the cluster lists no workers",
        ),
        (
            tf_config(["a:1", "b"]),
            "TF_CONFIG: cluster.worker[1] is 'b', expected 'host:port'",
        ),
        (
            tf_config(["a:1", "b:99999"]),
            "TF_CONFIG: cluster.worker[1] is 'b:99999', expected 'host:port'",
        ),
        (tf_config(["a:1", "a:1"]), "TF_CONFIG: address a:1 appears twice"),
        (
            '{"cluster": {"worker": ["a:1"]}}',
            'TF_CONFIG: no "task" object ({"type": ..., "index": ...})',
        ),
        (
            tf_config(["a:1"], ("chief", 0)),
            "TF_CONFIG: task.type is 'chief', the cluster has worker",
        ),
        (
            tf_config(["a:1", "b:2"], ("worker", 2)),
            "TF_CONFIG: task.index is 2, cluster.worker has 2 address(es)",
        ),
        (
            tf_config(["a:1"], ("worker", "0")),
            "TF_CONFIG: task.index must be an integer, not '0'",
        ),
        (
            tf_config(["a:1"], chief=["c:1", "d:2"]),
            "TF_CONFIG: cluster.chief has more than one address",
        ),
    ],
)
def test_malformed_tf_config_gives_one_line(raw, message):
    with pytest.raises(ClusterError) as error:
        parse_cluster(raw)
    assert str(error.value) == message


def test_read_cluster_without_tf_config():
    assert cluster_lib.read_cluster({}) is None
    assert cluster_lib.read_cluster({"TF_CONFIG": "  "}) is None


def test_local_tf_configs_and_reachability():
    configs = [parse_cluster(raw) for raw in cluster_lib.local_tf_configs(3)]
    assert [c.worker_id for c in configs] == [0, 1, 2]
    assert len({c.address for c in configs}) == 3
    assert all(c.tasks == configs[0].tasks for c in configs)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        listening = f"127.0.0.1:{server.getsockname()[1]}"
        closed = f"127.0.0.1:{cluster_lib.free_ports(1)[0]}"
        assert cluster_lib.unreachable_peers([listening, closed]) == [closed]


def test_worker_role_writes_to_a_temporary_folder(tmp_path, monkeypatch):
    shared = tmp_path / "run"
    (shared / "checkpoints" / "epoch-0001").mkdir(parents=True)
    (shared / "checkpoints" / "epoch-0001" / "state.json").write_text('{"epoch": 1}')
    (shared / "run.json").write_text('{"status": "failed"}')
    assert workers.unfinished_run(shared)
    worker = parse_cluster(tf_config(["a:1", "b:2"], ("worker", 1)))
    role = workers.WorkerRole(worker, shared)
    parent = tmp_path / "tmp" / workers.TEMPORARY_PARENT
    parent.mkdir(parents=True)
    stale = parent / ".tmp-999999999-worker1-abc"  # a worker killed before
    stale.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    own = role.run_dir(resume=True)
    assert own.parent == parent
    assert own.name.startswith(f".tmp-{os.getpid()}-worker1-")
    assert not stale.exists()
    assert (
        own / "checkpoints" / "epoch-0001" / "state.json"
    ).read_text() == '{"epoch": 1}'
    assert (own / "run.json").is_file()
    role.cleanup()
    assert not own.exists()
    chief = workers.WorkerRole(parse_cluster(tf_config(["a:1", "b:2"])), shared)
    assert chief.run_dir(resume=True) == shared
    (shared / "run.json").write_text('{"status": "completed"}')
    assert not workers.unfinished_run(shared)
    with pytest.raises(ClusterError, match="^--run-dir: required with train.strategy"):
        workers.require_run_dir(None, worker)


def test_launcher_stops_the_others_when_one_fails(tmp_path, monkeypatch):
    # Stand-in workers: worker 1 fails at once, the chief would run for a minute.
    script = (
        "import json, os, sys, time\n"
        "index = json.loads(os.environ['TF_CONFIG'])['task']['index']\n"
        "if index == 1:\n"
        "    print('Error: something broke'); sys.exit(3)\n"
        "time.sleep(60)\n"
    )
    monkeypatch.setattr(
        launcher, "worker_command", lambda arguments: [sys.executable, "-c", script]
    )
    lines = []
    status = launcher.run_local_workers(2, ["fit"], report=lines.append)
    assert status == 3
    assert lines == [
        "worker 1: Error: something broke",
        "worker 1 exited with status 3; stopping the other workers",
    ]
    leftover = subprocess.run(
        ["pgrep", "-f", "time.sleep\\(60\\)"], capture_output=True, text=True
    )
    assert leftover.stdout.strip() == ""


def test_cluster_report_for_textlstm_info():
    assert cluster_lib.cluster_report({}) == {"cluster": "none (TF_CONFIG is not set)"}
    assert cluster_lib.cluster_report({"TF_CONFIG": "[]"}) == {
        "cluster": "invalid: TF_CONFIG: expected a JSON object, found list"
    }
    closed = f"127.0.0.1:{cluster_lib.free_ports(1)[0]}"
    report = cluster_lib.cluster_report(
        {"TF_CONFIG": tf_config([closed, "127.0.0.1:1"], ("worker", 1))}
    )
    assert report == {
        "cluster": "2 workers; this task worker:1 (worker 1)",
        "cluster_chief": closed,
        "cluster_peers": [f"{closed} (not answering)"],
    }
