"""Who writes what in a multi-worker run: the chief writes the run folder.

Every worker of a `train.strategy: multi_worker` run is started with the
same command and the same `--run-dir`, a folder on storage that every
worker can read (NFS, a mounted bucket). Only the chief writes there; each
other worker writes its own files (checkpoints, run.json) to a temporary
folder it removes when it ends, and reads the chief's checkpoints when the
run resumes.

A run that did not complete (`run.json` status `running` or `failed`)
continues from its last checkpoint when the same command is run again, as
Keras' `BackupAndRestore` does: a cluster manager (Kubeflow's TFJob,
Vertex AI) restarts failed workers with the command they were started
with.

No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from pathlib import Path

from textlstm.cluster.tf_config import Cluster, ClusterError
from textlstm.runs import latest_checkpoint, read_json, remove_stale_temporaries

__all__ = ["TEMPORARY_PARENT", "WorkerRole", "require_run_dir", "unfinished_run"]

#: The folder, in the system's temporary folder, of the workers' own files:
#: `.tmp-<pid>-worker<k>-*`, removed at the end, or at the next start of a
#: worker once the process that made it is gone (SIGKILL).
TEMPORARY_PARENT = "textlstm-workers"


def unfinished_run(run_dir) -> bool:
    """Whether `run_dir` holds a run that started and did not complete."""
    if run_dir is None:
        return False
    info = read_json(Path(run_dir) / "run.json")
    return bool(info) and info.get("status") in ("running", "failed")


@dataclasses.dataclass
class WorkerRole:
    """This process's part in a run: the chief, a worker, or the only one.

    Attributes:
        cluster: The cluster (None: a single process).
        shared_run_dir: The run folder every worker names.
    """

    cluster: Cluster | None
    shared_run_dir: Path
    _temporary: Path | None = None

    @property
    def is_chief(self) -> bool:
        return self.cluster is None or self.cluster.is_chief

    @property
    def num_workers(self) -> int:
        return 1 if self.cluster is None else self.cluster.num_workers

    def run_dir(self, resume: bool) -> Path:
        """The folder this process writes to.

        The chief's is the shared run folder; another worker's a new
        temporary folder holding copies of the shared run.json and latest
        checkpoint when resuming.
        """
        if self.is_chief:
            return self.shared_run_dir
        if self._temporary is None:
            parent = Path(tempfile.gettempdir()) / TEMPORARY_PARENT
            parent.mkdir(exist_ok=True)
            remove_stale_temporaries(parent)  # of workers killed before
            prefix = f".tmp-{os.getpid()}-worker{self.cluster.worker_id}-"
            self._temporary = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
            if resume:
                self._copy_resume_files()
        return self._temporary

    def _copy_resume_files(self) -> None:
        shared = self.shared_run_dir
        if (shared / "run.json").is_file():
            shutil.copy2(shared / "run.json", self._temporary / "run.json")
        latest = latest_checkpoint(shared / "checkpoints")
        if latest is not None:
            folder, _ = latest
            shutil.copytree(folder, self._temporary / "checkpoints" / folder.name)

    def cleanup(self) -> None:
        """Remove a worker's temporary folder (nothing for the chief)."""
        if self._temporary is not None:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None


def require_run_dir(run_dir, cluster: Cluster | None) -> None:
    """A multi-worker run needs `--run-dir`: the default name has a time."""
    if cluster is not None and run_dir is None:
        raise ClusterError(
            "--run-dir: required with train.strategy multi_worker (every worker "
            "must name the same folder, on storage they all can read)"
        )
