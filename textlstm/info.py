"""Environment report used by `textlstm info` and written into run folders."""

import platform
import sys

from textlstm import __version__


def collect_info() -> dict:
    """Return versions, devices, the Keras backend and the layer kernel paths.

    Returns:
        A flat dict of JSON-serializable values.
    """
    import keras
    import tensorflow as tf

    from textlstm.layers import available_kernel_paths

    devices = [d.name for d in tf.config.list_logical_devices()]
    return {
        "textlstm": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "devices": devices,
        "cpu_count": usable_cpu_count(),
        "kernel_paths": available_kernel_paths(),
    }


def usable_cpu_count() -> int:
    """The CPU cores this process may run on (its affinity, where known)."""
    import os

    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
