"""Environment report used by `textlstm info` and written into run folders.

Imports TensorFlow, Keras and `textlstm.layers`; the layers do not import
this module.
"""

import platform
import sys

import keras
import tensorflow as tf

from textlstm import __version__
from textlstm.layers import available_kernel_paths
from textlstm.layers.fast.sharding import usable_cpu_count

__all__ = ["collect_info", "kernel_paths", "run_environment", "usable_cpu_count"]


def collect_info() -> dict:
    """Return versions, devices, the Keras backend and the layer kernel paths.

    Returns:
        A flat dict of JSON-serializable values.
    """
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


def run_environment(strategy) -> dict:
    """`collect_info()` plus the device, strategy and replica count of a
    training run (run.json's `environment`)."""
    info = collect_info()
    gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
    info["device"] = ", ".join(gpus) if gpus else f"CPU ({info['cpu_count']} cores)"
    info["strategy"] = type(strategy).__name__.lstrip("_")
    info["replicas"] = int(strategy.num_replicas_in_sync)
    return info


def kernel_paths(model) -> dict:
    """The `kernel_path` of every recurrent layer of `model`, by layer name."""
    paths = {}
    for layer in model._flatten_layers(include_self=False):
        path = getattr(layer, "kernel_path", None)
        if path is not None:
            paths[layer.name] = path
    return paths
