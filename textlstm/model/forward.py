"""The classifier from its embedding outputs on, with the embedding's mask.

A Keras functional sub-model that starts at the embedding output loses the
embedding's mask, so `AfterEmbedding` runs the classifier's layers after
the embedding itself, passing the mask along as the model does. Integrated
gradients (`textlstm.explain`) differentiate it with dropout off;
adversarial training (`textlstm.training.adversarial`) perturbs its input with
dropout on.
"""

from __future__ import annotations

import dataclasses
import inspect

import keras
import tensorflow as tf

__all__ = ["AfterEmbedding", "Trace"]


@dataclasses.dataclass
class Trace:
    """What one pass through `AfterEmbedding` saw.

    Attributes:
        probabilities: The classifier's output `(batch, classes)`.
        inputs: Recurrent layer name -> its input sequences.
        masks: Recurrent layer name -> the mask it was given.
        last_output: The output of the last recurrent layer.
    """

    probabilities: tf.Tensor
    inputs: dict
    masks: dict
    last_output: tf.Tensor | None


class AfterEmbedding:
    """The layers of a classifier after its `embedding`, run with the mask.

    `AfterEmbedding(classifier)(classifier.get_layer("embedding")(ids), mask)`
    gives the classifier's own probabilities for the token ids `ids`, with
    `mask = ids != 0`.

    Args:
        classifier: The token-ids model of `textlstm.model.build_classifier`
            (a chain: embedding, recurrent layers, pooling, head).

    Attributes:
        embedding: The embedding layer.
        layers: The layers after it, in order.
        recurrent: The recurrent layers among them (`keras.layers.RNN` or
            `keras.layers.Bidirectional`).
    """

    def __init__(self, classifier: keras.Model):
        self.embedding = classifier.get_layer("embedding")
        names = [layer.name for layer in classifier.layers]
        self.layers = classifier.layers[names.index("embedding") + 1 :]
        self.recurrent = [
            layer
            for layer in self.layers
            if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))
        ]
        self._arguments = {
            layer.name: set(inspect.signature(layer.call).parameters)
            for layer in self.layers
        }

    def embed(self, token_ids) -> tf.Tensor:
        """The embedding outputs of `token_ids` `(batch, time)`."""
        return self.embedding(tf.convert_to_tensor(token_ids, tf.int64))

    def __call__(self, embedded, mask, training: bool = False) -> Trace:
        """Run the layers after the embedding on `embedded` with `mask`
        (dropout on with `training=True`)."""
        x, inputs, masks, last_output = embedded, {}, {}, None
        for layer in self.layers:
            options = {}
            if "mask" in self._arguments[layer.name]:
                options["mask"] = mask
            if "training" in self._arguments[layer.name]:
                options["training"] = training
            if layer in self.recurrent:
                inputs[layer.name], masks[layer.name] = x, mask
            output = layer(x, **options)
            mask = None if mask is None else layer.compute_mask(x, mask)
            if layer in self.recurrent:
                last_output = output
            x = output
        return Trace(x, inputs, masks, last_output)
