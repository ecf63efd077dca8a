"""Fixtures of the data tests: tiny files written on the fly, the shared data."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def write(tmp_path):
    """Write text (str) or bytes to a file under tmp_path and return its path."""

    def write(name: str, content) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return path

    return write


@pytest.fixture(scope="session")
def shared_tfds() -> Path:
    """The prepared tfds folder of ../shared/data (or TEXTLSTM_SHARED_DATA)."""
    root = Path(os.environ.get("TEXTLSTM_SHARED_DATA", REPO.parent / "shared" / "data"))
    folder = root / "tfds"
    if not (folder / "imdb_reviews").is_dir():
        pytest.skip(f"shared IMDB data not found at {folder}")
    return folder
