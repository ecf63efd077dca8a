"""Training: `fit(config)` as phases (data, model, loop, evaluation, saving).

`fit(config)` trains the classifier a config describes and fills a run
folder (its layout and its atomic writes are `textlstm.runs`'). A run
killed at any moment (even by SIGKILL) can be continued with
`fit(config, run_dir, resume=True)`: from the last complete epoch, with the
optimizer state, the epoch counter, the dropout RNG state and the
early-stopping state restored. Each epoch shuffles with `seed + epoch`, so
a resumed run sees the same batches as an uninterrupted one.

The phases, each a function below: `_load_data` (the dataset and the
vectorizer), `_start_run` (config.yaml, vocab.txt, run.json),
`_build_model` (the compiled classifier, restored from a checkpoint when
resuming), `_train` (one `keras.Model.fit` per epoch, a checkpoint after
each), `_evaluate` (test and validation metrics) and `_save` (model.keras,
history, plots, the final run.json).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import keras
import numpy as np

from textlstm import evaluation, text
from textlstm import model as models
from textlstm.cluster import read_cluster
from textlstm.cluster.workers import WorkerRole, require_run_dir
from textlstm.config import dump_config, validate_config
from textlstm.model import ngrams
from textlstm.model.transfer import init_encoder
from textlstm.runs import (
    Run,
    RunError,
    RunRecord,
    Session,
    atomic_path,
    check_same_vocabulary,
    default_run_dir,
    latest_run_dir,
    new_run_dir,
    read_json,
    read_run,
    remove_stale_temporaries,
    resume_config,
    save_checkpoint,
    write_history,
    write_json,
    write_text,
)
from textlstm.text.batching import count_examples
from textlstm.training import adversarial, distributed, pairing, unfreezing
from textlstm.training.checkpoints import (
    LoopState,
    checkpoint_variables,
    load_variables,
    restore_checkpoint,
    to_numpy,
)
from textlstm.training.environment import kernel_paths, run_environment
from textlstm.training.optimizers import Warmup, build_optimizer
from textlstm.training.preparation import PreparedData, prepare_data
from textlstm.training.progress import EpochProgress, training_settings

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
        RunError: `run_dir` exists and is not empty without `resume`, or
            the data, vocabulary or model differ from the resumed run's.
    """
    started = time.perf_counter()
    config = validate_config(config)
    cluster = read_cluster() if config["train"]["strategy"] == "multi_worker" else None
    require_run_dir(run_dir, cluster)
    strategy = distributed.create_strategy(config["train"], cluster)  # first TF use
    chief = cluster is None or cluster.is_chief  # only the chief checks it
    shared = new_run_dir(config["name"], run_dir, resume=resume) if chief else None
    role = WorkerRole(cluster, shared or Path(run_dir))
    session = _Session(
        config=config,
        run_dir=role.run_dir(resume),
        resume=resume,
        verbose=verbose if role.is_chief else 0,
        log=(log or (lambda message: None)) if role.is_chief else (lambda m: None),
    )
    record = RunRecord(session.run_dir)
    loop = LoopState()
    with training_settings(session.config["train"]):
        try:
            data = _load_data(session)
            _start_run(session, data, record, strategy)
            model, loop = _build_model(session, data, record, strategy)
            distributed.check_agreement(strategy, role.num_workers, loop.epoch, data)
            session.training_seconds = _train(
                session, data, model, loop, record, strategy
            )
            metrics, wall_times, info = _finish(
                session, data, model, loop, strategy, role, started
            )
            record.completed(wall_times, **info)
            distributed.barrier(strategy, role.num_workers)  # the chief has saved
        except distributed.PEER_ERRORS as error:
            failure = distributed.peer_error(error, loop.epoch)
            record.failed(failure)
            raise failure from None
        except BaseException as error:
            record.failed(error)
            raise
        finally:
            role.cleanup()
    return FitResult(
        run_dir=role.shared_run_dir,
        metrics=metrics,
        history=loop.history,
        epochs_completed=loop.epoch,
        stopped_early=loop.stopped_early,
        resumed_from_epoch=loop.resumed_from,
        wall_time_s=time.perf_counter() - started,
    )


