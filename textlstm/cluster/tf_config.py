"""The cluster a multi-worker run joins: `TF_CONFIG`, read and checked.

`tf.distribute.MultiWorkerMirroredStrategy` reads its cluster from the
`TF_CONFIG` environment variable, the JSON every TensorFlow cluster manager
(Kubeflow's TFJob, Vertex AI, a shell script) sets on each host:

    {"cluster": {"worker": ["host0:12345", "host1:12345"]},
     "task": {"type": "worker", "index": 0}}

TensorFlow itself reports a malformed one with a long traceback, or hangs;
`read_cluster` checks it first and says what is wrong in one line. The
chief (the task that writes the run folder) is the `chief` task when the
cluster has one, else worker 0, as in TensorFlow.

No TensorFlow here: `textlstm info` and the config checks import it freely.

>>> cluster = parse_cluster(
...     '{"cluster": {"worker": ["a:1", "b:2"]},'
...     ' "task": {"type": "worker", "index": 1}}'
... )
>>> cluster.num_workers, cluster.worker_id, cluster.is_chief, cluster.address
(2, 1, False, 'b:2')
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import time
from collections.abc import Iterable, Mapping

from textlstm.errors import ConfigError

__all__ = [
    "Cluster",
    "ClusterError",
    "cluster_report",
    "free_ports",
    "local_tf_configs",
    "parse_cluster",
    "read_cluster",
    "rendezvous",
    "unreachable_peers",
]

#: The task types a MultiWorkerMirroredStrategy cluster may hold.
TASK_TYPES = ("chief", "worker")


class ClusterError(ConfigError):
    """`TF_CONFIG` is malformed, or the cluster cannot be formed."""


@dataclasses.dataclass(frozen=True)
class Cluster:
    """One task's view of a `TF_CONFIG` cluster.

    Attributes:
        tasks: `(task type, index, "host:port")` of every task, the chief
            first (the `chief` task, or worker 0 when there is none).
        task_type: This task's type, `"chief"` or `"worker"`.
        task_index: This task's index within its type.
    """

    tasks: tuple[tuple[str, int, str], ...]
    task_type: str
    task_index: int

    @property
    def num_workers(self) -> int:
        """Every task that trains, the chief included."""
        return len(self.tasks)

    @property
    def worker_id(self) -> int:
        """This task's position in `tasks` (0 is the chief)."""
        return [(kind, index) for kind, index, _ in self.tasks].index(
            (self.task_type, self.task_index)
        )

    @property
    def is_chief(self) -> bool:
        return self.worker_id == 0

    @property
    def address(self) -> str:
        return self.tasks[self.worker_id][2]

    @property
    def peers(self) -> list[str]:
        """The other tasks' addresses."""
        return [address for *_, address in self.tasks if address != self.address]

    def describe(self) -> dict:
        """A JSON-able summary (run.json, `textlstm info`)."""
        return {
            "num_workers": self.num_workers,
            "task": f"{self.task_type}:{self.task_index}",
            "worker_id": self.worker_id,
            "is_chief": self.is_chief,
            "addresses": [address for *_, address in self.tasks],
        }


def read_cluster(environ: Mapping[str, str] | None = None) -> Cluster | None:
    """The cluster of `TF_CONFIG` in `environ` (default `os.environ`).

    Returns:
        A `Cluster`, or None when `TF_CONFIG` is unset or empty.

    Raises:
        ClusterError: `TF_CONFIG` is malformed (one line saying how).
    """
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "")
    if not raw.strip():
        return None
    return parse_cluster(raw)


