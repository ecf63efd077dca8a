"""The private folder of one export, beside the versions it will join.

`OUT/.tmp-<pid>-<version>-<random>/` holds everything an export writes
before it is published: the SavedModel being written (`export/`), and
`scratch/` with the vocabulary asset, the probe's report and output, and
`scratch/tmp/`, the temporary folder of the export process (AutoGraph's
generated modules) and of its probe. A TensorFlow Serving watching `OUT`
ignores the name (not a number). The name carries the process id, so when
an export is killed (even by SIGKILL) the next one removes what it left
(`textlstm.runs.remove_stale_temporaries`) and keeps those of live exports.
This module imports no TensorFlow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["Workspace", "export_workspace"]


@dataclasses.dataclass
class Workspace:
    """The folders of one export.

    Attributes:
        path: The workspace, `OUT/.tmp-<pid>-<version>-<random>`.
        export: The SavedModel folder being written (renamed to `OUT/<N>`).
        scratch: Files that are not part of the export.
        tmp: The temporary folder of the export and of its probe.
    """

    path: Path

    @property
    def export(self) -> Path:
        return self.path / "export"

    @property
    def scratch(self) -> Path:
        return self.path / "scratch"

    @property
    def tmp(self) -> Path:
        return self.scratch / "tmp"


@contextlib.contextmanager
def export_workspace(out: Path, version: int) -> Iterator[Workspace]:
    """Create the workspace of an export of `version` under `out`, send this
    process's temporary files there while in the block, and remove it (and
    whatever was not published from it) on leaving.

    >>> base = Path(tempfile.mkdtemp())
    >>> with export_workspace(base, 3) as workspace:
    ...     inside = Path(tempfile.mkdtemp()).parent == workspace.tmp
    ...     name = workspace.path.name
    >>> inside, name.startswith(f".tmp-{os.getpid()}-3-"), list(base.iterdir())
    (True, True, [])
    """
    workspace = Workspace(out / f".tmp-{os.getpid()}-{version}-{uuid.uuid4().hex[:8]}")
    workspace.path.mkdir(parents=True)
    try:
        # Plain mkdirs, not mkdtemp nor TensorFlow's: the version folder gets
        # the usual mode, not 0700 or 0755, so a server running as another
        # user can read it.
        workspace.export.mkdir()
        workspace.tmp.mkdir(parents=True)
        with _temporary_files_in(workspace.tmp):
            yield workspace
    finally:
        shutil.rmtree(workspace.path, ignore_errors=True)


@contextlib.contextmanager
def _temporary_files_in(folder: Path) -> Iterator[None]:
    """`tempfile`'s folder is `folder` while in the block: TensorFlow writes
    AutoGraph's generated modules there and removes them only at exit, so a
    killed export would leave them in the system's temporary folder."""
    previous = tempfile.tempdir
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = previous
