"""The run folder: atomic files, run.json, checkpoints, history and resume.

A run folder (`textlstm fit --run-dir`, default `runs/<name>-<timestamp>`)
is the one place a training run leaves what it did: `config.yaml`,
`run.json`, `vocab.txt`, `checkpoints/`, `model.keras`, `history.csv`,
`metrics.json`, `tensorboard/` and `plots/` (docs: getting started, the run
folder).

Every file is written under a temporary name and renamed into place
(`textlstm.runs.atomic`, whose names this module re-exports), so a process
killed at any moment (even by SIGKILL) never leaves a half-written file.

This module imports no TensorFlow: reading a run, writing a PNG or a JSON
file must not pay for it (a test checks).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import json
import os
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import yaml

from textlstm.config import ConfigError, apply_overrides, validate_config
from textlstm.errors import RunError
from textlstm.runs.atomic import (
    atomic_path,
    read_json,
    remove_stale_temporaries,
    write_bytes,
    write_json,
    write_text,
)

__all__ = [
    "RESUMABLE_KEYS",
    "Run",
    "RunError",
    "RunRecord",
    "Session",
    "atomic_path",
    "check_same_vocabulary",
    "checkpoint_dirs",
    "default_run_dir",
    "latest_checkpoint",
    "latest_run_dir",
    "load_arrays",
    "new_run_dir",
    "read_json",
    "read_run",
    "remove_stale_temporaries",
    "resume_config",
    "save_arrays",
    "save_checkpoint",
    "write_bytes",
    "write_history",
    "write_json",
    "write_text",
]

#: Keys a resumed run may change: train further, or turn determinism on.
RESUMABLE_KEYS = ("train.epochs", "train.deterministic")
#: Epoch checkpoints kept (the latest ones); `best.npz` is kept apart.
KEEP_CHECKPOINTS = 2
_SECTIONS = "a mapping of sections"
#: A size chosen from the training data when the run started.
AUTO = "auto"


# --------------------------------------------------------------------------- #
# Reading a run


@dataclasses.dataclass
class Run:
    """A run folder as read back by `read_run`.

    Attributes:
        path: The folder.
        config: The resolved config of `config.yaml`.
        info: The content of `run.json`.
    """

    path: Path
    config: dict
    info: dict

    @property
    def class_names(self) -> list[str]:
        return list(self.info["class_names"])


def read_run(run_dir: str | os.PathLike) -> Run:
    """Read `config.yaml` and `run.json` of a run folder.

    Raises:
        RunError: the folder or one of its files is missing or damaged; the
            one-line message names the file and the problem.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"run folder not found: {path}")
    config = _read_run_file(path / "config.yaml", yaml.safe_load, _SECTIONS)
    info = _read_run_file(path / "run.json", json.loads, "a JSON object")
    if not isinstance(info.get("class_names"), list):
        raise RunError(f"{path / 'run.json'}: no class_names list")
    return Run(path=path, config=_validated(path / "config.yaml", config), info=info)


def read_config_file(file: Path) -> dict:
    """The validated config of a run's `config.yaml` (one-line `RunError`s)."""
    return _validated(file, _read_run_file(file, yaml.safe_load, _SECTIONS))


def _validated(file: Path, config: dict) -> dict:
    try:
        return validate_config(config)
    except ConfigError as error:
        raise RunError(f"{file}: {error}") from None


