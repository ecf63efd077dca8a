"""Tests of `textlstm.evaluation`: metric values and plots."""

import itertools
import math

import numpy as np
import pytest

from textlstm.evaluation import (
    classification_metrics,
    plot_confusion_matrix,
    plot_learning_curves,
    roc_auc,
)


def test_three_class_metrics_by_hand():
    labels = [0, 0, 0, 1, 1, 2]
    predicted = [0, 0, 1, 1, 2, 2]
    probabilities = np.full((6, 3), 0.1)
    probabilities[np.arange(6), predicted] = 0.8
    metrics = classification_metrics(
        labels, probabilities, ["a", "b", "c"], split="test"
    )
    assert metrics["split"] == "test"
    assert metrics["num_examples"] == 6
    assert metrics["accuracy"] == round(4 / 6, 6)
    assert metrics["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert metrics["per_class"]["a"] == {
        "precision": 1.0,
        "recall": round(2 / 3, 6),
        "f1": 0.8,
        "support": 3,
    }
    assert metrics["per_class"]["b"]["precision"] == 0.5
    assert metrics["per_class"]["c"]["recall"] == 1.0
    f1 = [0.8, 0.5, round(2 / 3, 6)]
    assert metrics["macro_f1"] == pytest.approx(sum(f1) / 3, abs=1e-6)
    expected_loss = -(4 * math.log(0.8) + 2 * math.log(0.1)) / 6
    assert metrics["loss"] == pytest.approx(expected_loss, abs=1e-6)
    assert "roc_auc" not in metrics  # binary only


def test_binary_metrics_include_roc_auc():
    metrics = classification_metrics(
        [0, 1, 1, 0], [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]], ["neg", "pos"]
    )
    assert "split" not in metrics
    assert metrics["roc_auc"] == 0.75  # 3 of 4 (pos, neg) pairs ranked right
    assert metrics["accuracy"] == 0.5


def test_class_never_predicted_scores_zero_not_nan():
    metrics = classification_metrics([0, 1], [[0.9, 0.1], [0.8, 0.2]], ["x", "y"])
    assert metrics["per_class"]["y"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
    }


def test_roc_auc_matches_pair_counting():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 40)
    scores = np.round(rng.random(40), 1)  # many ties
    pairs = [
        1.0 if p > n else 0.5 if p == n else 0.0
        for p, n in itertools.product(scores[labels == 1], scores[labels == 0])
    ]
    assert roc_auc(labels, scores) == pytest.approx(np.mean(pairs), abs=1e-12)
    assert roc_auc(np.array([1, 1]), np.array([0.2, 0.3])) is None


def test_empty_split():
    metrics = classification_metrics([], np.zeros((0, 2)), ["a", "b"])
    assert metrics["num_examples"] == 0
    assert metrics["confusion_matrix"] == [[0, 0], [0, 0]]
    assert metrics["roc_auc"] is None


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match=r"expected \(2, 3\)"):
        classification_metrics([0, 1], np.zeros((2, 2)), ["a", "b", "c"])


def test_plots_are_pngs_written_atomically(tmp_path):
    history = [
        {
            "epoch": 1,
            "loss": 0.7,
            "accuracy": 0.5,
            "val_loss": 0.6,
            "val_accuracy": 0.6,
        },
        {
            "epoch": 2,
            "loss": 0.3,
            "accuracy": 0.9,
            "val_loss": 0.4,
            "val_accuracy": 0.8,
        },
    ]
    curves = plot_learning_curves(history, tmp_path / "plots" / "curves.png")
    matrix = plot_confusion_matrix(
        [[5, 1], [2, 7]], ["neg", "pos"], tmp_path / "plots" / "matrix.png"
    )
    for path in (curves, matrix):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert path.stat().st_size > 5000
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "curves.png",
        "matrix.png",
    ]
