"""How the fast path is compiled: with XLA or as plain TensorFlow ops."""

import contextlib
import contextvars
import inspect

import tensorflow as tf

_XLA = contextvars.ContextVar("textlstm_fast_path_xla", default=True)


@contextlib.contextmanager
def fast_path_options(xla=True):
    """Choose how the fast path is compiled while tracing in this block.

    Args:
        xla: With `True` (default) the loops are `jit_compile=True`
            functions: fastest, but they carry XLA's must-compile attribute
            into graphs and SavedModels. With `False` the same loops are plain
            TensorFlow ops, for graphs that must run on any TensorFlow runtime
            (the `cpu` and `gpu` export targets).

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> from textlstm.layers import LSTM, fast_path_options
    >>> layer = LSTM(2)
    >>> with fast_path_options(xla=False):
    ...     y = tf.function(layer)(np.ones((1, 3, 2), "float32"))
    >>> layer.kernel_path
    'fast'
    """
    token = _XLA.set(bool(xla))
    try:
        yield
    finally:
        _XLA.reset(token)


def compiled(fn):
    """`fn` as a tf.function with and without XLA, chosen at call time.

    Every tensor argument is traced with all of its dimensions unknown, so
    that there is one graph per variant whatever shapes came before: the
    numbers of a run do not depend on what else the process traced first
    (with `reduce_retracing` they did, in the last bits). XLA still
    compiles one kernel per concrete input shape and caches it.
    """
    # A function with an `xla` parameter learns which variant it is traced for.
    takes_xla = "xla" in inspect.signature(fn).parameters

    def traced(xla):
        return (lambda *args: fn(*args, xla=xla)) if takes_xla else fn

    variants = {
        xla: tf.function(traced(xla), jit_compile=xla, autograph=False)
        for xla in (True, False)
    }
    graphs = {}

    def call(*args):
        xla = _XLA.get()
        key = (xla,) + tuple(
            (arg.dtype, arg.shape.rank) if tf.is_tensor(arg) else arg for arg in args
        )
        graph = graphs.get(key)
        if graph is None:
            specs = [
                tf.TensorSpec([None] * arg.shape.rank, arg.dtype)
                if tf.is_tensor(arg)
                else arg
                for arg in args
            ]
            graph = graphs[key] = variants[xla].get_concrete_function(*specs)
        return graph(*args)

    call.variants = variants
    return call


def without_full_mask(run, mask):
    """`run(mask)`, or `run(None)` when `mask` keeps every step of every row.

    The plain-TensorFlow loops (`fast_path_options(xla=False)`) pay for each
    op of each step, and the mask's ops are a quarter of an LSTM step's: a
    batch without padding (one text, or texts of one length, as the
    exports' compacted ids often are) skips them behind a `tf.cond`. Exact:
    a kept step's masked update is the unmasked one. Under XLA the mask is
    fused into the step and costs nothing, so `run(mask)` is traced alone.
    """
    if mask is None or _XLA.get():
        return run(mask)
    return tf.cond(tf.reduce_all(mask > 0), lambda: run(None), lambda: run(mask))
