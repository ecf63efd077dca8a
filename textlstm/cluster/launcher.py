"""`textlstm fit --local-workers N`: a multi-worker cluster on this machine.

Starts `N` copies of one `textlstm fit` command, each with its own
`TF_CONFIG` (workers on 127.0.0.1, free ports, worker 0 the chief), shows
the chief's output as it comes, keeps the others' in temporary files, and
when one worker fails stops the others (SIGKILL: TensorFlow's preemption
handler ignores SIGTERM) and repeats the failed worker's last lines. For
trying `train.strategy: multi_worker` before a real cluster; a real one
runs the same command on each host with the `TF_CONFIG` its manager sets.

No TensorFlow here: the launcher only starts processes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from textlstm.cluster.tf_config import local_tf_configs

__all__ = ["run_local_workers", "worker_command"]


def worker_command(arguments: Sequence[str]) -> list[str]:
    """The command line that runs `textlstm <arguments>` in this Python."""
    start = "from textlstm.cli.main import main; main()"
    return [sys.executable, "-c", start, *arguments]


def run_local_workers(
    count: int,
    arguments: Sequence[str],
    *,
    report: Callable[[str], None] = lambda line: None,
    poll_seconds: float = 0.2,
) -> int:
    """Run `textlstm <arguments>` as `count` workers of one local cluster.

    Args:
        count: Workers (at least 1).
        arguments: The command after `textlstm`, the same for every worker.
        report: Called with one-line messages (which worker failed).
        poll_seconds: How often the workers are checked.

    Returns:
        0 when every worker succeeded, else the exit status of the first
        worker that failed.
    """
    logs = Path(tempfile.mkdtemp(prefix="textlstm-workers-"))
    workers: list[subprocess.Popen] = []
    files = []
    try:
        for index, tf_config in enumerate(local_tf_configs(count)):
            env = {**os.environ, "TF_CONFIG": tf_config}
            if index == 0:  # the chief: its output is the run's
                workers.append(subprocess.Popen(worker_command(arguments), env=env))
                continue
            log = open(logs / f"worker{index}.log", "wb")  # noqa: SIM115 (closed below)
            files.append(log)
            workers.append(
                subprocess.Popen(
                    worker_command(arguments),
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        return _wait(workers, logs, report, poll_seconds)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        for log in files:
            log.close()
        for path in logs.iterdir():
            path.unlink()
        logs.rmdir()


def _wait(workers, logs: Path, report, poll_seconds: float) -> int:
    while True:
        codes = [worker.poll() for worker in workers]
        failed = [i for i, code in enumerate(codes) if code not in (None, 0)]
        if failed:
            index = failed[0]
            if index:
                lines = (logs / f"worker{index}.log").read_text(errors="replace")
                last = [line for line in lines.splitlines() if line.strip()][-3:]
                for line in last:
                    report(f"worker {index}: {line}")
            report(
                f"worker {index} exited with status {codes[index]}; "
                "stopping the other workers"
            )
            return codes[index]
        if all(code == 0 for code in codes):
            return 0
        time.sleep(poll_seconds)
