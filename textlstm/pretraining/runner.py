"""`pretrain(config)`: the encoder as a language model, in a run folder.

The phases, each a function below: `_load_texts` (the texts and a
vectorizer adapted to them), `_start_run` (config.yaml, vocab.txt,
vectorizer.json, run.json), `_build_model` (the compiled language model,
restored from a checkpoint when resuming), `_train` (one `keras.Model.fit`
per epoch, a checkpoint after each), `_evaluate` (held-out loss and
perplexity, full softmax) and `_save` (encoder.npz, metrics.json).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from textlstm import text
from textlstm.config import ConfigError, dump_config, validate_config
from textlstm.model.embeddings import embeddings_for_config
from textlstm.model.transfer import (
    ENCODER_FILE,
    VECTORIZER_FILE,
    encoder_layer_names,
    save_encoder,
)
from textlstm.pretraining.language_model import build_language_model
from textlstm.pretraining.texts import PretrainTexts, load_pretraining_texts
from textlstm.runs import (
    RunError,
    RunRecord,
    Session,
    new_run_dir,
    remove_stale_temporaries,
    save_checkpoint,
    write_history,
    write_json,
    write_text,
)
from textlstm.text.batching import make_batches
from textlstm.text.sizing import resolve_text_sizes
from textlstm.training.checkpoints import (
    LoopState,
    checkpoint_variables,
    restore_checkpoint,
    to_numpy,
)
from textlstm.training.environment import run_environment
from textlstm.training.optimizers import build_optimizer
from textlstm.training.progress import EpochProgress

__all__ = ["PretrainResult", "check_pretrain_config", "pretrain"]


@dataclasses.dataclass
class PretrainResult:
    """What `pretrain` returns.

    Attributes:
        run_dir: The run folder.
        metrics: The held-out metrics (content of `metrics.json`).
        history: One dict per epoch (content of `history.csv`).
        epochs_completed: Epochs trained in total, resumed ones included.
        resumed_from_epoch: The epoch count a resumed run started from.
        wall_time_s: Seconds this call took.
    """

    run_dir: Path
    metrics: dict
    history: list[dict]
    epochs_completed: int
    resumed_from_epoch: int | None
    wall_time_s: float


def pretrain(
    config: Mapping,
    run_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    verbose: int | str = "auto",
    log: Callable[[str], None] | None = None,
) -> PretrainResult:
    """Train `config`'s encoder as a next-token language model.

    The embedding and recurrent layers are those `build_classifier` builds
    for `config`; after training, `encoder.npz` in the run folder holds
    their weights by layer name, ready for a classifier with
    `model.init_from: <run folder>`. The texts: the training split of
    `data` plus `pretrain.unlabeled` (never the test split), minus a
    held-out share for perplexity. The optimizer is `train.optimizer`'s at
    `pretrain.learning_rate`. TensorFlow backend only (the sampled
    softmax is `tf.nn.sampled_softmax_loss`); float32 only.

    Args:
        config: A resolved config (`textlstm.config.load_config`).
        run_dir: The run folder; default `runs/pretrain-<name>-<timestamp>`.
            It must be new or empty unless `resume`.
        resume: Continue the run in `run_dir` from its last checkpoint (the
            same seed gives the same weights as an uninterrupted run).
        verbose: Keras progress output: 0 silent, 1 progress bar, 2 one
            line per epoch, `"auto"` 1.
        log: Called with one-line progress messages.

    Returns:
        A `PretrainResult`.

    Raises:
        ConfigError: the config asks for what pretraining cannot do.
        textlstm.data.DataError: the texts cannot be read.
        RunError: `run_dir` is not empty without `resume`, or the texts
            changed since the resumed run started.
    """
    started = time.perf_counter()
    config = check_pretrain_config(validate_config(config))
    session = _Session(
        config=config,
        run_dir=new_run_dir(f"pretrain-{config['name']}", run_dir, resume=resume),
        resume=resume,
        verbose=verbose,
        log=log or (lambda message: None),
    )
    record = RunRecord(session.run_dir)
    _seed(config["train"])
    try:
        texts, vectorizer = _load_texts(session)
        _start_run(session, texts, vectorizer, record)
        model, loop = _build_model(session, texts, vectorizer, record)
        training_seconds, last_loss = _train(
            session, texts, vectorizer, model, loop, record
        )
        metrics = _evaluate(session, texts, vectorizer, model, loop, last_loss)
        _save(session, model, metrics)
        wall_times = {
            "training_s": round(training_seconds, 3),
            "total_s": round(time.perf_counter() - started, 3),
        }
        record.completed(wall_times, epochs_completed=loop.epoch)
    except BaseException as error:
        record.failed(error)
        raise
    return PretrainResult(
        run_dir=session.run_dir,
        metrics=metrics,
        history=loop.history,
        epochs_completed=loop.epoch,
        resumed_from_epoch=loop.resumed_from,
        wall_time_s=time.perf_counter() - started,
    )


def check_pretrain_config(config: Mapping) -> dict:
    """The config, if `pretrain` can train its encoder (else ConfigError).

    A bidirectional encoder would see the token it is asked to predict,
    and the loop runs in float32 on one device.
    """
    if config["model"]["bidirectional"]:
        raise ConfigError(
            "model.bidirectional: pretrain trains a forward language model; "
            "a bidirectional encoder would see the next token (use false)"
        )
    if config["train"]["mixed_precision"]:
        raise ConfigError(
            "train.mixed_precision: not supported by pretrain (use false)"
        )
    if config["train"]["strategy"] != "default":
        raise ConfigError("train.strategy: pretrain supports 'default' only")
    return dict(config)


class _Session(Session):
    """One call of `pretrain`: what every phase reads."""

    @property
    def pretrain(self) -> dict:
        return self.config["pretrain"]

    def batches(self, vectorizer, texts: list[str], *, shuffle=False, seed=0):
        """Batches of `(token ids, 0)` (the labels are unused)."""
        pairs = tf.data.Dataset.from_tensor_slices(
            (tf.constant(texts, tf.string), tf.zeros([len(texts)], tf.int64))
        )
        return make_batches(
            pairs,
            vectorizer,
            self.pretrain["batch_size"],
            shuffle=shuffle,
            seed=seed,
            bucketing=self.config["text"]["bucketing"],
        )


def _seed(train: Mapping) -> None:
    """The seed and op determinism of one `pretrain` call."""
    keras.utils.set_random_seed(train["seed"])
    if train["deterministic"]:
        tf.config.experimental.enable_op_determinism()


# --------------------------------------------------------------------------- #
# Phases


def _load_texts(session: _Session):
    """Phase 1: the texts and a vectorizer adapted to the training ones."""
    session.log(f"Loading texts ({session.config['data']['source']})")
    texts = load_pretraining_texts(session.config)
    train_texts = tf.data.Dataset.from_tensor_slices(texts.train)
    text_section, sizing = resolve_text_sizes(session.config["text"], train_texts)
    for key, report in sizing.items():
        session.log(f"text.{key}: auto -> {report['value']}")
    session.config["text"] = text_section
    return texts, text.build_vectorizer(text_section, train_texts)


def _start_run(session: _Session, texts: PretrainTexts, vectorizer, record) -> None:
    """Phase 2: config.yaml, vocab.txt, vectorizer.json and run.json; a
    resumed run must see the same texts as before."""
    run_dir = session.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = record.previous.get("data_fingerprint")
    if session.resume and fingerprint not in (None, texts.fingerprint):
        raise RunError(
            f"cannot resume {run_dir}: the texts changed since the run started "
            f"(fingerprint {texts.fingerprint}, run.json has {fingerprint})"
        )
    write_text(run_dir / "config.yaml", dump_config(session.config))
    vocabulary_size = text.write_vocabulary(vectorizer, run_dir / "vocab.txt")
    settings = {k: v for k, v in vectorizer.get_config().items() if k != "vocabulary"}
    write_json(run_dir / VECTORIZER_FILE, settings)
    info = run_environment(tf.distribute.get_strategy())
    record.started(
        kind="pretrain",
        name=session.config["name"],
        seed=session.config["train"]["seed"],
        deterministic=session.config["train"]["deterministic"],
        data_fingerprint=texts.fingerprint,
        vocabulary_size=int(vocabulary_size),
        num_texts={"train": len(texts.train), "holdout": len(texts.holdout)},
        sources=texts.sources,
        device=info["device"],
        environment=info,
    )


def _build_model(session: _Session, texts: PretrainTexts, vectorizer, record):
    """Phase 3: the compiled language model and its loop state, both
    restored from the latest checkpoint when resuming."""
    config = session.config
    vectors = embeddings_for_config(config, vectorizer, log=session.log)
    model = build_language_model(config, vectorizer, embeddings=vectors)
    steps_per_epoch = math.ceil(len(texts.train) / session.pretrain["batch_size"])
    train = {
        **config["train"],
        "learning_rate": session.pretrain["learning_rate"],
        "epochs": session.pretrain["epochs"],
    }
    model.compile(optimizer=build_optimizer(train, steps_per_epoch), jit_compile=False)
    model.optimizer.build(model.trainable_variables)
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


def _train(session: _Session, texts, vectorizer, model, loop, record):
    """Phase 4: one `Model.fit` per epoch (shuffled with `seed + epoch`),
    then a checkpoint, history.csv and run.json. Returns the seconds it
    took and the last epoch's held-out loss (None if no epoch ran)."""
    seed, epochs = session.config["train"]["seed"], session.pretrain["epochs"]
    every = session.pretrain["validate_every"]
    callbacks = [EpochProgress(epochs)] if session.verbose else []
    holdout = session.batches(vectorizer, texts.holdout)
    started, last_loss = time.perf_counter(), None
    while loop.epoch < epochs:
        epoch_started = time.perf_counter()
        validate = (loop.epoch + 1) % every == 0 or loop.epoch + 1 == epochs
        with _no_end_of_data_notice():
            history = model.fit(
                session.batches(
                    vectorizer, texts.train, shuffle=True, seed=seed + loop.epoch
                ),
                validation_data=holdout if validate else None,
                initial_epoch=loop.epoch,
                epochs=loop.epoch + 1,
                callbacks=callbacks,
                verbose=session.verbose,
                shuffle=False,
            )
        logs = {k: round(float(v[-1]), 6) for k, v in history.history.items()}
        if validate:
            last_loss = float(history.history["val_loss"][-1])
        # A skipped validation is an empty cell: the columns keep their order.
        row = {
            "epoch": loop.epoch + 1,
            "loss": logs["loss"],
            "val_loss": logs.get("val_loss"),
            "val_perplexity": (
                round(math.exp(min(logs["val_loss"], 700.0)), 4) if validate else None
            ),
        }
        row["seconds"] = round(time.perf_counter() - epoch_started, 3)
        loop.history.append(row)
        loop.epoch += 1
        save_checkpoint(
            session.checkpoints, to_numpy(checkpoint_variables(model)), loop.to_json()
        )
        write_history(session.run_dir / "history.csv", loop.history)
        record.epoch_recorded(loop.epoch)
    return time.perf_counter() - started, last_loss