def _finish(session, data, model, loop, strategy, role, started):
    """Phases 5 and 6 on the chief (test metrics, model.keras, plots), on a
    single-device copy of a distributed `model`.

    Returns:
        `(metrics, wall times, run.json fields)`; all empty on a worker that
        is not the chief.
    """
    report = None
    if role.num_workers > 1:
        report = distributed.worker_report(
            strategy,
            role.num_workers,
            role.cluster,
            data=data,
            local_examples=session.local_examples,
            seconds=time.perf_counter() - started,
        )
    if not role.is_chief:
        return {}, {}, {}
    if session.train["strategy"] != "default":
        model = distributed.single_device_copy(session.config, data, model)
    metrics, evaluation_seconds = _evaluate(session, data, model, loop)
    _save(session, data, model, loop, metrics)
    wall_times = {
        "data_s": round(data.seconds, 3),
        "training_s": round(session.training_seconds, 3),
        "evaluation_s": round(evaluation_seconds, 3),
        "total_s": round(time.perf_counter() - started, 3),
    }
    info = _final_info(data, model, loop, metrics)
    if session.ngrams:
        info["ngram_model"] = session.ngrams[1]
    if report is not None:
        info["cluster"] = {**role.cluster.describe(), "workers": report}
    return metrics, wall_times, info


class _Session(Session):
    """One call of `fit`: what every phase reads."""

    training_seconds: float = 0.0  # set by fit after phase 4
    ngrams: tuple | None = None  # (model, report) of model.ngram_ensemble
    local_examples: int = 0  # examples this worker trained on in an epoch

    @property
    def train(self) -> dict:
        return self.config["train"]

    @property
    def standardizer_version(self) -> int:
        """The current rules, or a resumed run's own (1 if it predates them)."""
        previous = read_json(self.run_dir / "run.json") if self.resume else {}
        if not previous:
            return text.STANDARDIZER_VERSION
        return int(previous.get("standardizer_version", 1))


# --------------------------------------------------------------------------- #
# Phases


def _load_data(session: _Session) -> PreparedData:
    """Phase 1: the dataset's splits and a vectorizer adapted to train
    (`auto` sizes resolved into the session's config)."""
    data = prepare_data(
        session.config,
        standardizer_version=session.standardizer_version,
        log=session.log,
    )
    session.config["text"] = data.text
    data.static = distributed.static_shapes(session.train)
    return data


def _start_run(
    session: _Session, data: PreparedData, record: RunRecord, strategy
) -> None:
    """Phase 2: config.yaml, vocab.txt and run.json (status `running`);
    a resumed run must see the same data and vocabulary as before."""
    run_dir = session.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = record.previous.get("data_fingerprint")
    if session.resume and fingerprint not in (None, data.bundle.fingerprint):
        raise RunError(
            f"cannot resume {run_dir}: the data changed since the run started "
            f"(fingerprint {data.bundle.fingerprint}, run.json has {fingerprint})"
        )
    write_text(run_dir / "config.yaml", dump_config(session.config))
    with atomic_path(run_dir / "vocab.txt") as temporary:
        vocabulary_size = text.write_vocabulary(data.vectorizer, temporary)
        if session.resume and (run_dir / "vocab.txt").is_file():
            check_same_vocabulary(run_dir / "vocab.txt", temporary)
    environment = run_environment(strategy)
    record.started(
        name=session.config["name"],
        seed=session.train["seed"],
        strategy=session.train["strategy"],
        deterministic=session.train["deterministic"],
        class_names=data.class_names,
        data_fingerprint=data.bundle.fingerprint,
        vocabulary_size=int(vocabulary_size),
        embeddings=data.pretrained and data.pretrained.summary(),
        standardizer_version=data.vectorizer.standardizer_version,
        text_sizing=data.sizing or None,
        reading_data=data.reading,
        device=environment["device"],
        environment=environment,
    )


