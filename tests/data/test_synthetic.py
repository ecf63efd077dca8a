"""The synthetic reviews (version 2): deterministic, the last opinion
decides, nothing but memory predicts it, and an LSTM learns it."""

import collections

import keras
import numpy as np
import pytest

from textlstm.data import load_dataset
from textlstm.data.synthetic import (
    _FINAL_LEADS,
    _FIRST_LEADS,
    _LEADS,
    _NEGATIVE,
    _POSITIVE,
    GENERATOR_VERSION,
    generate_reviews,
)
from textlstm.text import build_vectorizer, make_batches

OPINION_WORDS = set(_POSITIVE) | set(_NEGATIVE)


def opinions(text: str) -> list[tuple[int, str]]:
    """(word index, word) of each opinion word of a review."""
    return [(i, w) for i, w in enumerate(text.split()) if w in OPINION_WORDS]


def test_deterministic_per_seed_and_split():
    texts, labels = generate_reviews(50, seed=7)
    assert (texts, labels) == generate_reviews(50, seed=7)
    assert texts != generate_reviews(50, seed=8)[0]
    assert texts != generate_reviews(50, seed=7, split="test")[0]
    assert texts[:10] == generate_reviews(10, seed=7)[0]  # any size, same prefix
    assert GENERATOR_VERSION == 2


def test_the_last_opinion_decides_and_counts_vary():
    texts, labels = generate_reviews(3000, seed=0)
    counts = collections.Counter()
    for text, label in zip(texts, labels):
        found = [w in _POSITIVE for _, w in opinions(text)]
        assert 1 <= len(found) <= 3
        assert found[-1] == bool(label)  # the last one decides
        counts[len(found)] += 1
    assert 0.47 < np.mean(labels) < 0.53
    shares = {n: counts[n] / len(texts) for n in (1, 2, 3)}
    assert 0.17 < shares[1] < 0.23 and 0.37 < shares[2] < 0.43
    assert 0.37 < shares[3] < 0.43


def test_opinion_counts_say_little_about_the_label():
    """Only reviews whose opinions all agree give the label away by counts."""
    texts, labels = generate_reviews(4000, seed=1)
    agree, majority_right = 0, []
    for text, label in zip(texts, labels):
        found = [w in _POSITIVE for _, w in opinions(text)]
        if len(set(found)) == 1:
            agree += 1
        elif len(found) == 3:
            majority = sum(found) >= 2
            majority_right.append(majority == bool(label))
    assert 0.25 < agree / len(texts) < 0.31
    # of the 3-opinion reviews that disagree, the majority is right half the time
    assert 0.45 < np.mean(majority_right) < 0.55


def test_leads_say_nothing_about_which_opinion_is_last():
    texts, _ = generate_reviews(3000, seed=2)
    first, final = set(_FIRST_LEADS), set(_FINAL_LEADS)
    # The lead of each opinion: the words before its sentence, if a lead.
    share = {"last": collections.Counter(), "earlier": collections.Counter()}
    for text in texts:
        sentences = [s.strip() for s in text.split(" .") if s.strip()]
        with_opinion = [s for s in sentences if set(s.split()) & OPINION_WORDS]
        for index, sentence in enumerate(with_opinion):
            where = "last" if index == len(with_opinion) - 1 else "earlier"
            lead = next((lead for lead in _LEADS if sentence.startswith(lead)), None)
            kind = "first" if lead in first else "final" if lead in final else "other"
            share[where][kind if lead else "none"] += 1
    for kind in ("first", "final", "other", "none"):
        last = share["last"][kind] / sum(share["last"].values())
        earlier = share["earlier"][kind] / sum(share["earlier"].values())
        assert abs(last - earlier) < 0.03, (kind, last, earlier)


def test_position_of_the_deciding_opinion_varies():
    texts, _ = generate_reviews(2000, seed=3)
    starts, gaps = [], []
    for text in texts:
        index, _ = opinions(text)[-1]
        starts.append(index)
        gaps.append(len(text.split()) - index - 2)
    assert min(starts) <= 5 and max(starts) >= 100
    assert min(gaps) == 0 and max(gaps) >= 20


@pytest.mark.parametrize(
    "distance, min_distance", [(0, 0), (10, 0), (10, 10), (40, 40), (25, 50)]
)
def test_distance_bounds_the_gap_after_the_verdict(distance, min_distance):
    texts, _ = generate_reviews(
        200, distance=distance, min_distance=min_distance, seed=0
    )
    gaps = []
    for text in texts:
        index, _ = opinions(text)[-1]
        gaps.append(len(text.split()) - index - 2)  # " ." is not neutral talk
    assert min(gaps) >= min_distance
    assert max(gaps) <= 2 * distance + 15  # a sentence may overshoot


def test_bad_distances_are_refused():
    with pytest.raises(ValueError, match=r"min_distance must be in \[0, 2 \* "):
        generate_reviews(3, distance=5, min_distance=11)
    with pytest.raises(ValueError, match="distance must be >= 0, got -1"):
        generate_reviews(3, distance=-1)


def test_default_lengths_fit_the_default_sequence_length():
    texts, _ = generate_reviews(2000)
    lengths = [len(t.split()) for t in texts]
    assert min(lengths) <= 15 and max(lengths) <= 200


def bag_of_words_accuracy(bundle, ngrams=None) -> tuple[float, float]:
    """(train, test) accuracy of logistic regression on word counts."""
    counts = keras.layers.TextVectorization(output_mode="count", ngrams=ngrams)
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
    return train_accuracy, model.evaluate(*arrays(bundle.test), verbose=0)[1]


@pytest.mark.parametrize("ngrams", [None, 2])
def test_bag_of_words_stays_far_below(ngrams):
    bundle = load_dataset({"size": 3000, "test_size": 1000})
    train_accuracy, test_accuracy = bag_of_words_accuracy(bundle, ngrams)
    assert train_accuracy > 0.6  # it does fit the words of the train set...
    assert test_accuracy <= 0.75  # ...which only give away agreeing opinions


def test_small_lstm_learns_it_at_the_default_distance():
    bundle = load_dataset({"size": 3000, "test_size": 1000}, seed=1)
    vectorizer = build_vectorizer(
        {"sequence_length": 200, "truncation": "pre"}, bundle.train
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
    train = make_batches(bundle.train, vectorizer, 32, shuffle=True, seed=1)
    model.fit(train, epochs=4, verbose=0, shuffle=False)  # make_batches shuffles
    test = make_batches(bundle.test, vectorizer, 256, shuffle=False, seed=1)
    assert model.evaluate(test, verbose=0)[1] >= 0.95
