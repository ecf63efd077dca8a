"""Training under a `tf.distribute` strategy: `mirrored`, `multi_worker`, `tpu`.

`train.strategy: default` trains with Keras' `Model.fit`. The other
strategies run the training step of TensorFlow's custom-training-loop
guide through the stock API (`strategy.run`, `ReplicaContext.all_reduce`,
`distribute_datasets_from_function`), because Keras 3's `fit` fails under
`MultiWorkerMirroredStrategy` (keras-team/keras#20585) and clips each
replica's gradient before summing them:

- each replica computes the gradient of `sum(loss) / global examples`;
- the gradients are summed across every replica of every worker (the
  exact gradient of the global batch's mean loss), then clipped
  (`train.clipnorm`), then applied, so a step equals the single-device
  step on the same global batch;
- every worker reads its own shard of the training texts (example `i` goes
  to worker `i % workers`), batched at `batch_size / replicas` per replica;
  a worker whose shard ends first gets empty batches, so each example is
  seen once per epoch across the cluster.

With `train.jit_compile` (and always on TPU) the forward and backward pass
is compiled with XLA and batches have static shapes: every text padded to
`text.sequence_length`, no bucketing, the last partial training batch
dropped. The cross-replica sums stay outside the compiled function
(`CollectiveReduceV2` has no XLA CPU kernel).
"""

from __future__ import annotations

import functools
import math
import os
import signal
import sys
import threading
import time
import zlib
from collections.abc import Callable, Mapping

import keras
import numpy as np
import tensorflow as tf

from textlstm import cluster as cluster_lib
from textlstm import model as models
from textlstm.errors import ConfigError, RunError
from textlstm.text.batching import count_examples
from textlstm.text.batching import make_batches as text_batches

__all__ = [
    "DistributedTrainer",
    "PEER_ERRORS",
    "create_strategy",
    "dataset_function",
    "gather_ints",
    "shard_checksum",
    "single_device_copy",
    "static_shapes",
    "train_epochs",
    "vocabulary_checksum",
]

#: What a collective raises when a peer died or stopped answering.
PEER_ERRORS = (
    tf.errors.UnavailableError,
    tf.errors.DeadlineExceededError,
    tf.errors.CancelledError,
    tf.errors.AbortedError,
)


def create_strategy(train: Mapping, cluster: cluster_lib.Cluster | None = None):
    """The stock `tf.distribute` strategy `train.strategy` names.

    Must run before anything else touches TensorFlow's devices (a tensor, a
    layer): collective ops are configured at program start.

    Raises:
        ClusterError: `multi_worker` without a cluster, or the other workers
            did not all start within `train.cluster_timeout` seconds
            (`textlstm.cluster.rendezvous`).
        RunError: no TPU found for `tpu`.
        ConfigError: `train.batch_size` does not divide across the replicas.
    """
    name = train["strategy"]
    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif name == "mirrored":
        strategy = _mirrored_strategy()
    elif name == "tpu":
        strategy = _tpu_strategy(train["tpu"])
    else:
        strategy = _multi_worker_strategy(cluster, train["cluster_timeout"])
    replicas = int(strategy.num_replicas_in_sync)
    if train["batch_size"] % replicas:
        raise ConfigError(
            f"train.batch_size: {train['batch_size']} does not divide across the "
            f"{replicas} replicas (use a multiple of {replicas})"
        )
    return strategy


@functools.cache
def _mirrored_strategy():
    """One `MirroredStrategy` per process. A second one numbers its collective
    ops from the start again, and the first's numbers are still registered:
    its all-reduces then meet ops of another shape (`Shape mismatch in the
    collective instance`), so a second mirrored `fit` in one process failed."""
    return tf.distribute.MirroredStrategy()


