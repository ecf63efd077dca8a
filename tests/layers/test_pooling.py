"""Tests of `textlstm.layers.pooling`: masked values, attention weights, and
the registered names saved `.keras` files load them by."""

import keras
import numpy as np
import pytest

from textlstm import layers as tl
from textlstm import model as models
from textlstm.layers import AttentionPooling, MaskedPooling


def test_masked_pooling_values():
    x = np.array([[[1.0, -5.0], [3.0, -1.0], [50.0, 50.0]]], "float32")
    mask = np.array([[True, True, False]])
    assert MaskedPooling("mean")(x, mask=mask).numpy().tolist() == [[2.0, -3.0]]
    assert MaskedPooling("max")(x, mask=mask).numpy().tolist() == [[3.0, -1.0]]
    empty = np.zeros((1, 3), bool)
    assert MaskedPooling("max")(x, mask=empty).numpy().tolist() == [[0.0, 0.0]]
    assert MaskedPooling("mean")(x, mask=empty).numpy().tolist() == [[0.0, 0.0]]
    both = MaskedPooling("max_mean")
    assert both(x, mask=mask).numpy().tolist() == [[3.0, -1.0, 2.0, -3.0]]
    assert both(x, mask=empty).numpy().tolist() == [[0.0] * 4]
    assert both.compute_output_shape((None, 3, 2)) == (None, 4)


def test_attention_weights_sum_to_one_over_real_steps():
    layer = AttentionPooling(4)
    x = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    mask = np.array([[1, 1, 1, 0], [0, 0, 0, 0]], bool)
    pooled, weights = layer(x, mask=mask, return_weights=True)
    np.testing.assert_allclose(weights.numpy().sum(axis=1), [1.0, 0.0], atol=1e-6)
    assert weights.numpy()[0, 3] == 0.0
    assert pooled.numpy()[1].tolist() == [0.0, 0.0, 0.0]
    config = layer.get_config()
    assert AttentionPooling.from_config(config).units == 4


@pytest.mark.parametrize("name", ["MaskedPooling", "AttentionPooling"])
def test_registered_names_and_models_reexport(name):
    """Saved models name the layers `textlstm>...`: moving them must not
    change that, and `textlstm.model` still hands out the same classes."""
    layer_class = getattr(tl, name)
    assert keras.saving.get_registered_name(layer_class) == f"textlstm>{name}"
    assert keras.saving.get_registered_object(f"textlstm>{name}") is layer_class
    assert getattr(models, name) is layer_class
