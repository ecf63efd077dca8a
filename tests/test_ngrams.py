"""Tests of `textlstm.model.ngrams`: the tf-idf n-gram features against a NumPy
reference, what the n-gram model learns, and `model.ngram_ensemble` from
`fit` to `model.keras` and a SavedModel."""

import json
import math
from collections import Counter

import keras
import numpy as np
import pytest
import tensorflow as tf

from textlstm import evaluation
from textlstm import export as export_lib
from textlstm.config import load_config
from textlstm.errors import ConfigError, ExportError
from textlstm.evaluation import predict_texts
from textlstm.model import load_text_classifier, ngrams
from textlstm.training import fit

VOCABULARY = 50
BUCKETS = 64


def reference_features(row, ngrams_, idf):
    """sklearn's sublinear tf-idf of one row of ids, by hand: feature id ->
    value, L2-normalized."""
    ids = [int(i) for i in row if i > 0]
    row = [int(i) for i in row]
    features = Counter(ids)
    for n in range(2, ngrams_ + 1):
        for start in range(len(row) - n + 1):
            gram = row[start : start + n]
            if min(gram) <= 0:
                continue
            hashed = 0
            for token in gram:
                hashed = hashed * VOCABULARY + token
            mixed = (hashed * ngrams._MIX) % 2**64
            mixed = mixed - 2**64 if mixed >= 2**63 else mixed  # int64 wrap
            slot = (mixed & 0x7FFFFFFFFFFF) % BUCKETS
            features[VOCABULARY + slot] += 1
    values = {f: (1 + math.log(c)) * idf[f] for f, c in features.items()}
    norm = math.sqrt(sum(v * v for v in values.values())) or 1.0
    return {f: v / norm for f, v in values.items()}


@pytest.mark.parametrize("order", [1, 2, 3])
def test_logits_are_the_tf_idf_features_times_the_kernel(order):
    rng = np.random.default_rng(order)
    ids = rng.integers(1, VOCABULARY, size=(6, 12))
    ids[1, 7:] = 0  # padding
    ids[2, :] = 0  # an empty text
    ids[3, :6] = ids[3, 6:]  # repeated words and n-grams
    layer = ngrams.NgramLogits(3, VOCABULARY, ngrams=order, buckets=BUCKETS)
    layer.build()
    counts = rng.integers(0, 5, size=layer.num_features)
    layer.set_idf(counts, 10)
    kernel = rng.normal(size=(layer.num_features, 3)).astype(np.float32)
    layer.kernel.assign(kernel)
    layer.bias.assign(np.array([0.1, -0.2, 0.3], np.float32))
    idf = np.log(11 / (1 + counts)) + 1
    idf[counts < 2] = 0
    expected = []
    for row in ids:
        features = reference_features(row, order, idf)
        expected.append(
            sum((v * kernel[f] for f, v in features.items()), np.zeros(3))
            + [0.1, -0.2, 0.3]
        )
    np.testing.assert_allclose(layer(ids).numpy(), expected, atol=1e-5)
    # An empty text scores the bias alone.
    np.testing.assert_allclose(layer(ids).numpy()[2], [0.1, -0.2, 0.3], atol=1e-7)


def test_padding_never_changes_the_scores():
    layer = ngrams.NgramLogits(2, VOCABULARY, ngrams=2, buckets=BUCKETS)
    layer.build()
    layer.set_idf(np.full(layer.num_features, 3), 10)
    layer.kernel.assign(np.random.default_rng(0).normal(size=(layer.num_features, 2)))
    ids = np.array([[4, 9, 9, 17, 3]])
    padded = np.concatenate([ids, np.zeros((1, 7), int)], axis=1)
    np.testing.assert_allclose(layer(ids).numpy(), layer(padded).numpy(), atol=1e-6)


def test_document_frequencies_count_each_text_once():
    layer = ngrams.NgramLogits(2, VOCABULARY, ngrams=1)
    layer.build()
    batches = tf.data.Dataset.from_tensor_slices(
        (np.array([[5, 5, 5, 7], [5, 8, 0, 0], [9, 0, 0, 0]]), np.array([0, 1, 0]))
    ).batch(2)
    counts, texts = ngrams.document_frequencies(layer, batches)
    assert texts == 3
    assert {int(i): int(c) for i, c in enumerate(counts) if c} == {
        5: 2,
        7: 1,
        8: 1,
        9: 1,
    }


