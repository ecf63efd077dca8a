"""The optimizer and learning-rate schedule of a config's `train` section.

>>> from textlstm.config import load_config
>>> train = load_config(None, ["train.lr_schedule=cosine", "train.epochs=2"])["train"]
>>> type(build_optimizer(train, steps_per_epoch=10)).__name__
'Adam'
"""

from __future__ import annotations

from collections.abc import Mapping

import keras
from keras import ops

__all__ = ["Warmup", "build_optimizer"]


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