def _build_model(session: _Session, data: PreparedData, record: RunRecord, strategy):
    """Phase 3: the compiled classifier and its loop state, both restored
    from the latest checkpoint when resuming."""
    steps_per_epoch = math.ceil(count_examples(data.bundle.train) / data.batch_size)
    with strategy.scope():
        model = models.build_classifier(
            session.config,
            data.vectorizer,
            num_classes=len(data.class_names),
            embeddings=data.pretrained,
        )
        init_encoder(model, session.config)  # model.init_from, if set
        train = session.train
        if train["strategy"] != "default":  # DistributedTrainer clips the sum
            train = {**train, "clipnorm": None}
        model.compile(
            optimizer=build_optimizer(train, steps_per_epoch),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=train["jit_compile"],
        )
        model.optimizer.build(model.trainable_variables)
        if train["adversarial"]:
            adversarial.install(model, train["adversarial"])
        if train["pair_loss"]:
            pairing.install(model, train["pair_loss"])
    loop = LoopState()
    if session.resume:
        restored = restore_checkpoint(session.checkpoints, model)
        if restored is not None:
            loop = restored
            loop.resumed_from = loop.epoch
            record.resumed(loop.epoch)
            session.log(f"Resuming {session.run_dir} after epoch {loop.epoch}")
    remove_stale_temporaries(session.checkpoints)
    return model, loop


def _train(
    session: _Session, data: PreparedData, model, loop, record: RunRecord, strategy
) -> float:
    """Phase 4: one `Model.fit` per epoch (under a strategy,
    `distributed.train_epochs`), then a checkpoint, history.csv and
    run.json; ends at `train.epochs` or when early stopping says so."""
    train = session.train
    if train["strategy"] != "default":
        return distributed.train_epochs(
            session, data, model, loop, record, strategy, _end_epoch
        )
    callbacks = [
        keras.callbacks.TensorBoard(
            log_dir=str(session.run_dir / "tensorboard"),
            write_graph=False,
            profile_batch=0,
        )
    ]
    if session.verbose:
        callbacks.append(EpochProgress(train["epochs"]))
    validation = data.batches(data.bundle.validation, seed=train["seed"])
    pairs = pairing.pairs_for_training(session.config, data)
    started = time.perf_counter()
    while loop.epoch < train["epochs"] and not loop.stopped_early:
        epoch_started = time.perf_counter()
        frozen = unfreezing.apply(model, session.config, loop.epoch)
        if frozen:
            which = (
                "lowest layer group" if frozen == 1 else f"{frozen} lowest layer groups"
            )
            session.log(
                f"Epoch {loop.epoch + 1}: the {which} frozen (gradual unfreezing)"
            )
        learning_rate = _current_learning_rate(model.optimizer)
        with warnings.catch_warnings():
            # Each epoch is a fresh dataset of unknown length; Keras warns
            # when it ends, which is exactly what should happen.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            batches = data.batches(
                data.bundle.train, shuffle=True, seed=train["seed"] + loop.epoch
            )
            history = model.fit(
                batches if pairs is None else pairing.with_pairs(batches, pairs),
                validation_data=validation,
                initial_epoch=loop.epoch,
                epochs=loop.epoch + 1,
                callbacks=callbacks,
                verbose=session.verbose,
                shuffle=False,  # batches() shuffles with seed + epoch
            )
        row = {"epoch": loop.epoch + 1}
        row.update({k: _round(v[-1]) for k, v in history.history.items()})
        row["learning_rate"] = learning_rate
        row["seconds"] = round(time.perf_counter() - epoch_started, 3)
        _end_epoch(session, model, loop, row)
        record.epoch_recorded(loop.epoch)
    unfreezing.apply(model, session.config)  # the saved model freezes nothing
    return time.perf_counter() - started


