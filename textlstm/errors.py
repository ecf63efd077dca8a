"""The errors a user causes, under one base class.

`UserError` means "what you gave me is wrong" (a config key, a data file, a
run folder, an export folder): the message is one line that names the thing
and the problem, and the command line maps it to exit code 2. Anything else
that escapes a command is a failure of ours or of the machine (exit code 1).

This module imports nothing (no TensorFlow), so every module can use it.

>>> issubclass(ConfigError, UserError) and issubclass(ConfigError, ValueError)
True
>>> str(DataError("train.csv: line 3: expected 2 fields, found 3"))
'train.csv: line 3: expected 2 fields, found 3'
"""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "ExportError", "RunError", "UserError"]


class UserError(ValueError):
    """Bad input from the user; its message is one line (exit code 2)."""


class ConfigError(UserError):
    """A config is invalid; the message names the key and the problem."""


class DataError(UserError):
    """Bad data or data config; the message names the file, line and problem."""


class RunError(UserError):
    """A run folder is missing, incomplete, or cannot be used as asked."""


class ExportError(UserError):
    """The run folder or the export folder cannot be used as asked."""
