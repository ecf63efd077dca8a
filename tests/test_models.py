"""Tests of `textlstm.model`: every cell, impl and pooling builds, masks
padding, and round-trips through `.keras`."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from textlstm.config import load_config  # noqa: E402
from textlstm.model import build_classifier  # noqa: E402

TOKENS = np.array([[4, 9, 2, 7, 0, 0], [3, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])


def tiny_config(*overrides):
    base = ["text.max_tokens=20", "model.units=3", "model.embedding_dim=4"]
    return load_config(None, [*base, *overrides])


@pytest.mark.parametrize(
    "overrides",
    [
        ["model.cell=lstm"],
        ["model.cell=gru", "model.pooling=max"],
        ["model.cell=peephole_lstm", "model.pooling=mean"],
        ["model.cell=layernorm_lstm", "model.pooling=attention"],
        ["model.cell=cifg_lstm", "model.bidirectional=true", "model.layers=2"],
        ["model.impl=keras", "model.cell=lstm", "model.bidirectional=true"],
        ["model.impl=keras", "model.cell=gru", "model.head_units=5"],
        ["model.cell=simple_rnn", "model.bidirectional=true"],
        ["model.impl=keras", "model.cell=simple_rnn", "model.pooling=max"],
    ],
)
def test_padding_never_changes_a_prediction(overrides):
    model = build_classifier(tiny_config(*overrides), num_classes=3)
    probabilities = model(TOKENS).numpy()
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    assert np.isfinite(probabilities).all()  # the all-padding row too
    longer = np.pad(TOKENS, ((0, 0), (0, 4)))
    np.testing.assert_allclose(model(longer).numpy(), probabilities, atol=1e-6)


@pytest.mark.parametrize("pooling", ["last", "max", "mean", "max_mean", "attention"])
def test_keras_round_trip(tmp_path, pooling):
    config = tiny_config(f"model.pooling={pooling}", "model.bidirectional=true")
    model = build_classifier(config, num_classes=2)
    expected = model(TOKENS).numpy()
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded(TOKENS).numpy(), expected, atol=1e-6)


def test_embedding_size_follows_the_vectorizer():
    class FakeVectorizer:
        def vocabulary_size(self):
            return 11

    model = build_classifier(tiny_config(), FakeVectorizer(), num_classes=2)
    assert model.get_layer("embedding").input_dim == 11


def test_every_configured_cell_has_a_layer():
    from textlstm import config
    from textlstm.model import classifier as models

    assert sorted(models._LAYERS) == sorted(config.CELLS)
    assert sorted(models._KERAS_LAYERS) == sorted(config.KERAS_CELLS)


@pytest.mark.parametrize(
    "overrides, count",
    [
        (["model.cell=lstm", "model.layers=2"], 2),
        (["model.cell=gru", "model.bidirectional=true"], 2),
        (["model.impl=keras", "model.cell=lstm"], 1),
    ],
)
def test_recurrent_l2_penalizes_every_recurrent_kernel(overrides, count):
    model = build_classifier(
        tiny_config("model.recurrent_l2=0.5", *overrides), num_classes=2
    )
    model(TOKENS)
    kernels = [w for w in model.weights if w.path.endswith("recurrent_kernel")]
    expected = sum(0.5 * float(np.sum(np.square(w.numpy()))) for w in kernels)
    assert len(kernels) == count
    assert float(sum(model.losses)) == pytest.approx(expected, rel=1e-5)
    plain = build_classifier(tiny_config(*overrides), num_classes=2)
    plain(TOKENS)
    assert plain.losses == []