def word_pair_texts(rng, rows):
    """Texts whose class is the order of two words: `(5, 6)` somewhere in
    class 1, `(6, 5)` in class 0, among random other words: the words alone
    say nothing."""
    ids = rng.integers(7, VOCABULARY, size=(rows, 20))
    labels = rng.integers(0, 2, size=rows)
    starts = rng.integers(0, 19, size=rows)
    for row, (label, start) in enumerate(zip(labels, starts)):
        ids[row, start : start + 2] = (5, 6) if label else (6, 5)
    return tf.data.Dataset.from_tensor_slices((ids, labels)).batch(32)


@pytest.mark.parametrize("order, low, high", [(1, 0.3, 0.7), (2, 0.97, 1.0)])
def test_word_pairs_are_learned_only_with_bigrams(order, low, high):
    rng = np.random.default_rng(3)
    train, validation, test = (word_pair_texts(rng, n) for n in (600, 200, 1000))
    config = load_config(
        None, [f"model.ngram_ensemble={order}", f"model.ngram_buckets={2**12}"]
    )
    model, report = ngrams.fit_ngram_model(
        config, train, validation, vocabulary_size=VOCABULARY, num_classes=2
    )
    labels = np.concatenate([y for _, y in test])
    accuracy = model.predict(test.map(lambda x, y: x), verbose=0).argmax(1) == labels
    assert low <= accuracy.mean() <= high
    assert report["ngrams"] == order
    assert 1 <= report["best_epoch"] <= ngrams.NGRAM_EPOCHS
    assert report["features"] == VOCABULARY + (2**12 if order > 1 else 0)


TINY = [
    "data.size=240",
    "data.test_size=60",
    "text.max_tokens=300",
    "text.sequence_length=32",
    "model.units=8",
    "model.embedding_dim=8",
    "model.ngram_ensemble=2",
    "model.ngram_weight=0.3",
    "model.ngram_buckets=4096",
    "train.epochs=1",
    "train.batch_size=32",
]


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ngrams") / "run"
    return fit(load_config("quickstart", TINY), run_dir, verbose=0)


def test_the_run_averages_its_network_and_its_ngram_model(ensemble_run):
    model = load_text_classifier(ensemble_run.run_dir)
    texts = ["a film i will remember", "dull, dull and dull", "", "the plot"]
    ids = model.get_layer("vectorizer")(tf.constant(texts))
    network = model.get_layer("classifier")(ids).numpy()
    ngram = model.get_layer("ngrams")(ids).numpy()
    np.testing.assert_allclose(
        model(tf.constant(texts)).numpy(), 0.7 * network + 0.3 * ngram, atol=1e-6
    )
    predicted = [
        row["probabilities"] for row in predict_texts(ensemble_run.run_dir, texts)
    ]
    np.testing.assert_allclose(
        [list(p.values()) for p in predicted], 0.7 * network + 0.3 * ngram, atol=1e-6
    )


def test_metrics_and_run_json_record_both_models(ensemble_run):
    run_dir = ensemble_run.run_dir
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics["components"]) == {"network", "ngrams"}
    assert set(metrics["validation"]["components"]) == {"network", "ngrams"}
    assert all(0 <= v <= 1 for v in metrics["components"].values())
    info = json.loads((run_dir / "run.json").read_text())["ngram_model"]
    vocabulary = len((run_dir / "vocab.txt").read_text().splitlines())
    assert info["ngrams"] == 2 and info["features"] == vocabulary + 4096
    assert 0 < info["features_used"] < info["features"]


def test_the_saved_model_serves_the_average(ensemble_run, tmp_path):
    # verify=True: a fresh process compares the export with model.keras.
    result = export_lib.export_saved_model(ensemble_run.run_dir, tmp_path / "cpu")
    assert result.report.ok
    texts = ["a film i will remember", "dull, dull and dull"]
    from_run = [r["probabilities"] for r in predict_texts(ensemble_run.run_dir, texts)]
    exported = [r["probabilities"] for r in predict_texts(tmp_path / "cpu", texts)]
    for a, b in zip(from_run, exported):
        np.testing.assert_allclose(list(a.values()), list(b.values()), atol=1e-5)