def _read_run_file(file: Path, parse, expected: str) -> dict:
    """Parse one file of a run folder into a dict, or say in one line which
    file is wrong and how (missing, unreadable, empty, damaged)."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunError(
            f"{file.parent} is not a textlstm run folder ({file.name} missing)"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise RunError(f"{file}: cannot read it ({error})") from None
    if not text.strip():
        raise RunError(f"{file}: the file is empty")
    try:
        value = parse(text)
    except json.JSONDecodeError as error:
        raise RunError(
            f"{file}: damaged JSON at line {error.lineno}, column {error.colno} "
            f"({error.msg})"
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "not YAML"
        raise RunError(f"{file}: damaged YAML{where} ({problem})") from None
    if not isinstance(value, dict):
        raise RunError(f"{file}: expected {expected}, found {type(value).__name__}")
    return value


# --------------------------------------------------------------------------- #
# Where runs live, and resuming one


def default_run_dir(
    config: Mapping,
    root: str | os.PathLike = "runs",
    now: datetime.datetime | None = None,
) -> Path:
    """`runs/<config name>-<YYYYmmdd-HHMMSS>`, made unique with a suffix."""
    now = now or datetime.datetime.now()
    base = Path(root) / f"{config['name']}-{now:%Y%m%d-%H%M%S}"
    candidate, number = base, 2
    while candidate.exists():
        candidate = base.with_name(f"{base.name}-{number}")
        number += 1
    return candidate


def new_run_dir(
    name: str, run_dir: str | os.PathLike | None = None, *, resume: bool = False
) -> Path:
    """The folder of a run about to start: `run_dir`, else
    `default_run_dir` for `name`; it must be new or empty unless `resume`.

    Raises:
        RunError: the folder exists and is not empty without `resume`.
    """
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir({"name": name})
    if not resume and run_dir.exists() and any(run_dir.iterdir()):
        raise RunError(
            f"run folder {run_dir} already exists and is not empty "
            "(use --resume to continue it, or another --run-dir)"
        )
    return run_dir


def latest_run_dir(name: str, root: str | os.PathLike = "runs") -> Path | None:
    """The most recently modified run folder of config `name`, if any."""
    root = Path(root)
    if not root.is_dir():
        return None
    runs = [p for p in root.glob(f"{name}-*") if (p / "config.yaml").is_file()]
    return max(runs, key=lambda p: p.stat().st_mtime, default=None)


def resume_config(
    run_dir: str | os.PathLike,
    overrides: Iterable[str] = (),
    *,
    epochs: int | None = None,
    requested: Mapping | None = None,
    compare_all: bool = False,
) -> dict:
    """The config to continue the run in `run_dir` with (`--resume`).

    A resumed run keeps its own `config.yaml`. Options given again must
    equal the run's values (so repeating the original command works); only
    `RESUMABLE_KEYS` may change. A run killed before its `config.yaml` was
    written continues with the `requested` config (the options given).

    Args:
        run_dir: The run folder.
        overrides: `KEY=VALUE` strings the user gave (`--set` and flags).
        epochs: A new `train.epochs` (to train an ended run further).
        requested: The config the options describe; used when the run has
            no `config.yaml` yet.
        compare_all: Compare every key of `requested` (the user named a
            config explicitly), not only the overridden ones.

    Raises:
        RunError: an option differs from the run's own value, or the run has
            no config and nothing was requested.
    """
    path = Path(run_dir)
    file = path / "config.yaml"
    if not file.is_file():
        if requested is None:
            raise RunError(f"cannot resume {path}: no config.yaml in it")
        config = validate_config(requested)
    else:
        own = read_config_file(file)
        config = validate_config(apply_overrides(own, overrides))
        others = [requested] if compare_all and requested is not None else []
        for given in [config, *others]:
            _refuse_changes(file, own, given)
        for section, values in own.items():  # "auto" was resolved: keep it
            if isinstance(values, Mapping):
                config[section].update(
                    {k: v for k, v in values.items() if config[section][k] == AUTO}
                )
    if epochs is not None:
        config["train"]["epochs"] = epochs
    return validate_config(config)


def _refuse_changes(file: Path, own: Mapping, given: Mapping) -> None:
    changed = [
        key
        for key, value in _flatten(given).items()
        if key not in RESUMABLE_KEYS
        and _flatten(own).get(key) != value
        and value != AUTO  # the run resolved it from the same data
    ]
    if changed:
        key = changed[0]
        raise RunError(
            f"cannot resume with {key}={_flatten(given)[key]!r}: the run has "
            f"{key}={_flatten(own).get(key)!r} ({file}); a resumed run keeps "
            f"its config, only {' and '.join(RESUMABLE_KEYS)} may change"
        )


def _flatten(config: Mapping) -> dict:
    flat = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            flat.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            flat[key] = value
    return flat


# --------------------------------------------------------------------------- #
# run.json


@dataclasses.dataclass
class Session:
    """One call of a training command (`fit`, `pretrain`): what its phases
    read. The commands subclass it with their own sections."""

    config: dict
    run_dir: Path
    resume: bool
    verbose: int | str
    log: Callable[[str], None]

    @property
    def checkpoints(self) -> Path:
        return self.run_dir / "checkpoints"


class RunRecord:
    """`run.json` and its status changes: started, resumed, epoch recorded,
    completed, failed. Every change is written at once (atomically).

    What the checkpoints prove is never lost: `started` keeps the epoch
    count of the latest checkpoint, even when the previous session died
    before it wrote `run.json` again.
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / "run.json"
        self.previous = read_json(self.path)
        self.info: dict = {}

    def started(self, **fields) -> dict:
        """A session starts (new or resumed): status `running`."""
        kept = ("created", "resumed", "epochs_completed", "wall_times_by_session")
        self.info = {k: v for k, v in self.previous.items() if k in kept}
        self.info.update(fields, status="running")
        self.info.setdefault("created", now())
        latest = latest_checkpoint(self.run_dir / "checkpoints")
        if latest is not None:
            self.info["epochs_completed"] = max(
                int(self.info.get("epochs_completed") or 0), latest[1]["epoch"]
            )
        return self._write()

    def resumed(self, from_epoch: int) -> dict:
        """The session continues from the checkpoint of `from_epoch`."""
        self.info["resumed"] = [
            *self.info.get("resumed", []),
            {"from_epoch": from_epoch, "at": now()},
        ]
        self.info["epochs_completed"] = from_epoch
        return self._write()

    def epoch_recorded(self, epochs_completed: int) -> dict:
        """An epoch ended and its checkpoint is on disk."""
        self.info["epochs_completed"] = epochs_completed
        return self._write()

    def completed(self, wall_times: Mapping, **fields) -> dict:
        """The run ended: status `completed`, the session's wall times."""
        self.info.update(fields, status="completed", finished=now())
        self.info["wall_times"] = dict(wall_times)
        self.info["wall_times_by_session"] = [
            *self.info.get("wall_times_by_session", []),
            dict(wall_times),
        ]
        return self._write()

    def failed(self, error: BaseException) -> dict | None:
        """The session raised: status `failed` with the error (if run.json
        exists; a run that failed before writing it stays empty)."""
        if not self.path.is_file():
            return None
        info = self.info or read_json(self.path)
        info.update(status="failed", error=f"{type(error).__name__}: {error}")
        self.info = info
        return self._write()

    def _write(self) -> dict:
        write_json(self.path, self.info)
        return self.info


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    utc = datetime.timezone.utc  # noqa: UP017 (datetime.UTC needs Python 3.11)
    return datetime.datetime.now(utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- #
# Checkpoints and history


def save_arrays(path: str | os.PathLike, arrays: Sequence[np.ndarray]) -> Path:
    """Write arrays to an `.npz` file atomically (`arr_0`, `arr_1`, ...)."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as file:
            np.savez(file, *[np.asarray(a) for a in arrays])
    return Path(path)


def load_arrays(path: str | os.PathLike) -> list[np.ndarray]:
    """The arrays of an `.npz` file written by `save_arrays`, in order."""
    with np.load(path) as arrays:
        return [arrays[f"arr_{index}"] for index in range(len(arrays.files))]


def save_checkpoint(
    checkpoints: str | os.PathLike,
    arrays: Sequence[np.ndarray],
    state: Mapping,
    keep: int = KEEP_CHECKPOINTS,
) -> Path:
    """Write `checkpoints/epoch-NNNN/` (variables.npz, state.json) atomically
    for `state["epoch"]`, and keep only the latest `keep` of them."""
    checkpoints = Path(checkpoints)
    final = checkpoints / f"epoch-{state['epoch']:04d}"
    with atomic_path(final) as temporary:
        temporary.mkdir(parents=True)
        save_arrays(temporary / "variables.npz", arrays)
        write_json(temporary / "state.json", dict(state))
        if final.exists():  # only after a resume re-ran this epoch
            shutil.rmtree(final)
    for old in checkpoint_dirs(checkpoints)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoint_dirs(checkpoints: str | os.PathLike) -> list[Path]:
    """The complete `epoch-NNNN` checkpoints, oldest first."""
    checkpoints = Path(checkpoints)
    if not checkpoints.is_dir():
        return []
    return sorted(
        p
        for p in checkpoints.glob("epoch-*")
        if p.is_dir() and (p / "state.json").is_file()
    )


def check_same_vocabulary(old: str | os.PathLike, new: str | os.PathLike) -> None:
    """A resumed run must rebuild the vocabulary it had (`vocab.txt`)."""
    if Path(old).read_bytes() != Path(new).read_bytes():
        raise RunError(
            f"cannot resume: the vocabulary rebuilt from the data differs from {old}"
        )


def latest_checkpoint(checkpoints: str | os.PathLike) -> tuple[Path, dict] | None:
    """The latest complete checkpoint folder and its state, if any."""
    for folder in reversed(checkpoint_dirs(checkpoints)):
        state = read_json(folder / "state.json")
        if isinstance(state.get("epoch"), int):
            return folder, state
    return None


def write_history(path: str | os.PathLike, history: Sequence[Mapping]) -> Path:
    """Write one CSV row per epoch (columns in order of appearance)."""
    columns: list[str] = []
    for row in history:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return write_text(path, buffer.getvalue())
