"""`train.pair_loss`: the pairwise term, its gradient by hand, its batches,
the config rules around it, and a tiny run trained with pairs."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf

from textlstm.config import ConfigError, load_config
from textlstm.robustness.pairs import PairSet
from textlstm.training.pairing import pair_batches, pair_term

from .conftest import EXPORT_RUN


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_the_term_and_its_gradient_equal_the_formulas_by_hand():
    z_o = tf.Variable([[0.3, -0.2], [1.0, 0.5], [-0.4, 0.9]], dtype=tf.float64)
    z_e = tf.Variable([[0.1, 0.4], [0.2, 0.2], [0.7, -1.1]], dtype=tf.float64)
    y_o, y_e = np.array([0, 1, 1]), np.array([1, 0, 0])
    with tf.GradientTape() as tape:
        term = pair_term(tf.nn.softmax(z_o), tf.nn.softmax(z_e), y_o, y_e)
    g_o, g_e = tape.gradient(term, [z_o, z_e])
    zo, ze, rows = z_o.numpy(), z_e.numpy(), np.arange(3)
    # delta: how far the edit moved the log-odds towards the edit's label.
    delta = (ze[rows, y_e] - ze[rows, y_o]) - (zo[rows, y_e] - zo[rows, y_o])
    assert float(term) == pytest.approx(np.mean(np.log1p(np.exp(-delta))), abs=1e-12)
    # d softplus(-delta) / d delta = -sigmoid(-delta), over 3 pairs.
    slope = -1.0 / (1.0 + np.exp(delta)) / 3
    expected_e, expected_o = np.zeros((3, 2)), np.zeros((3, 2))
    expected_e[rows, y_e] += slope
    expected_e[rows, y_o] -= slope
    expected_o[rows, y_e] -= slope
    expected_o[rows, y_o] += slope
    np.testing.assert_allclose(g_e.numpy(), expected_e, atol=1e-12)
    np.testing.assert_allclose(g_o.numpy(), expected_o, atol=1e-12)


def test_a_model_that_does_not_move_pays_log_2_and_one_that_flips_little():
    same = np.array([[0.8, 0.2], [0.3, 0.7]], np.float32)
    assert float(pair_term(same, same, [0, 1], [1, 0])) == pytest.approx(math.log(2))
    flipped = same[:, ::-1].copy()
    # delta = 2 * log(4) and 2 * log(7/3): softplus(-delta) is small.
    expected = np.mean(np.log1p([1 / 16, (3 / 7) ** 2]))
    assert float(pair_term(same, flipped, [0, 1], [1, 0])) == pytest.approx(
        expected, rel=1e-5
    )


def test_pair_batches_hold_whole_pairs_cut_to_their_longest_text():
    from textlstm.text import build_vectorizer

    pairs = PairSet(
        originals=["good film", "a very bad film indeed", "fine"],
        edits=["bad film", "a very good film indeed", "poor"],
        original_labels=np.array([1, 0, 1]),
        edit_labels=np.array([0, 1, 0]),
        class_names=["neg", "pos"],
    )
    texts = tf.data.Dataset.from_tensor_slices(pairs.originals + pairs.edits)
    vectorizer = build_vectorizer({"sequence_length": 12}, texts.map(lambda t: (t, 0)))
    batches = pair_batches(pairs, vectorizer, 2, seed=0)
    seen = []
    for originals, edits, y_o, y_e in batches.take(3):
        assert originals.shape == edits.shape
        longest = max(
            int(np.count_nonzero(row)) for row in [*originals.numpy(), *edits.numpy()]
        )
        assert originals.shape == (2, longest)
        assert (y_o.numpy() != y_e.numpy()).all()
        vocabulary = vectorizer.get_vocabulary()
        for o, e in zip(originals.numpy(), edits.numpy()):
            seen.append(
                (
                    " ".join(vocabulary[i] for i in o if i),
                    " ".join(vocabulary[i] for i in e if i),
                )
            )
    # Endless: 3 batches of 2 pairs from 3 pairs, each pair whole.
    assert len(seen) == 6
    assert set(seen) == set(zip(pairs.originals, pairs.edits))


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["train.pair_loss=1.0"],
            "train.pair_loss: needs data.pairs (the pairs whose two texts it "
            "pulls apart)",
        ),
        (
            ["data.pairs=p.tsv", "train.pair_loss=1.0", "train.adversarial=0.02"],
            "train.pair_loss: cannot be combined with train.adversarial (each "
            "replaces the training step)",
        ),
        (
            ["data.pairs=p.tsv", "train.pair_loss=1.0", "train.strategy=mirrored"],
            "train.pair_loss: needs train.strategy default (one device), not "
            "'mirrored'",
        ),
        (
            ["data.pair_edits=e.tsv"],
            "data.pair_edits: needs data.pairs (the originals, row by row)",
        ),
        (
            ["data.counterfactuals=1.5"],
            "data.counterfactuals: 1.5 is above the maximum 1.0",
        ),
        (["data.pairs_repeat=0"], "data.pairs_repeat: 0 is below the minimum 1"),
    ],
)
def test_the_reading_keys_are_checked(overrides, message):
    with pytest.raises(ConfigError) as caught:
        load_config("quickstart", overrides)
    assert str(caught.value) == message


def test_a_run_with_pairs_counterfactuals_and_the_pair_term(tmp_path):
    from textlstm.training import fit

    pairs = tmp_path / "pairs.jsonl"
    rows = [
        ("an excellent and moving film .", "pos", 1),
        ("a dull and lifeless film .", "neg", 1),
        ("i did not like it at all .", "neg", 2),
        ("i did like it a lot .", "pos", 2),
    ]
    pairs.write_text(
        "".join(
            json.dumps({"text": t, "label": y, "pair_id": i}) + "\n" for t, y, i in rows
        )
    )
    config = load_config(
        "quickstart",
        [
            *EXPORT_RUN,
            "train.epochs=1",
            f"data.pairs={pairs}",
            "data.pairs_repeat=2",
            "data.counterfactuals=0.5",
            "train.pair_loss=0.5",
            "train.pair_batch_size=2",
        ],
    )
    result = fit(config, tmp_path / "run", verbose=0)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    reading = run["reading_data"]
    assert reading["pairs"]["pairs"] == 2
    assert reading["pairs"]["texts"] == 8
    assert reading["counterfactuals"]["tried"] == 90  # half the 180 training texts
    assert reading["added"] == 8 + reading["counterfactuals"]["kept"]
    assert "pair_loss" in result.history[0]
    assert 0.0 < result.history[0]["pair_loss"] < 10.0