def _evaluate(session: _Session, texts, vectorizer, model, loop, loss=None) -> dict:
    """Phase 5: held-out loss and perplexity with the full softmax; `loss`
    is the last epoch's validation on the same texts with the same weights
    where this process trained one (a full-softmax pass over the held-out
    texts is about 100 s for imdb_lm), None to evaluate here."""
    holdout = session.batches(vectorizer, texts.holdout)
    if loss is None:
        session.log("Evaluating on the held-out texts")
        with _no_end_of_data_notice():
            result = model.evaluate(holdout, verbose=0, return_dict=True)
        loss = float(result["loss"])
    tokens = sum(
        int(np.count_nonzero(ids[:, 1:])) for ids, _ in holdout.as_numpy_iterator()
    )
    vocabulary_size = int(vectorizer.vocabulary_size())
    return {
        "split": "holdout",
        "num_texts": len(texts.holdout),
        "num_tokens": tokens,
        "loss": round(loss, 6),
        "perplexity": round(math.exp(min(loss, 700.0)), 4),
        "vocabulary_size": vocabulary_size,
        "uniform_perplexity": vocabulary_size,
        "epochs_completed": loop.epoch,
    }


@contextlib.contextmanager
def _no_end_of_data_notice():
    """Hide Keras' "Your input ran out of data" warning: the batches are a
    finite dataset by design, read to their end once per call."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        yield


def _save(session: _Session, model, metrics: dict) -> None:
    """Phase 6: encoder.npz (the weights a classifier starts from) and
    metrics.json."""
    names = encoder_layer_names(session.config["model"])
    layers = {name: model.encoder.get_layer(name) for name in names}
    save_encoder(layers, session.run_dir / ENCODER_FILE)
    write_json(session.run_dir / "metrics.json", metrics)
