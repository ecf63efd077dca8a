"""What every training loop of the package shares: the progress bar across
per-epoch `Model.fit` calls, and the seeds and dtype policy of one run.

Imports Keras and TensorFlow.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import keras
import tensorflow as tf

__all__ = ["EpochProgress", "training_settings"]


class EpochProgress(keras.callbacks.ProgbarLogger):
    """Keras' progress bar, showing `Epoch k/total` across per-epoch fits."""

    def __init__(self, total_epochs: int):
        super().__init__()
        self.total_epochs = total_epochs

    def set_params(self, params):
        super().set_params({**params, "epochs": self.total_epochs})


@contextlib.contextmanager
def training_settings(train: Mapping):
    """Seeds, op determinism and the dtype policy of a config's `train`
    section, for the duration of one run."""
    keras.utils.set_random_seed(train["seed"])
    if train["deterministic"]:
        tf.config.experimental.enable_op_determinism()
    previous_policy = keras.config.dtype_policy()
    if train["mixed_precision"]:
        keras.config.set_dtype_policy("mixed_float16")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous_policy)
