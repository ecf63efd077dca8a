"""Atomic files: written under a temporary name, then renamed into place.

A process killed at any moment (even by SIGKILL) never leaves a
half-written file under a final name. The temporary names
(`.tmp-<pid>-<name>`) carry the writer's process id, so
`remove_stale_temporaries` can tell the leftovers of a dead process from
the files a live one is writing. Every file textlstm writes goes through
here (`textlstm.runs` re-exports these names). No TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from pathlib import Path

__all__ = [
    "atomic_path",
    "read_json",
    "remove_stale_temporaries",
    "write_bytes",
    "write_json",
    "write_text",
]

_TEMPORARY = re.compile(r"\.tmp-(\d+)-")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; rename it to `path` on success.

    Works for files and folders alike (make the folder inside the block).
    The temporary name keeps the suffix (`.png`, `.keras`, ...) for writers
    that look at it, and is removed if the block raises.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "hello.txt"
    >>> with atomic_path(target) as temporary:
    ...     _ = Path(temporary).write_text("hi")
    >>> target.read_text()
    'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        _remove(temporary)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically (temporary name, fsync, rename)."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, value, indent: int = 2) -> Path:
    """Write `value` as indented JSON to `path` atomically."""
    return write_text(path, json.dumps(value, indent=indent) + "\n")


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the `.tmp-<pid>-*` entries of `folder` whose process is gone.

    The leftovers of a killed writer; entries of a live process (another
    export writing beside this one) are kept. Returns what was removed.
    """
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.glob(".tmp-*"):
        match = _TEMPORARY.match(entry.name)
        if match and not _process_alive(int(match.group(1))):
            _remove(entry)
            removed.append(entry)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def read_json(path: str | os.PathLike) -> dict:
    """A JSON object from `path`, or `{}` when it is missing or damaged."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
