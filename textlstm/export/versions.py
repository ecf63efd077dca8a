"""Version folders of a model base: TensorFlow Serving's layout `BASE/<N>/`.

Shared by the export (which version to write next), `--check` and
`predict` (which version a model base means), and `textlstm serve` (which
versions to load). Folders with other names (`.tmp-*` exports being
written, `assets`, ...) are never versions. This module imports no
TensorFlow.

>>> import tempfile
>>> base = Path(tempfile.mkdtemp())
>>> for name in ("1", "10", "2", ".tmp-123-3-ab12cd34"):
...     (base / name).mkdir()
>>> version_numbers(base), latest_version(base), next_version(base)
([1, 2, 10], 10, 11)
>>> _ = (base / "2" / "saved_model.pb").write_bytes(b"")
>>> version_numbers(base, complete=True)
[2]
"""

from __future__ import annotations

import os
from pathlib import Path

from textlstm.errors import ExportError

__all__ = [
    "check_model_base",
    "latest_version",
    "next_version",
    "resolve_export",
    "version_numbers",
]

SAVED_MODEL = "saved_model.pb"
#: The model file of a LiteRT export (`--target litert`).
LITERT_MODEL = "model.tflite"


def version_numbers(base: str | os.PathLike, *, complete: bool = False) -> list[int]:
    """The integer version folders under `base`, ascending (none if absent).

    Args:
        base: The model base folder.
        complete: Only folders holding a `saved_model.pb` (what a server can
            load), not every numbered folder (what a new version must skip).
    """
    base = Path(base)
    if not base.is_dir():
        return []
    return sorted(
        int(p.name)
        for p in base.iterdir()
        if p.name.isdigit()
        and p.is_dir()
        and (not complete or (p / SAVED_MODEL).is_file())
    )


def latest_version(base: str | os.PathLike) -> int | None:
    """The largest integer version folder under `base` (None if none)."""
    versions = version_numbers(base)
    return versions[-1] if versions else None


def next_version(base: str | os.PathLike) -> int:
    """One more than the largest version folder under `base` (1 if none)."""
    return (latest_version(base) or 0) + 1


def resolve_export(path: str | os.PathLike) -> Path:
    """A version folder (`.../<N>`), or the latest version of a model base.

    Raises:
        ExportError: `path` holds no SavedModel.
    """
    path = Path(path)
    if _is_export(path):
        return path
    version = latest_version(path)
    if version is not None and _is_export(path / str(version)):
        return path / str(version)
    raise ExportError(
        f"{path} is neither an export folder (saved_model.pb or model.tflite) nor a "
        "model base with version folders (1/, 2/, ...)"
    )


def _is_export(folder: Path) -> bool:
    return (folder / SAVED_MODEL).is_file() or (folder / LITERT_MODEL).is_file()


def check_model_base(base: str | os.PathLike) -> None:
    """Refuse what cannot be a served model base, before anything loads.

    Raises:
        ExportError: `base` is a version folder itself, or holds no version
            folder with a `saved_model.pb`.
    """
    base = Path(base)
    if (base / SAVED_MODEL).is_file():
        raise ExportError(
            f"{base} is a version folder; give its parent, the model base "
            f"({base.parent})"
        )
    if not version_numbers(base, complete=True):
        raise ExportError(f"{base} has no loadable version folder (1/, 2/, ...)")