def _tpu_strategy(tpu: str):
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu="" if tpu == "local" else tpu
        )
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise RunError(
            f"train.strategy: no TPU found for train.tpu {tpu!r} ({first})"
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def _multi_worker_strategy(cluster, timeout: float):
    if cluster is None:
        raise cluster_lib.ClusterError(
            "train.strategy multi_worker: TF_CONFIG is not set (set it on every "
            "host, or try it here with textlstm fit --local-workers 2)"
        )
    missing = cluster_lib.rendezvous(cluster, timeout)
    if missing:
        raise cluster_lib.ClusterError(
            f"the cluster did not form within {timeout:g} s "
            f"(train.cluster_timeout): no answer from {', '.join(missing)}"
        )
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    # TensorFlow's preemption notifier swallows SIGTERM; a cluster manager
    # sends it to stop a task. Checkpoints and run files are written
    # atomically, so stopping at once loses nothing but the current epoch.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
    return strategy


def _stop_on_sigterm(signum, frame):
    sys.stderr.write(
        "Error: stopped by SIGTERM; run the same command again to continue "
        "from the last checkpoint\n"
    )
    sys.stderr.flush()
    os._exit(128 + signum)


def static_shapes(train: Mapping) -> bool:
    """Whether batches must have static shapes (XLA, TPU)."""
    return bool(train["jit_compile"]) or train["strategy"] == "tpu"


def gather_ints(strategy, values, num_workers: int) -> np.ndarray:
    """Every worker's `values` (ints), one row per worker, on every worker.

    A collective: every worker must call it at the same point.
    """
    local = np.asarray(values, np.int64).reshape(1, -1)
    if num_workers <= 1:
        return local
    rows = _gather(strategy, tf.constant(local)).numpy()
    per_worker = len(rows) // num_workers  # replicas per worker
    return rows[::per_worker]


@tf.function(reduce_retracing=True)
def _gather(strategy, local):
    return strategy.gather(strategy.run(lambda: tf.identity(local)), axis=0)


def vocabulary_checksum(vectorizer) -> int:
    """CRC-32 of the vocabulary, to check every worker has the same one."""
    tokens = vectorizer.get_vocabulary(include_special_tokens=True)
    return zlib.crc32("\n".join(tokens).encode("utf-8"))


def shard_checksum(dataset: tf.data.Dataset) -> tuple[int, int]:
    """`(count, checksum)` of the texts of an unbatched `(text, label)` split.

    The checksum is the wrapping int64 sum of each text's 62-bit hash, so
    the checksums of disjoint shards add up to the checksum of their union.
    """

    def add(totals, example):
        hashed = tf.strings.to_hash_bucket_fast(example[0], 2**62)
        return totals[0] + 1, totals[1] + hashed

    start = (tf.constant(0, tf.int64), tf.constant(0, tf.int64))
    count, checksum = dataset.reduce(start, add)
    return int(count), int(checksum)


class DistributedTrainer:
    """One training and evaluation step under a strategy, and epochs of them.

    Args:
        strategy: The strategy `model` was built under.
        model: A built classifier whose optimizer is built (`build_optimizer`
            with `clipnorm=None`: this class clips the summed gradient).
        train: The `train` section (`clipnorm`, `jit_compile`).
    """

    def __init__(self, strategy, model: keras.Model, train: Mapping):
        self.strategy = strategy
        self.model = model
        self.clipnorm = train["clipnorm"]
        self.replicas = int(strategy.num_replicas_in_sync)
        self._gradients = (
            tf.function(self._loss_gradients, jit_compile=True, reduce_retracing=True)
            if train["jit_compile"]
            else self._loss_gradients
        )
        self._train_step = tf.function(self._distributed_train, reduce_retracing=True)
        self._test_step = tf.function(self._distributed_test, reduce_retracing=True)
        #: Examples this worker trained on in the last epoch.
        self.local_examples = 0

    # -- one step ----------------------------------------------------------- #

    def _sums(self, probabilities, labels):
        probabilities = tf.cast(probabilities, tf.float32)
        losses = keras.losses.sparse_categorical_crossentropy(labels, probabilities)
        hits = tf.cast(tf.equal(tf.argmax(probabilities, -1), labels), tf.float32)
        return tf.reduce_sum(losses), tf.reduce_sum(hits)

    def _loss_gradients(self, ids, labels, global_count):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            probabilities = self.model(ids, training=True)
            loss_sum, hits = self._sums(probabilities, labels)
            loss = loss_sum / global_count
            if self.model.losses:  # regularization, split across replicas
                penalty = tf.add_n(self.model.losses)
                loss += penalty / self.replicas
                # Reported like Keras' fit: the mean loss plus the penalty.
                loss_sum += penalty * tf.cast(tf.size(labels), tf.float32)
        return tape.gradient(loss, variables), loss_sum, hits

    def _replica_train(self, ids, labels):
        context = tf.distribute.get_replica_context()
        count = tf.cast(tf.size(labels), tf.float32)
        global_count = context.all_reduce("SUM", count)
        gradients, loss_sum, hits = self._gradients(
            ids, labels, tf.maximum(global_count, 1.0)
        )
        if self.clipnorm:
            factors = self._clip_factors(context, gradients)
            gradients = [_scale(g, f) for g, f in zip(gradients, factors)]
        # The optimizer sums the replicas' gradients (rows of IndexedSlices
        # are concatenated, as one device's would be) and applies them.
        self.model.optimizer.apply(gradients, self.model.trainable_variables)
        return loss_sum, hits, count

    def _clip_factors(self, context, gradients):
        """`tf.clip_by_norm` of each summed gradient, as a factor for the
        replica's part of it: `clipnorm / max(norm, clipnorm)`. The norm of
        IndexedSlices is that of their rows, as in `tf.clip_by_norm`."""
        squares = []
        for gradient in gradients:
            if isinstance(gradient, tf.IndexedSlices):
                local = tf.reduce_sum(tf.square(gradient.values))
                squares.append(context.all_reduce("SUM", local))
            else:
                total = context.all_reduce("SUM", gradient)
                squares.append(tf.reduce_sum(tf.square(total)))
        return [
            self.clipnorm / tf.maximum(tf.sqrt(square), self.clipnorm)
            for square in squares
        ]

    def _replica_test(self, ids, labels):
        probabilities = self.model(ids, training=False)
        loss_sum, hits = self._sums(probabilities, labels)
        return loss_sum, hits, tf.cast(tf.size(labels), tf.float32)

    def _distributed_train(self, ids, labels):
        sums = self.strategy.run(self._replica_train, args=(ids, labels))
        local = self.strategy.experimental_local_results(sums[2])
        reduced = [self.strategy.reduce("SUM", s, axis=None) for s in sums]
        return reduced, tf.add_n(local)

    def _distributed_test(self, ids, labels):
        sums = self.strategy.run(self._replica_test, args=(ids, labels))
        return [self.strategy.reduce("SUM", s, axis=None) for s in sums]

    # -- epochs ------------------------------------------------------------- #

    def train_epoch(
        self, dataset_fn: Callable, steps: int | None = None, verbose: int = 0
    ) -> dict:
        """One pass over the distributed dataset `dataset_fn` makes.

        Args:
            dataset_fn: `tf.distribute.InputContext -> per-replica batches`.
            steps: The expected number of steps (for the progress bar).
            verbose: 1 progress bar, 2 nothing per step, 0 nothing.

        Returns:
            `{"loss": ..., "accuracy": ...}` over the whole cluster.
        """
        dataset = self.strategy.distribute_datasets_from_function(dataset_fn)
        bar = keras.utils.Progbar(steps) if verbose == 1 else None
        totals = np.zeros(3)
        local = 0.0
        for step, (ids, labels) in enumerate(dataset, start=1):
            reduced, mine = self._train_step(ids, labels)
            totals += [float(value) for value in reduced]
            local += float(mine)
            if bar is not None:
                bar.update(step, [("loss", totals[0] / max(totals[2], 1))])
        self.local_examples = int(local)
        return _metrics(totals)

    def evaluate(self, dataset_fn: Callable) -> dict:
        """Loss and accuracy over a distributed dataset (every worker)."""
        dataset = self.strategy.distribute_datasets_from_function(dataset_fn)
        totals = np.zeros(3)
        for ids, labels in dataset:
            totals += [float(value) for value in self._test_step(ids, labels)]
        return _metrics(totals)


def _scale(gradient, factor):
    if isinstance(gradient, tf.IndexedSlices):
        return tf.IndexedSlices(
            gradient.values * factor, gradient.indices, gradient.dense_shape
        )
    return gradient * factor


def _metrics(totals) -> dict:
    count = max(totals[2], 1.0)
    return {"loss": totals[0] / count, "accuracy": totals[1] / count}


def dataset_function(data, split, *, train: Mapping, shuffle: bool, seed: int):
    """`InputContext -> per-replica batches` of `split` for
    `distribute_datasets_from_function`: worker `i` of `n` takes examples
    `i, i + n, ...`; static shapes (`static_shapes`) drop the last partial
    training batch and never bucket."""
    static = static_shapes(train)

    def make(context: tf.distribute.InputContext):
        shard = split
        if context.num_input_pipelines > 1:
            shard = split.shard(context.num_input_pipelines, context.input_pipeline_id)
        return text_batches(
            shard,
            data.vectorizer,
            context.get_per_replica_batch_size(train["batch_size"]),
            shuffle=shuffle,
            seed=seed,
            bucketing=data.bucketing and not static,
            drop_remainder=static and shuffle,
        )

    return make


def train_epochs(session, data, model, loop, record, strategy, end_epoch) -> float:
    """`fit`'s training phase under a strategy: the epochs left, each one
    `DistributedTrainer.train_epoch`, a validation pass and `end_epoch`
    (checkpoint, history, early stopping); TensorBoard scalars on the chief.

    Returns:
        The seconds it took.
    """
    train = session.config["train"]
    trainer = DistributedTrainer(strategy, model, train)
    steps = math.ceil(count_examples(data.bundle.train) / train["batch_size"])
    if data.bucketing and not static_shapes(train):
        steps = None  # a partial batch per length bucket: not known ahead
    board = session.run_dir / "tensorboard"
    writers = {
        name: tf.summary.create_file_writer(str(board / name))
        for name in ("train", "validation")
    }
    validation = dataset_function(
        data, data.bundle.validation, train=train, shuffle=False, seed=train["seed"]
    )
    started = time.perf_counter()
    while loop.epoch < train["epochs"] and not loop.stopped_early:
        epoch_started = time.perf_counter()
        learning_rate = float(np.asarray(model.optimizer.learning_rate))
        if session.verbose:
            session.log(f"Epoch {loop.epoch + 1}/{train['epochs']}")
        shuffled = dataset_function(
            data,
            data.bundle.train,
            train=train,
            shuffle=True,
            seed=train["seed"] + loop.epoch,
        )
        scores = trainer.train_epoch(shuffled, steps, verbose=session.verbose)
        held_out = trainer.evaluate(validation)
        row = {"epoch": loop.epoch + 1, **scores}
        row.update({f"val_{key}": value for key, value in held_out.items()})
        row = {key: round(float(value), 8) for key, value in row.items()}
        row["epoch"] = int(row["epoch"])
        row["learning_rate"] = round(learning_rate, 8)
        row["seconds"] = round(time.perf_counter() - epoch_started, 3)
        for name, prefix in (("train", ""), ("validation", "val_")):
            with writers[name].as_default(step=row["epoch"]):
                for key in ("loss", "accuracy"):
                    tf.summary.scalar(f"epoch_{key}", row[prefix + key])
        session.log(
            f"Epoch {row['epoch']}: loss {row['loss']:.4f} accuracy "
            f"{row['accuracy']:.4f} val_loss {row['val_loss']:.4f} val_accuracy "
            f"{row['val_accuracy']:.4f} ({row['seconds']:.1f} s)"
        )
        end_epoch(session, model, loop, row)
        record.epoch_recorded(loop.epoch)
    session.local_examples = trainer.local_examples
    return time.perf_counter() - started


def check_agreement(strategy, num_workers: int, epoch: int, data) -> None:
    """Check that every worker resumes from the same epoch with the same
    vocabulary and data (a collective; nothing to check for one worker).

    Raises:
        RunError: they differ (one line naming what differs).
    """
    if num_workers <= 1:
        return
    fingerprint = zlib.crc32(str(data.bundle.fingerprint).encode("utf-8"))
    values = [epoch, vocabulary_checksum(data.vectorizer), fingerprint]
    rows = gather_ints(strategy, values, num_workers)
    if len(set(rows[:, 0])) > 1:
        epochs = ", ".join(str(e) for e in rows[:, 0])
        raise RunError(
            f"the workers would resume from different epochs ({epochs}, chief "
            "first): the run folder must be on storage every worker can read"
        )
    for column, what in ((1, "vocabulary"), (2, "training data")):
        if len(set(rows[:, column])) > 1:
            raise RunError(
                f"the workers built a different {what}: every worker must read "
                "the same data with the same config"
            )


def worker_report(strategy, num_workers, cluster, *, data, local_examples, seconds):
    """Each worker's examples per epoch, shard checksum and wall time
    (run.json's `cluster.workers`; a collective for several workers)."""
    shard = data.bundle.train
    if num_workers > 1:
        shard = shard.shard(num_workers, cluster.worker_id)
    _, checksum = shard_checksum(shard)
    rows = gather_ints(
        strategy, [local_examples, checksum, int(seconds * 1000)], num_workers
    )
    return [
        {
            "worker": index,
            "examples_per_epoch": int(row[0]),
            "shard_checksum": int(row[1]),
            "wall_time_s": round(row[2] / 1000, 3),
        }
        for index, row in enumerate(rows)
    ]


def barrier(strategy, num_workers: int) -> None:
    """Wait until every worker reaches this point."""
    gather_ints(strategy, [0], num_workers)


def peer_error(error: BaseException, epoch: int) -> RunError:
    """The one-line error for a collective that failed because a peer died."""
    kind = type(error).__name__
    return RunError(
        f"a worker of the cluster stopped or stopped answering ({kind}); run "
        f"the same command on every worker to continue after epoch {epoch}"
    )


def single_device_copy(config: Mapping, data, model: keras.Model) -> keras.Model:
    """The trained classifier on one device, outside every strategy (for
    evaluating and saving on the chief alone)."""
    copy = models.build_classifier(
        config,
        data.vectorizer,
        num_classes=len(data.class_names),
        embeddings=data.pretrained,
    )
    copy.set_weights(model.get_weights())
    return copy