def _end_epoch(session: _Session, model, loop: LoopState, row: dict) -> None:
    loop.history.append(row)
    loop.epoch += 1
    if loop.observe(row, session.train, model, session.checkpoints):
        session.log(
            f"Early stopping after epoch {loop.epoch}: "
            f"{session.train['early_stopping_monitor']} did not improve for "
            f"{session.train['early_stopping_patience']} epochs"
        )
    save_checkpoint(
        session.checkpoints, to_numpy(checkpoint_variables(model)), loop.to_json()
    )
    write_history(session.run_dir / "history.csv", loop.history)


def _evaluate(session: _Session, data: PreparedData, model, loop) -> tuple[dict, float]:
    """Phase 5: test metrics (with the best weights when asked), plus a
    validation summary; first the n-gram model, with `model.ngram_ensemble`."""
    started = time.perf_counter()
    best = session.checkpoints / "best.npz"
    if session.train["restore_best_weights"] and best.is_file():
        load_variables(best, model.variables)
        session.log(f"Restored the weights of epoch {loop.best_epoch}")
    seed, parts, weight = session.train["seed"], [model], 0.0
    validation = data.batches(data.bundle.validation, seed=seed)
    if session.config["model"]["ngram_ensemble"]:
        session.ngrams = ngrams.fit_ngram_model(
            session.config,
            data.batches(data.bundle.train, shuffle=True, seed=seed),
            validation,
            vocabulary_size=int(data.vectorizer.vocabulary_size()),
            num_classes=len(data.class_names),
            log=session.log,
        )
        parts.append(session.ngrams[0])
        report = evaluation.mixture_weight(
            parts, session.config["model"]["ngram_weight"], validation
        )
        session.ngrams[1].update(report)
        weight = report["weight"]
        session.log(f"The n-gram model's share: {weight} ({report['chosen']})")
    session.log("Evaluating on the test split")
    test = data.batches(data.bundle.test, seed=seed)
    metrics = evaluation.evaluate_mixture(parts, weight, test, data.class_names)
    summary = evaluation.evaluate_mixture(parts, weight, validation, data.class_names)
    keys = ("num_examples", "loss", "accuracy", "macro_f1", "components")
    metrics["validation"] = {k: summary[k] for k in keys if k in summary}
    metrics["epochs_completed"] = loop.epoch
    return metrics, time.perf_counter() - started


def _save(session: _Session, data: PreparedData, model, loop, metrics: dict) -> None:
    """Phase 6: metrics.json, model.keras, history.csv and the plots."""
    run_dir = session.run_dir
    write_json(run_dir / "metrics.json", metrics)
    text_model = models.build_text_classifier(
        data.vectorizer,
        model,
        ngrams=session.ngrams and session.ngrams[0],
        weight=session.ngrams[1]["weight"] if session.ngrams else 0.5,
    )
    with atomic_path(run_dir / "model.keras") as temporary:
        text_model.save(temporary)
    if loop.history:
        write_history(run_dir / "history.csv", loop.history)
        evaluation.plot_learning_curves(
            loop.history, run_dir / "plots" / "learning_curves.png"
        )
    evaluation.plot_confusion_matrix(
        metrics["confusion_matrix"],
        data.class_names,
        run_dir / "plots" / "confusion_matrix.png",
        title=f"{session.config['name']}: test split ({metrics['num_examples']} texts)",
    )


def _final_info(data: PreparedData, model, loop, metrics: dict) -> dict:
    return {
        "epochs_completed": loop.epoch,
        "stopped_early": loop.stopped_early,
        "best_epoch": loop.best_epoch,
        "num_examples": {
            "train": count_examples(data.bundle.train),
            "validation": metrics["validation"]["num_examples"],
            "test": metrics["num_examples"],
        },
        "kernel_paths": kernel_paths(model),
    }


# --------------------------------------------------------------------------- #
# Helpers


def _current_learning_rate(optimizer) -> float:
    return _round(np.asarray(optimizer.learning_rate))


def _round(value) -> float:
    return round(float(value), 8)