@pytest.mark.parametrize("target", ["tpu", "litert"])
def test_targets_without_the_ngram_ops_refuse_in_one_line(
    ensemble_run, tmp_path, target
):
    with pytest.raises(ExportError, match="model.ngram_ensemble") as caught:
        export_lib.export_saved_model(
            ensemble_run.run_dir, tmp_path / target, target=target
        )
    assert "\n" not in str(caught.value)


def _identity(columns):
    """A model that outputs `columns` of its input: a stand-in for a
    trained part of the average whose probabilities the test chooses."""
    inputs = keras.Input(shape=(4,))
    return keras.Model(inputs, inputs[:, columns[0] : columns[1]])


def test_auto_weight_is_the_share_with_the_lowest_validation_loss():
    # Class 0 throughout. The network is right and sure on 4 texts in 5 and
    # wrong and sure on the fifth; the n-gram model always gives 0.55:
    # neither share 0 (log 0.01 on a fifth) nor 1 (log 0.55) is best.
    network = np.array([[0.99, 0.01]] * 4 + [[0.01, 0.99]]).repeat(20, axis=0)
    ngram = np.full((100, 2), [0.55, 0.45])
    batches = tf.data.Dataset.from_tensor_slices(
        (np.hstack([network, ngram]).astype("float32"), np.zeros(100, "int64"))
    ).batch(16)
    report = evaluation.mixture_weight(
        [_identity((0, 2)), _identity((2, 4))], "auto", batches
    )
    expected = {
        share: -np.mean(np.log((1 - share) * network[:, 0] + share * ngram[:, 0]))
        for share in evaluation.WEIGHT_GRID
    }
    assert list(report["validation_loss"]) == [str(s) for s in expected]
    np.testing.assert_allclose(
        list(report["validation_loss"].values()), list(expected.values()), atol=1e-5
    )
    assert report["weight"] == min(expected, key=expected.get)
    assert 0.0 < report["weight"] < 1.0
    assert report["chosen"] == "auto: the lowest loss on 100 validation texts"


def test_auto_weight_without_validation_texts_keeps_the_even_average():
    empty = tf.data.Dataset.from_tensor_slices(
        (np.zeros((0, 4), "float32"), np.zeros(0, "int64"))
    ).batch(16)
    report = evaluation.mixture_weight(
        [_identity((0, 2)), _identity((2, 4))], "auto", empty
    )
    assert report == {"weight": 0.5, "chosen": "auto, but no validation texts: 0.5"}


def test_a_weight_that_is_no_number_nor_auto_is_refused():
    assert load_config(None, ["model.ngram_weight=auto"])["model"]["ngram_weight"] == (
        "auto"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(None, ["model.ngram_weight=half"])
    assert str(caught.value) == (
        "model.ngram_weight: expected a number or auto, got 'half' (str)"
    )


def test_an_auto_weight_run_averages_with_the_share_it_chose(tmp_path):
    overrides = [o for o in TINY if not o.startswith("model.ngram_weight")]
    run = fit(
        load_config("quickstart", [*overrides, "model.ngram_weight=auto"]),
        tmp_path / "run",
        verbose=0,
    )
    info = json.loads((run.run_dir / "run.json").read_text())["ngram_model"]
    share = info["weight"]
    assert share in evaluation.WEIGHT_GRID
    losses = info["validation_loss"]
    assert len(losses) == 11 and losses[str(share)] == min(losses.values())
    validation = json.loads((run.run_dir / "metrics.json").read_text())["validation"]
    assert info["chosen"] == (
        f"auto: the lowest loss on {validation['num_examples']} validation texts"
    )
    model = load_text_classifier(run.run_dir)
    texts = ["a film i will remember", "dull, dull and dull", "the plot"]
    ids = model.get_layer("vectorizer")(tf.constant(texts))
    network = model.get_layer("classifier")(ids).numpy()
    ngram = model.get_layer("ngrams")(ids).numpy()
    np.testing.assert_allclose(
        model(tf.constant(texts)).numpy(),
        (1 - share) * network + share * ngram,
        atol=1e-6,
    )
