"""Splitting a large batch into shards that TensorFlow runs concurrently.

On a CPU one XLA loop's small per-step matmul keeps a single core busy; one
loop per core, each on its own rows, uses them all.
"""

import functools
import os

import tensorflow as tf

# A shard needs at least this many rows and this many multiply-adds per
# step in its recurrent matmul: below that, one loop is bound by latency
# and per-op overhead, and a second one only adds work.
MIN_SHARD_ROWS = 16
MIN_SHARD_WORK = 2**20


def usable_cpu_count() -> int:
    """The CPU cores this process may run on (its affinity, where known)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.cache
def _cpu_shards() -> int:
    """How many concurrent loops pay: the usable cores, 1 where a GPU is."""
    if tf.config.list_logical_devices("GPU"):
        return 1
    cores = usable_cpu_count()
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    return max(1, min(cores, threads or cores))


def _min_shard_rows(recurrent_kernel) -> int:
    size = recurrent_kernel.shape.num_elements() or 1
    return max(MIN_SHARD_ROWS, -(-MIN_SHARD_WORK // size))


def batch_shards(batch, recurrent_kernel) -> int:
    """How many batch shards the fast path runs concurrently.

    One per usable CPU core (none on a GPU machine), each with at least
    `MIN_SHARD_ROWS` rows and `MIN_SHARD_WORK` multiply-adds per step
    (`rows * recurrent_kernel.size`). Row results do not depend on the
    sharding beyond float rounding of the matmuls.

    >>> import tensorflow as tf
    >>> from textlstm.layers.fast.sharding import batch_shards
    >>> batch_shards(1, tf.zeros((128, 512)))
    1
    """
    return max(1, min(_cpu_shards(), batch // _min_shard_rows(recurrent_kernel)))


def sharded(run, inputs, recurrent_kernel, axes=0):
    """`run(*inputs)`, split into batch shards that TensorFlow runs concurrently.

    The layers shard their batch-major inputs, before anything else, so
    that each shard projects its own: splitting the time-major projections
    `xw` along their batch axis, and joining their gradients back, copied
    26 MB each way in an LSTM training step at (64, 200, 128, 128), which
    took 74.5 ms that way and 68.5 ms this way (one A/B run).

    Args:
        run: Returns a tensor or a nested structure of tensors.
        inputs: Tensors with the batch on axis 0, or None (passed as is).
            A batch size unknown while tracing is split at run time
            (`tf.cond`) when it is large enough.
        recurrent_kernel: Sizes the work per step (see `batch_shards`).
        axes: The batch axis of `run`'s outputs: one for all of them, or a
            list with one per flattened output.

    Returns:
        `run`'s outputs, the shards' joined along their batch axes.
    """
    batch = inputs[0].shape[0]
    n = _cpu_shards() if batch is None else batch_shards(batch, recurrent_kernel)

    def join(outputs):
        flat = [tf.nest.flatten(output) for output in outputs]
        batch_axes = [axes] * len(flat[0]) if isinstance(axes, int) else axes
        joined = [
            tf.concat(parts, axis)
            for parts, axis in zip(zip(*flat), batch_axes, strict=True)
        ]
        return tf.nest.pack_sequence_as(outputs[0], joined)

    def split_run():
        # Static sizes where the batch is known keep the shards' shapes known.
        if batch is not None:
            sizes = [batch // n + int(k < batch % n) for k in range(n)]
        else:
            size = tf.shape(inputs[0])[0]
            sizes = tf.stack(
                [size // n + tf.cast(k < size % n, tf.int32) for k in range(n)]
            )
        parts = [
            [None] * n if x is None else tf.split(x, sizes, num=n, axis=0)
            for x in inputs
        ]
        return join([run(*args) for args in zip(*parts)])

    if n == 1:
        return run(*inputs)
    if batch is not None:
        return split_run()
    return tf.cond(
        tf.shape(inputs[0])[0] >= n * _min_shard_rows(recurrent_kernel),
        split_run,
        lambda: run(*inputs),
    )
