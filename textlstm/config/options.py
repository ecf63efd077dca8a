"""`Option`: the declaration of one config key (`schema.py` holds the table).

A module of its own so the schema's table of keys, which grows with every
feature, stays a table. Like the schema, it imports no TensorFlow.
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["Option"]


@dataclasses.dataclass(frozen=True)
class Option:
    """One config key: its type, default, allowed values and meaning.

    Args:
        type: `int`, `float`, `bool`, `str`, or `list` (of strings).
        default: The value used when a config does not set the key.
        doc: One line a user reads in `textlstm configs --keys`.
        choices: The allowed values, or `None` for any value of `type`.
        nullable: Whether `null` (None) is allowed.
        minimum: Smallest allowed number (inclusive), or `None`.
        maximum: Largest allowed number (inclusive), or `None`.
        path: The data sources for which the key is a filesystem path
            (`True`: all). A relative path in a config file resolves
            against the file's folder; one given with `--set`, against the
            current directory.
        auto: Whether the string `"auto"` is allowed too: the value is then
            chosen from the training data when a run starts
            (`textlstm.text.sizing`) and written into the run's config.
    """

    type: type
    default: Any
    doc: str
    choices: tuple | None = None
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    path: bool | tuple[str, ...] = False
    auto: bool = False
