"""Training runs: the run folder, checkpoints, resume and determinism.

`fit(config)` trains the classifier a config describes and leaves a run
folder a user can trust and compare:

```
runs/<name>-<timestamp>/
  config.yaml        the resolved config (every key)
  run.json           versions, seeds, data fingerprint, wall times, device
  vocab.txt          the vectorizer's vocabulary, one token per line
  checkpoints/       epoch-NNNN/ (weights, optimizer, RNG and loop state)
  model.keras        end-to-end model: raw strings -> probabilities
  history.csv        one row per epoch
  metrics.json       test-split metrics (no timings, so runs compare exactly)
  tensorboard/       keras.callbacks.TensorBoard logs
  plots/             learning_curves.png, confusion_matrix.png
```

Every file is written under a temporary name and renamed into place, so a
run killed at any moment (even by SIGKILL) never leaves a half-written file;
`fit(config, run_dir, resume=True)` continues from the last complete epoch
with the optimizer state, the epoch counter, the dropout RNG state and the
early-stopping state restored. Each epoch shuffles with `seed + epoch`, so
a resumed run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import io
import json
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
import yaml
from keras import ops

from textlstm.config import (
    ConfigError,
    dump_config,
    explicit_values,
    validate_config,
)

__all__ = [
    "FitResult",
    "Run",
    "RunError",
    "Warmup",
    "atomic_path",
    "build_optimizer",
    "default_run_dir",
    "fit",
    "latest_run_dir",
    "read_run",
    "resume_config",
    "write_json",
    "write_text",
]

_KEEP_CHECKPOINTS = 2


class RunError(ValueError):
    """A run folder is missing, incomplete, or cannot be used as asked."""


# --------------------------------------------------------------------------- #
# Atomic files


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; rename it to `path` on success.

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
        if temporary.is_dir():
            shutil.rmtree(temporary, ignore_errors=True)
        elif temporary.exists():
            temporary.unlink()


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` to `path` atomically (temporary name, then rename)."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
    return Path(path)


def write_json(path: str | os.PathLike, value) -> Path:
    """Write `value` as indented JSON to `path` atomically."""
    return write_text(path, json.dumps(value, indent=2, sort_keys=False) + "\n")


# --------------------------------------------------------------------------- #
# Run folders


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
        RunError: the folder or one of the files is missing or unreadable.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"run folder not found: {path}")
    config = _read_run_file(path / "config.yaml", _parse_yaml, "a mapping of sections")
    info = _read_run_file(path / "run.json", json.loads, "a JSON object")
    if not isinstance(info.get("class_names"), list):
        raise RunError(f"{path / 'run.json'}: no class_names list")
    try:
        config = validate_config(config)
    except ConfigError as error:
        raise RunError(f"{path / 'config.yaml'}: {error}") from None
    return Run(path=path, config=config, info=info)


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


def _parse_yaml(text: str):
    return yaml.safe_load(text)


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


def latest_run_dir(name: str, root: str | os.PathLike = "runs") -> Path | None:
    """The most recently modified run folder of config `name`, if any."""
    root = Path(root)
    if not root.is_dir():
        return None
    runs = [p for p in root.glob(f"{name}-*") if (p / "config.yaml").is_file()]
    return max(runs, key=lambda p: p.stat().st_mtime, default=None)


def resume_config(run_dir: str | os.PathLike, epochs: int | None = None) -> dict:
    """The config of an existing run, to continue it (`--resume`).

    Args:
        run_dir: The run folder.
        epochs: A new `train.epochs` (to train an ended run further).
    """
    path = Path(run_dir)
    config_path = path / "config.yaml"
    if not config_path.is_file():
        raise RunError(f"cannot resume {path}: no config.yaml in it")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    if epochs is not None:
        config["train"]["epochs"] = epochs
    try:
        return validate_config(config)
    except ConfigError as error:
        raise RunError(f"{config_path}: {error}") from None


# --------------------------------------------------------------------------- #
# Training


@dataclasses.dataclass
class FitResult:
    """What `fit` returns.

    Attributes:
        run_dir: The run folder.
        metrics: The test metrics (content of `metrics.json`).
        history: One dict per epoch (content of `history.csv`).
        epochs_completed: Epochs trained in total, resumed ones included.
        stopped_early: Whether early stopping ended the run.
        resumed_from_epoch: The epoch count a resumed run started from.
        wall_time_s: Seconds this call took.
    """

    run_dir: Path
    metrics: dict
    history: list[dict]
    epochs_completed: int
    stopped_early: bool
    resumed_from_epoch: int | None
    wall_time_s: float


def fit(
    config: Mapping,
    run_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    verbose: int | str = "auto",
    log: Callable[[str], None] | None = None,
) -> FitResult:
    """Train the classifier `config` describes and fill a run folder.

    Args:
        config: A resolved config (`textlstm.config.load_config`).
        run_dir: The run folder; default `default_run_dir(config)`. It must
            be new or empty unless `resume`.
        resume: Continue the run in `run_dir` from its last checkpoint
            (from scratch if it has none yet).
        verbose: Keras progress output: 0 silent, 1 progress bar, 2 one
            line per epoch, `"auto"` 1.
        log: Called with one-line progress messages (data loading, ...).

    Returns:
        A `FitResult`.

    Raises:
        textlstm.data.DataError: the data cannot be read.
        RunError: `run_dir` exists and is not empty without `resume`.
    """
    started = time.perf_counter()
    log = log or (lambda message: None)
    config = validate_config(config)
    train = config["train"]
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(config)
    if not resume and run_dir.exists() and any(run_dir.iterdir()):
        raise RunError(
            f"run folder {run_dir} already exists and is not empty "
            "(use --resume to continue it, or another --run-dir)"
        )
    previous = _read_json(run_dir / "run.json") if resume else {}

    from textlstm import data as data_lib
    from textlstm import evaluation, models, text

    keras.utils.set_random_seed(train["seed"])
    if train["deterministic"]:
        tf.config.experimental.enable_op_determinism()
    previous_policy = keras.config.dtype_policy()
    if train["mixed_precision"]:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        strategy = _strategy(train["strategy"])
        log(f"Loading data ({config['data']['source']})")
        data_started = time.perf_counter()
        bundle = data_lib.load_dataset(
            explicit_values(config, "data"), seed=train["seed"]
        )
        train_texts = bundle.train.map(lambda text_, label: text_)
        vectorizer = text.build_vectorizer(config["text"], train_texts)
        data_seconds = time.perf_counter() - data_started
        class_names = list(bundle.class_names)

        run_dir.mkdir(parents=True, exist_ok=True)
        if resume and previous.get("data_fingerprint") not in (
            None,
            bundle.fingerprint,
        ):
            raise RunError(
                f"cannot resume {run_dir}: the data changed since the run started "
                f"(fingerprint {bundle.fingerprint}, run.json has "
                f"{previous['data_fingerprint']})"
            )
        write_text(run_dir / "config.yaml", dump_config(config))
        with atomic_path(run_dir / "vocab.txt") as temporary:
            vocabulary_size = text.write_vocabulary(vectorizer, temporary)
            if resume and (run_dir / "vocab.txt").is_file():
                _check_same_vocabulary(run_dir / "vocab.txt", temporary)
        info = {
            **{k: v for k, v in previous.items() if k in ("created", "resumed")},
            "name": config["name"],
            "status": "running",
            "created": previous.get("created") or _now(),
            "seed": train["seed"],
            "deterministic": train["deterministic"],
            "class_names": class_names,
            "data_fingerprint": bundle.fingerprint,
            "vocabulary_size": int(vocabulary_size),
            "device": None,
            "environment": _environment(strategy),
        }
        info["device"] = info["environment"]["device"]
        write_json(run_dir / "run.json", info)

        def batches(dataset, *, shuffle: bool, seed: int):
            return text.make_batches(
                dataset,
                vectorizer,
                train["batch_size"],
                shuffle=shuffle,
                seed=seed,
                bucketing=config["text"]["bucketing"],
            )

        validation = batches(bundle.validation, shuffle=False, seed=train["seed"])
        steps_per_epoch = math.ceil(_count(bundle.train) / train["batch_size"])
        with strategy.scope():
            classifier = models.build_classifier(
                config, vectorizer, num_classes=len(class_names)
            )
            classifier.compile(
                optimizer=build_optimizer(train, steps_per_epoch),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
                jit_compile=False,
            )
            classifier.optimizer.build(classifier.trainable_variables)

        loop = _LoopState()
        checkpoints = run_dir / "checkpoints"
        resumed_from = None
        if resume:
            restored = _restore_checkpoint(checkpoints, classifier)
            if restored is not None:
                loop = restored
                resumed_from = loop.epoch
                info["resumed"] = [
                    *info.get("resumed", []),
                    {"from_epoch": loop.epoch, "at": _now()},
                ]
                log(f"Resuming {run_dir} after epoch {loop.epoch}")
        _remove_temporaries(checkpoints)

        callbacks = [
            keras.callbacks.TensorBoard(
                log_dir=str(run_dir / "tensorboard"), write_graph=False, profile_batch=0
            )
        ]
        if verbose:
            callbacks.append(_Progress(train["epochs"]))
        training_started = time.perf_counter()
        while loop.epoch < train["epochs"] and not loop.stopped_early:
            epoch = loop.epoch
            epoch_started = time.perf_counter()
            learning_rate = _current_learning_rate(classifier.optimizer)
            with warnings.catch_warnings():
                # Each epoch is a fresh dataset of unknown length; Keras warns
                # when it ends, which is exactly what should happen.
                warnings.filterwarnings("ignore", message="Your input ran out of data")
                history = classifier.fit(
                    batches(bundle.train, shuffle=True, seed=train["seed"] + epoch),
                    validation_data=validation,
                    initial_epoch=epoch,
                    epochs=epoch + 1,
                    callbacks=callbacks,
                    verbose=verbose,
                    shuffle=False,  # batches() shuffles with seed + epoch
                )
            row = {"epoch": epoch + 1}
            row.update({k: _round(v[-1]) for k, v in history.history.items()})
            row["learning_rate"] = learning_rate
            row["seconds"] = round(time.perf_counter() - epoch_started, 3)
            loop.history.append(row)
            loop.epoch = epoch + 1
            if loop.observe(row, train, classifier, checkpoints):
                log(
                    f"Early stopping after epoch {loop.epoch}: "
                    f"{train['early_stopping_monitor']} did not improve for "
                    f"{train['early_stopping_patience']} epochs"
                )
            _save_checkpoint(checkpoints, classifier, loop)
            _write_history(run_dir / "history.csv", loop.history)
            info["epochs_completed"] = loop.epoch
            write_json(run_dir / "run.json", info)
        training_seconds = time.perf_counter() - training_started

        if train["restore_best_weights"] and (checkpoints / "best.npz").is_file():
            _load_variables(checkpoints / "best.npz", classifier.variables)
            log(f"Restored the weights of epoch {loop.best_epoch}")

        log("Evaluating on the test split")
        evaluation_started = time.perf_counter()
        test = batches(bundle.test, shuffle=False, seed=train["seed"])
        metrics = evaluation.evaluate_model(classifier, test, class_names, "test")
        validation_metrics = evaluation.evaluate_model(
            classifier, validation, class_names, "validation"
        )
        metrics["validation"] = {
            key: validation_metrics[key]
            for key in ("num_examples", "loss", "accuracy", "macro_f1")
        }
        metrics["epochs_completed"] = loop.epoch
        evaluation_seconds = time.perf_counter() - evaluation_started
        write_json(run_dir / "metrics.json", metrics)

        text_model = models.build_text_classifier(vectorizer, classifier)
        with atomic_path(run_dir / "model.keras") as temporary:
            text_model.save(temporary)
        if loop.history:
            _write_history(run_dir / "history.csv", loop.history)
            evaluation.plot_learning_curves(
                loop.history, run_dir / "plots" / "learning_curves.png"
            )
        evaluation.plot_confusion_matrix(
            metrics["confusion_matrix"],
            class_names,
            run_dir / "plots" / "confusion_matrix.png",
            title=f"{config['name']}: test split ({metrics['num_examples']} texts)",
        )
        wall_times = {
            "data_s": round(data_seconds, 3),
            "training_s": round(training_seconds, 3),
            "evaluation_s": round(evaluation_seconds, 3),
            "total_s": round(time.perf_counter() - started, 3),
        }
        info.update(
            status="completed",
            finished=_now(),
            epochs_completed=loop.epoch,
            stopped_early=loop.stopped_early,
            best_epoch=loop.best_epoch,
            num_examples={
                "train": _count(bundle.train),
                "validation": validation_metrics["num_examples"],
                "test": metrics["num_examples"],
            },
            kernel_paths=_kernel_paths(classifier),
            wall_times=wall_times,
            wall_times_by_session=[
                *previous.get("wall_times_by_session", []),
                wall_times,
            ],
        )
        write_json(run_dir / "run.json", info)
    except BaseException as error:
        if run_dir.is_dir() and (run_dir / "run.json").is_file():
            failed = _read_json(run_dir / "run.json")
            failed.update(status="failed", error=f"{type(error).__name__}: {error}")
            write_json(run_dir / "run.json", failed)
        raise
    finally:
        keras.config.set_dtype_policy(previous_policy)

    return FitResult(
        run_dir=run_dir,
        metrics=metrics,
        history=loop.history,
        epochs_completed=loop.epoch,
        stopped_early=loop.stopped_early,
        resumed_from_epoch=resumed_from,
        wall_time_s=time.perf_counter() - started,
    )


def build_optimizer(train: Mapping, steps_per_epoch: int):
    """The optimizer and learning-rate schedule of a config's `train` section.

    Args:
        train: The `train` section.
        steps_per_epoch: Batches per epoch (sets schedule lengths).

    Returns:
        A `keras.optimizers.Optimizer`.
    """
    schedules = keras.optimizers.schedules
    rate = train["learning_rate"]
    steps_per_epoch = max(int(steps_per_epoch), 1)
    total_steps = steps_per_epoch * train["epochs"]
    warmup_steps = int(round(train["warmup_epochs"] * steps_per_epoch))
    if train["lr_schedule"] == "cosine":
        learning_rate = schedules.CosineDecay(
            0.0 if warmup_steps else rate,
            decay_steps=max(total_steps - warmup_steps, 1),
            warmup_target=rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    elif train["lr_schedule"] == "exponential":
        learning_rate = Warmup(
            schedules.ExponentialDecay(
                rate,
                decay_steps=steps_per_epoch,
                decay_rate=train["lr_decay_rate"],
                staircase=True,
            ),
            warmup_steps,
        )
    else:
        learning_rate = Warmup(rate, warmup_steps) if warmup_steps else rate
    common = {"learning_rate": learning_rate, "clipnorm": train["clipnorm"]}
    name = train["optimizer"]
    if name == "adamw":
        return keras.optimizers.AdamW(weight_decay=train["weight_decay"], **common)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(momentum=train["momentum"], **common)
    if name == "sgd":
        return keras.optimizers.SGD(momentum=train["momentum"], **common)
    return keras.optimizers.Adam(**common)


@keras.saving.register_keras_serializable(package="textlstm")
class Warmup(keras.optimizers.schedules.LearningRateSchedule):
    """Linear learning-rate warm-up over `warmup_steps`, then `schedule`.

    Args:
        schedule: A float or a `LearningRateSchedule`.
        warmup_steps: Steps over which the rate grows linearly to
            `schedule(step)`.
    """

    def __init__(self, schedule, warmup_steps: int):
        self.schedule = schedule
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        if callable(self.schedule):
            rate = ops.cast(self.schedule(step), "float32")
        else:
            rate = ops.convert_to_tensor(self.schedule, "float32")
        if not self.warmup_steps:
            return rate
        return rate * ops.minimum(1.0, (step + 1.0) / float(self.warmup_steps))

    def get_config(self):
        schedule = self.schedule
        if callable(schedule):
            schedule = keras.saving.serialize_keras_object(schedule)
        return {"schedule": schedule, "warmup_steps": self.warmup_steps}

    @classmethod
    def from_config(cls, config):
        schedule = config["schedule"]
        if isinstance(schedule, dict):
            schedule = keras.saving.deserialize_keras_object(schedule)
        return cls(schedule, config["warmup_steps"])


# --------------------------------------------------------------------------- #
# Loop state and checkpoints


@dataclasses.dataclass
class _LoopState:
    """What a checkpoint holds besides variables (saved as state.json)."""

    epoch: int = 0
    history: list = dataclasses.field(default_factory=list)
    best_value: float | None = None
    best_epoch: int | None = None
    wait: int = 0
    stopped_early: bool = False

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
                _save_variables(checkpoints / "best.npz", model.variables)
        else:
            self.wait += 1
        patience = train["early_stopping_patience"]
        self.stopped_early = bool(patience) and self.wait >= patience
        return self.stopped_early


def _checkpoint_variables(model) -> list:
    return list(model.variables) + list(model.optimizer.variables)


def _save_variables(path: Path, variables) -> None:
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as file:
            np.savez(file, *[np.asarray(v.numpy()) for v in variables])


def _load_variables(path: Path, variables) -> None:
    with np.load(path) as arrays:
        values = [arrays[f"arr_{index}"] for index in range(len(arrays.files))]
    if len(values) != len(variables) or any(
        tuple(v.shape) != a.shape for v, a in zip(variables, values)
    ):
        raise RunError(
            f"{path}: the checkpoint does not match the model of config.yaml "
            "(was the config changed?)"
        )
    for variable, value in zip(variables, values):
        variable.assign(value)


def _save_checkpoint(checkpoints: Path, model, loop: _LoopState) -> None:
    final = checkpoints / f"epoch-{loop.epoch:04d}"
    with atomic_path(final) as temporary:
        temporary.mkdir(parents=True)
        _save_variables(temporary / "variables.npz", _checkpoint_variables(model))
        write_json(temporary / "state.json", dataclasses.asdict(loop))
        if final.exists():  # only after a resume re-ran this epoch
            shutil.rmtree(final)
    for old in _checkpoint_dirs(checkpoints)[:-_KEEP_CHECKPOINTS]:
        shutil.rmtree(old, ignore_errors=True)


def _restore_checkpoint(checkpoints: Path, model) -> _LoopState | None:
    found = _checkpoint_dirs(checkpoints)
    if not found:
        return None
    latest = found[-1]
    state = json.loads((latest / "state.json").read_text(encoding="utf-8"))
    _load_variables(latest / "variables.npz", _checkpoint_variables(model))
    return _LoopState(**state)


def _checkpoint_dirs(checkpoints: Path) -> list[Path]:
    if not checkpoints.is_dir():
        return []
    return sorted(
        p
        for p in checkpoints.glob("epoch-*")
        if p.is_dir() and (p / "state.json").is_file()
    )


def _remove_temporaries(folder: Path) -> None:
    if folder.is_dir():
        for leftover in folder.glob(".tmp-*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def _check_same_vocabulary(old: Path, new: Path) -> None:
    if old.read_bytes() != Path(new).read_bytes():
        raise RunError(
            f"cannot resume: the vocabulary rebuilt from the data differs from {old}"
        )


def _write_history(path: Path, history: list[dict]) -> None:
    columns = []
    for row in history:
        columns += [key for key in row if key not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_text(path, buffer.getvalue())


# --------------------------------------------------------------------------- #
# Helpers


class _Progress(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, showing `Epoch k/total` across per-epoch fits."""

    def __init__(self, total_epochs: int):
        super().__init__()
        self.total_epochs = total_epochs

    def set_params(self, params):
        super().set_params({**params, "epochs": self.total_epochs})


def _strategy(name: str):
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _count(dataset) -> int:
    cardinality = int(dataset.cardinality())
    if cardinality >= 0:
        return cardinality
    return int(dataset.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))


def _current_learning_rate(optimizer) -> float:
    return _round(np.asarray(optimizer.learning_rate))


def _round(value) -> float:
    return round(float(value), 8)


def _kernel_paths(model) -> dict:
    paths = {}
    for layer in model._flatten_layers(include_self=False):
        path = getattr(layer, "kernel_path", None)
        if path is not None:
            paths[layer.name] = path
    return paths


def _environment(strategy) -> dict:
    from textlstm.info import collect_info

    info = collect_info()
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    info["device"] = ", ".join(gpus) if gpus else f"CPU ({info['cpu_count']} cores)"
    info["strategy"] = type(strategy).__name__.lstrip("_")
    info["replicas"] = int(strategy.num_replicas_in_sync)
    return info


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _now() -> str:
    utc = datetime.timezone.utc  # noqa: UP017 (datetime.UTC needs Python 3.11)
    return datetime.datetime.now(utc).isoformat(timespec="seconds")
