"""Tests of `textlstm.training.unfreezing`: the groups, what each epoch trains, and
a fit that ends with nothing frozen."""

import numpy as np
import pytest

from tests.conftest import EXPORT_RUN
from textlstm.config import ConfigError, load_config
from textlstm.model import build_classifier
from textlstm.training import fit, unfreezing

SMALL = ["text.max_tokens=40", "model.units=4", "model.embedding_dim=3"]
IDS = np.array([[4, 9, 3, 7, 0], [12, 5, 0, 0, 0], [8, 8, 2, 31, 17]])
LABELS = np.array([1, 0, 1])


def names(groups):
    return [[layer.name for layer in group] for group in groups]


def test_groups_run_from_the_head_down_to_the_embedding():
    config = load_config(
        "quickstart",
        [*SMALL, "model.layers=2", "model.pooling=attention", "model.head_units=5"],
    )
    model = build_classifier(config, num_classes=2)
    assert names(unfreezing.layer_groups(model)) == [
        ["attention_pooling", "head", "probabilities"],
        ["lstm_2"],
        ["lstm_1"],
        ["embedding"],
    ]


def test_a_bidirectional_layer_is_one_group():
    config = load_config("quickstart", [*SMALL, "model.bidirectional=true"])
    model = build_classifier(config, num_classes=2)
    assert names(unfreezing.layer_groups(model)) == [
        ["probabilities"],
        ["bidirectional_lstm_1"],
        ["embedding"],
    ]


@pytest.mark.parametrize(
    "epoch, changed",
    [
        (0, {"probabilities"}),
        (1, {"probabilities", "lstm_1"}),
        (2, {"probabilities", "lstm_1", "embedding"}),
        (7, {"probabilities", "lstm_1", "embedding"}),
    ],
)
def test_each_epoch_trains_exactly_its_groups(epoch, changed):
    import keras

    config = load_config("quickstart", SMALL)
    keras.utils.set_random_seed(0)
    model = build_classifier(config, num_classes=2)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    frozen = unfreezing.unfreeze_for_epoch(model, epoch)
    assert frozen == max(0, 2 - epoch)
    before = {
        layer.name: [w.numpy().copy() for w in layer.weights] for layer in model.layers
    }
    model.fit(IDS, LABELS, epochs=1, batch_size=3, verbose=0)
    moved = {
        layer.name
        for layer in model.layers
        if any(
            not np.array_equal(w.numpy(), b)
            for w, b in zip(layer.weights, before[layer.name])
        )
    }
    assert moved == changed


def test_frozen_embeddings_stay_frozen_when_their_turn_comes():
    config = load_config("quickstart", [*SMALL, "model.embeddings_trainable=false"])
    model = build_classifier(config, num_classes=2)
    unfreezing.unfreeze_for_epoch(model, 5, embeddings_trainable=False)
    assert not model.get_layer("embedding").trainable
    assert model.get_layer("lstm_1").trainable


def test_fit_unfreezes_gradually_and_saves_nothing_frozen(tmp_path):
    import keras

    config = load_config("quickstart", [*EXPORT_RUN, "train.gradual_unfreezing=true"])
    lines = []
    fit(config, tmp_path / "run", verbose=0, log=lines.append)
    assert "Epoch 1: the 2 lowest layer groups frozen (gradual unfreezing)" in lines
    assert "Epoch 2: the lowest layer group frozen (gradual unfreezing)" in lines
    model = keras.saving.load_model(tmp_path / "run" / "model.keras")
    assert all(layer.trainable for layer in model.get_layer("classifier").layers)


def test_gradual_unfreezing_needs_the_default_strategy():
    with pytest.raises(ConfigError) as error:
        load_config(None, ["train.gradual_unfreezing=true", "train.strategy=tpu"])
    assert str(error.value) == (
        "train.gradual_unfreezing: needs train.strategy default (one device), not 'tpu'"
    )
