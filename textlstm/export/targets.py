"""What sets the targets apart: the `tpu` fixed-shape token function and
the `gpu` cuDNN pairing (the `cpu` target is the portable graph alone).

Imports TensorFlow: used only while an export is written.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable

import tensorflow as tf

from textlstm.export.report import TPU_ALIAS
from textlstm.layers.cudnn import paired_with_cudnn
from textlstm.text import pad_ragged

__all__ = ["TokenFunction", "run_fixed_shape", "target_tracing", "token_function"]


@dataclasses.dataclass
class TokenFunction:
    """How a target classifies token ids, and what else it saves.

    Attributes:
        classify: `token_ids [N, M] -> outputs dict`, called by both
            signatures.
        functions: Extra `tf.function`s to track on the module, by name.
        options: Keyword arguments of `tf.saved_model.SaveOptions`.
        info: Fields `export.json` adds for this target.
    """

    classify: Callable
    functions: dict = dataclasses.field(default_factory=dict)
    options: dict = dataclasses.field(default_factory=dict)
    info: dict = dataclasses.field(default_factory=dict)


def token_function(
    target, classifier, vectorizer, heads, *, batch_size: int
) -> TokenFunction:
    """The token classifier of `target` (`heads` = `(scored, labelled)`)."""
    scored, labelled = heads
    if target != "tpu":
        return TokenFunction(
            lambda token_ids: labelled(
                classifier(tf.cast(token_ids, tf.int64), training=False)
            )
        )
    length = int(vectorizer.sequence_length)
    truncation = getattr(vectorizer, "truncation", "post")

    @tf.function(
        input_signature=[tf.TensorSpec([batch_size, length], tf.int32, "token_ids")],
        autograph=False,
    )
    def tpu_func(token_ids):
        # No strings in here (not even the class names): they stay on the host.
        return scored(classifier(tf.cast(token_ids, tf.int64), training=False))

    return TokenFunction(
        lambda token_ids: labelled(run_fixed_shape(tpu_func, token_ids, truncation)),
        functions={"tpu_func": tpu_func},
        options={"function_aliases": {TPU_ALIAS: tpu_func}},
        info={"tpu_func": {"input": f"int32 [{batch_size}, {length}]"}},
    )


def run_fixed_shape(function, token_ids, truncation):
    """Run a `[batch, length]` function on any `[N, M]` ids, on the host side.

    The padding (id 0) of each row is dropped, which masking makes exact,
    its real tokens truncated as the vectorizer truncates (`truncation:
    pre` keeps the last ones, wherever the caller put the padding), padded
    to `length`, and the rows cut into batches padded with empty rows.
    """
    (spec,) = function.input_signature
    batch, length = spec.shape.as_list()
    ids = tf.cast(token_ids, tf.int32)
    ids = pad_ragged(tf.ragged.boolean_mask(ids, ids != 0), length, "post", truncation)
    count = tf.shape(ids)[0]
    ids = tf.pad(ids, [[0, (-count) % batch], [0, 0]])
    chunks = tf.reshape(ids, [-1, batch, length])
    probabilities = tf.map_fn(
        lambda chunk: function(chunk)["probabilities"],
        chunks,
        fn_output_signature=tf.float32,
    )
    return tf.reshape(probabilities, [-1, probabilities.shape[-1]])[:count]


@contextlib.contextmanager
def target_tracing(target, classifier):
    """Trace and save inside this block. For `gpu`, the LSTM and GRU layers
    of `classifier` are paired with cuDNN (`textlstm.layers.cudnn`); yields
    the fields `export.json` adds (`cudnn_layers` for `gpu`)."""
    if target != "gpu":
        yield {}
        return
    with paired_with_cudnn(classifier) as count:
        yield {"cudnn_layers": count}
