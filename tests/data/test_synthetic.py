"""The synthetic reviews: deterministic, bag-of-words blind, LSTM-solvable."""

import keras
import numpy as np
import pytest

from textlstm.data import load_dataset
from textlstm.data.synthetic import _NEGATIVE, _POSITIVE, generate_reviews
from textlstm.text import build_vectorizer, make_batches


def test_deterministic_per_seed_and_split():
    texts, labels = generate_reviews(50, seed=7)
    assert (texts, labels) == generate_reviews(50, seed=7)
    assert texts != generate_reviews(50, seed=8)[0]
    assert texts != generate_reviews(50, seed=7, split="test")[0]
    assert texts[:10] == generate_reviews(10, seed=7)[0]  # any size, same prefix


def test_every_review_has_one_positive_and_one_negative_opinion():
    texts, labels = generate_reviews(300, seed=0)
    positive, negative = set(_POSITIVE), set(_NEGATIVE)
    for text, label in zip(texts, labels):
        words = text.split()
        opinions = [w for w in words if w in positive or w in negative]
        assert len(opinions) == 2
        assert (opinions[1] in positive) == bool(label)  # the last one decides
        assert (opinions[0] in positive) != (opinions[1] in positive)
    assert 0.45 < np.mean(labels) < 0.55


@pytest.mark.parametrize("distance", [0, 10, 40])
def test_distance_is_the_gap_after_the_verdict(distance):
    texts, _ = generate_reviews(100, distance=distance, seed=0)
    opinions = set(_POSITIVE) | set(_NEGATIVE)
    for text in texts:
        words = text.split()
        last = max(i for i, w in enumerate(words) if w in opinions)
        gap = len(words) - last - 2  # the verdict's " ." is not neutral talk
        assert distance <= gap <= 2 * distance + 14  # a sentence may overshoot


def test_default_lengths_fit_the_default_sequence_length():
    texts, _ = generate_reviews(1000)
    lengths = [len(t.split()) for t in texts]
    assert 40 <= min(lengths) and max(lengths) <= 130


def test_bag_of_words_stays_at_chance():
    bundle = load_dataset({"size": 2000, "test_size": 500})
    counts = keras.layers.TextVectorization(output_mode="count")
    counts.adapt(bundle.train.map(lambda text, label: text).batch(512))

    def arrays(ds):
        texts, labels = ds.batch(10_000).get_single_element()
        return np.asarray(counts(texts)), labels.numpy()

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((counts.vocabulary_size(),)), keras.layers.Dense(2)]
    )
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(*arrays(bundle.train), epochs=30, batch_size=256, verbose=0)
    train_accuracy = model.evaluate(*arrays(bundle.train), verbose=0)[1]
    test_accuracy = model.evaluate(*arrays(bundle.test), verbose=0)[1]
    assert train_accuracy > 0.6  # it does fit the words of the train set...
    assert test_accuracy <= 0.60  # ...which say nothing about the label


def test_small_lstm_learns_it():
    bundle = load_dataset({"size": 3000, "test_size": 500}, seed=1)
    vectorizer = build_vectorizer(
        {"sequence_length": 48, "padding": "pre", "truncation": "pre"}, bundle.train
    )
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int64"),
            keras.layers.Embedding(vectorizer.vocabulary_size(), 32, mask_zero=True),
            keras.layers.LSTM(32),
            keras.layers.Dense(2),
        ]
    )
    model.compile(
        keras.optimizers.Adam(0.005),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    train = make_batches(bundle.train, vectorizer, 64, shuffle=True, seed=1)
    model.fit(train, epochs=4, verbose=0, shuffle=False)  # make_batches shuffles
    test = make_batches(bundle.test, vectorizer, 256, shuffle=False, seed=1)
    assert model.evaluate(test, verbose=0)[1] >= 0.95
