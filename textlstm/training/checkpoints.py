"""The training loop's state and the model's variables in checkpoints.

A checkpoint (`checkpoints/epoch-NNNN/`, written by `textlstm.runs`) holds
every variable of the model and its optimizer (`variables.npz`) and the
`LoopState` (`state.json`): the epoch count, the history and the
early-stopping state, so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from textlstm.runs import RunError, latest_checkpoint, load_arrays, save_arrays

__all__ = [
    "LoopState",
    "checkpoint_variables",
    "load_variables",
    "restore_checkpoint",
    "to_numpy",
]


@dataclasses.dataclass
class LoopState:
    """What a checkpoint holds besides variables (saved as state.json)."""

    epoch: int = 0
    history: list = dataclasses.field(default_factory=list)
    best_value: float | None = None
    best_epoch: int | None = None
    wait: int = 0
    stopped_early: bool = False
    #: The epoch this session resumed from (not saved).
    resumed_from: int | None = dataclasses.field(default=None, compare=False)

    def to_json(self) -> dict:
        state = dataclasses.asdict(self)
        del state["resumed_from"]
        return state

    def observe(self, row, train, model, checkpoints: Path) -> bool:
        """Update early stopping from the epoch's `row`; True when it stops."""
        monitor = train["early_stopping_monitor"]
        value = row.get(monitor)
        if value is None or math.isnan(value):
            return False
        better = (
            self.best_value is None
            or (monitor.endswith("loss") and value < self.best_value)
            or (not monitor.endswith("loss") and value > self.best_value)
        )
        if better:
            self.best_value, self.best_epoch, self.wait = value, self.epoch, 0
            if train["restore_best_weights"]:
                save_arrays(checkpoints / "best.npz", to_numpy(model.variables))
        else:
            self.wait += 1
        patience = train["early_stopping_patience"]
        self.stopped_early = bool(patience) and self.wait >= patience
        return self.stopped_early


def checkpoint_variables(model) -> list:
    """The variables a checkpoint saves: the model's, then the optimizer's."""
    return list(model.variables) + list(model.optimizer.variables)


def to_numpy(variables) -> list[np.ndarray]:
    """The values of Keras variables as NumPy arrays."""
    return [np.asarray(v.numpy()) for v in variables]


def load_variables(path: Path, variables) -> None:
    """Assign the arrays of `path` to `variables` (same count and shapes)."""
    values = load_arrays(path)
    if len(values) != len(variables) or any(
        tuple(v.shape) != a.shape for v, a in zip(variables, values)
    ):
        raise RunError(
            f"{path}: the checkpoint does not match the model of config.yaml "
            "(was the config changed?)"
        )
    for variable, value in zip(variables, values):
        variable.assign(value)


def restore_checkpoint(checkpoints: Path, model) -> LoopState | None:
    """Load the latest checkpoint into `model`; its loop state, or None."""
    latest = latest_checkpoint(checkpoints)
    if latest is None:
        return None
    folder, state = latest
    load_variables(folder / "variables.npz", checkpoint_variables(model))
    return LoopState(**state)