def parse_cluster(raw: str) -> Cluster:
    """Parse and check a `TF_CONFIG` JSON string (see `read_cluster`)."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ClusterError(
            f"TF_CONFIG: not JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg})"
        ) from None
    if not isinstance(value, dict):
        raise ClusterError(
            f"TF_CONFIG: expected a JSON object, found {type(value).__name__}"
        )
    cluster = value.get("cluster")
    if not isinstance(cluster, dict) or not cluster:
        raise ClusterError('TF_CONFIG: no "cluster" object (task type -> addresses)')
    unknown = sorted(set(cluster) - set(TASK_TYPES))
    if unknown:
        raise ClusterError(
            f"TF_CONFIG: cluster has task type {unknown[0]!r}; "
            "MultiWorkerMirroredStrategy takes only 'chief' and 'worker'"
        )
    tasks = []
    for kind in TASK_TYPES:
        addresses = cluster.get(kind, [])
        if not isinstance(addresses, list):
            raise ClusterError(
                f"TF_CONFIG: cluster.{kind} must be a list of host:port strings"
            )
        if kind == "chief" and len(addresses) > 1:
            raise ClusterError("TF_CONFIG: cluster.chief has more than one address")
        for index, address in enumerate(addresses):
            _check_address(address, f"cluster.{kind}[{index}]")
            tasks.append((kind, index, address))
    if not tasks:
        raise ClusterError("TF_CONFIG: the cluster lists no workers")
    duplicates = sorted({a for *_, a in tasks if [t[2] for t in tasks].count(a) > 1})
    if duplicates:
        raise ClusterError(f"TF_CONFIG: address {duplicates[0]} appears twice")
    task_type, task_index = _task(value.get("task"), cluster)
    return Cluster(tuple(tasks), task_type, task_index)


def _task(task, cluster: Mapping) -> tuple[str, int]:
    if not isinstance(task, dict):
        raise ClusterError('TF_CONFIG: no "task" object ({"type": ..., "index": ...})')
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in cluster:
        known = ", ".join(sorted(cluster))
        raise ClusterError(f"TF_CONFIG: task.type is {kind!r}, the cluster has {known}")
    if isinstance(index, bool) or not isinstance(index, int):
        raise ClusterError(f"TF_CONFIG: task.index must be an integer, not {index!r}")
    if not 0 <= index < len(cluster[kind]):
        raise ClusterError(
            f"TF_CONFIG: task.index is {index}, cluster.{kind} has "
            f"{len(cluster[kind])} address(es)"
        )
    return kind, index


def _check_address(address, where: str) -> None:
    text = address if isinstance(address, str) else ""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"TF_CONFIG: {where} is {address!r}, expected 'host:port'")


def cluster_report(environ: Mapping[str, str] | None = None) -> dict:
    """What `textlstm info` says about the cluster `TF_CONFIG` describes:
    this task, the chief, the peers that answer a TCP connection now (a
    worker's port opens once its `textlstm fit` has started), or why
    `TF_CONFIG` cannot be used."""
    try:
        cluster = read_cluster(environ)
    except ClusterError as error:
        return {"cluster": f"invalid: {error}"}
    if cluster is None:
        return {"cluster": "none (TF_CONFIG is not set)"}
    down = set(unreachable_peers(cluster.peers, timeout=0.5))
    return {
        "cluster": f"{cluster.num_workers} workers; this task {cluster.task_type}:"
        f"{cluster.task_index} (worker {cluster.worker_id}"
        f"{', the chief' if cluster.is_chief else ''})",
        "cluster_chief": cluster.tasks[0][2],
        "cluster_peers": [
            f"{address} ({'not answering' if address in down else 'answering'})"
            for address in cluster.peers
        ],
    }


def unreachable_peers(addresses: Iterable[str], timeout: float = 1.0) -> list[str]:
    """The addresses where nothing accepts a TCP connection now."""
    missing = []
    for address in addresses:
        host, _, port = address.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout):
                pass
        except OSError:
            missing.append(address)
    return missing


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct TCP ports that are free on `host` right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def local_tf_configs(count: int, host: str = "127.0.0.1") -> list[str]:
    """`TF_CONFIG` values for `count` workers on this machine, chief first."""
    addresses = [f"{host}:{port}" for port in free_ports(count, host)]
    return [
        json.dumps(
            {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}}
        )
        for i in range(count)
    ]


def rendezvous(cluster: Cluster, timeout: float) -> list[str]:
    """Wait until every task of `cluster` has started, or `timeout` passes.

    TensorFlow's cluster start-up waits for the other tasks forever, with
    the interpreter locked (no Python thread can stop it). So before it,
    each task listens on its own port of `TF_CONFIG` and connects to every
    peer's, sending its worker id; a task is done when it has reached every
    peer and heard from every peer. Then it frees its port for TensorFlow.

    Returns:
        The addresses of the peers not heard from or not reached by the
        deadline ([] when the cluster is complete).
    """
    deadline = time.monotonic() + timeout
    others = {
        i: task[2] for i, task in enumerate(cluster.tasks) if i != cluster.worker_id
    }
    reached: set[int] = set()
    heard: set[int] = set()
    port = int(cluster.address.rpartition(":")[2])
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("", port))
        server.listen(len(others) + 1)
        server.settimeout(0.2)
        while (reached != set(others) or heard != set(others)) and (
            time.monotonic() < deadline
        ):
            for index in set(others) - reached:
                if _hello(others[index], cluster.worker_id):
                    reached.add(index)
            heard |= _accept_hellos(server)
    return [others[i] for i in sorted(others) if i not in reached or i not in heard]


def _hello(address: str, worker_id: int) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), 0.5) as peer:
            peer.sendall(f"textlstm {worker_id}\n".encode())
        return True
    except OSError:
        return False


def _accept_hellos(server: socket.socket) -> set[int]:
    heard = set()
    while True:
        try:
            connection, _ = server.accept()
        except (TimeoutError, OSError):
            return heard
        with connection:
            connection.settimeout(1.0)
            try:
                words = connection.recv(64).decode(errors="replace").split()
            except OSError:
                continue
            if len(words) == 2 and words[0] == "textlstm" and words[1].isdigit():
                heard.add(int(words[1]))
