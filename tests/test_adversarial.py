"""Tests of `textlstm.training.adversarial`: the perturbation, the training step
against gradients taken by hand, and the config rule."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import EXPORT_RUN
from textlstm.config import ConfigError, load_config
from textlstm.model import build_classifier
from textlstm.model.forward import AfterEmbedding
from textlstm.training import adversarial, fit

SMALL = [
    "text.max_tokens=40",
    "model.units=6",
    "model.embedding_dim=5",
    "model.pooling=max_mean",
    "model.embedding_dropout=0",
    "model.head_dropout=0",
    "model.recurrent_l2=0",
]
IDS = np.array([[4, 9, 3, 7, 0, 0], [12, 5, 0, 0, 0, 0], [8, 8, 2, 31, 17, 6]])
LABELS = np.array([1, 0, 1])


def test_the_perturbation_is_epsilon_of_each_texts_norm_and_0_at_padding():
    rng = np.random.default_rng(0)
    embedded = tf.constant(rng.normal(size=(3, 6, 5)), tf.float32)
    gradient = tf.constant(rng.normal(size=(3, 6, 5)), tf.float32)
    mask = tf.constant(IDS != 0)
    shift = adversarial.adversarial_perturbation(gradient, embedded, mask, 0.1).numpy()
    keep = (IDS != 0)[:, :, None]
    assert np.all(shift[~(IDS != 0)] == 0)
    for row in range(3):
        norm = np.linalg.norm(embedded.numpy()[row] * keep[row])
        np.testing.assert_allclose(np.linalg.norm(shift[row]), 0.1 * norm, rtol=1e-5)
        # The direction of the gradient on the real tokens.
        real = gradient.numpy()[row] * keep[row]
        cosine = np.sum(shift[row] * real) / (
            np.linalg.norm(shift[row]) * np.linalg.norm(real)
        )
        assert cosine == pytest.approx(1.0, abs=1e-6)


def test_a_zero_gradient_gives_no_perturbation():
    embedded = tf.ones((1, 3, 2))
    shift = adversarial.adversarial_perturbation(
        tf.zeros((1, 3, 2)), embedded, tf.constant([[True, True, False]]), 0.5
    )
    assert np.all(shift.numpy() == 0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_one_step_applies_the_clean_plus_the_adversarial_gradient(cell):
    import keras

    config = load_config("quickstart", [*SMALL, f"model.cell={cell}"])
    keras.utils.set_random_seed(3)
    model = build_classifier(config, num_classes=2)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=0.5),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    before = [w.numpy().copy() for w in model.trainable_weights]

    # By hand: the gradient of the clean loss, the step along it, the
    # gradient of the loss at the moved embedding outputs.
    after = AfterEmbedding(model)
    ids = tf.constant(IDS)
    mask = ids != 0
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        embedded = after.embedding(ids)
        loss = loss_fn(LABELS, after(embedded, mask).probabilities)
    *clean, direction = tape.gradient(loss, [*model.trainable_weights, embedded])
    shift = adversarial.adversarial_perturbation(direction, embedded, mask, 0.3)
    with tf.GradientTape() as tape:
        moved = after.embedding(ids) + shift
        moved_loss = loss_fn(LABELS, after(moved, mask).probabilities)
    moved_gradients = tape.gradient(moved_loss, model.trainable_weights)
    assert float(moved_loss) > float(loss)  # the step does raise the loss

    adversarial.install(model, 0.3)
    model.fit(IDS, LABELS, batch_size=3, epochs=1, verbose=0, shuffle=False)
    for weight, start, a, b in zip(
        model.trainable_weights, before, clean, moved_gradients
    ):
        expected = start - 0.5 * (tf.convert_to_tensor(a) + tf.convert_to_tensor(b))
        np.testing.assert_allclose(weight.numpy(), expected.numpy(), atol=1e-5)


def test_fit_trains_adversarially_and_saves_a_plain_model(tmp_path):
    import keras

    tiny = [*EXPORT_RUN, "train.epochs=1"]
    plain = fit(load_config("quickstart", tiny), tmp_path / "plain", verbose=0)
    moved = fit(
        load_config("quickstart", [*tiny, "train.adversarial=0.05"]),
        tmp_path / "moved",
        verbose=0,
    )
    # The same seed and batches: only the training step differs.
    assert moved.history[0]["loss"] != plain.history[0]["loss"]
    assert "adversarial: 0.05" in (tmp_path / "moved" / "config.yaml").read_text()
    model = keras.saving.load_model(tmp_path / "moved" / "model.keras")
    assert "train_step" not in vars(model.get_layer("classifier"))


def test_adversarial_training_needs_the_default_strategy():
    with pytest.raises(ConfigError) as error:
        load_config(None, ["train.adversarial=0.02", "train.strategy=mirrored"])
    assert str(error.value) == (
        "train.adversarial: needs train.strategy default (one device), not 'mirrored'"
    )


def test_epsilon_must_be_a_fraction():
    with pytest.raises(ConfigError, match=r"^train\.adversarial: "):
        load_config(None, ["train.adversarial=2"])
