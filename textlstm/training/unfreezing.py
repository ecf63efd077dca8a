"""Gradual unfreezing (Howard & Ruder 2018, ULMFiT) for pretrained encoders.

With `train.gradual_unfreezing: true`, fine-tuning starts with only the
classifier's head trainable and unfreezes one more group per epoch, from
the top down:

```
epoch 1: the head (pooling, dense, output)
epoch 2: + the last recurrent layer
...      + each recurrent layer below it
then:    + the embedding; everything trains from here on
```

so the randomly initialized head settles before its gradients reach the
pretrained layers and overwrite what they learned. The groups follow from
the epoch number alone, so a resumed run freezes exactly what an
uninterrupted one did. `model.embeddings_trainable: false` keeps the
embedding frozen throughout.
"""

from __future__ import annotations

import keras

__all__ = ["apply", "layer_groups", "unfreeze_for_epoch"]


def layer_groups(model: keras.Model) -> list[list[keras.layers.Layer]]:
    """The classifier's layers that hold weights, in groups, top down.

    Args:
        model: A classifier of `textlstm.model.build_classifier`.

    Returns:
        `[head, last recurrent layer, ..., first recurrent layer,
        embedding]`: the head is every layer with weights after the last
        recurrent one (attention pooling, dense head, output).
    """
    recurrent = [
        layer
        for layer in model.layers
        if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))
    ]
    after = model.layers[model.layers.index(recurrent[-1]) + 1 :]
    head = [layer for layer in after if layer.weights]
    return [
        head,
        *([layer] for layer in reversed(recurrent)),
        [model.get_layer("embedding")],
    ]


def unfreeze_for_epoch(
    model: keras.Model, epoch: int, *, embeddings_trainable: bool = True
) -> int:
    """Make the groups of 0-based `epoch` trainable and the rest frozen.

    Args:
        model: The compiled classifier.
        epoch: Epochs completed so far (0 before the first).
        embeddings_trainable: `model.embeddings_trainable`.

    Returns:
        How many groups stay frozen this epoch (0: everything trains).
    """
    groups = layer_groups(model)
    changed = False
    for index, group in enumerate(groups):
        trainable = index <= epoch
        for layer in group:
            wanted = trainable and (layer.name != "embedding" or embeddings_trainable)
            if layer.trainable != wanted:
                layer.trainable = wanted
                changed = True
    if changed:
        model.train_function = None  # retrace with the new trainable weights
    return max(0, len(groups) - 1 - epoch)


def apply(model: keras.Model, config, epoch: int | None = None) -> int:
    """`unfreeze_for_epoch` as `config` asks (nothing without
    `train.gradual_unfreezing`); `epoch=None` unfreezes every group (before
    saving: the saved model keeps none of the freezing)."""
    if not config["train"]["gradual_unfreezing"]:
        return 0
    return unfreeze_for_epoch(
        model,
        10**9 if epoch is None else epoch,
        embeddings_trainable=config["model"]["embeddings_trainable"],
    )
