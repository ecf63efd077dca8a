"""Standardization, the TextVectorizer layer, vocabulary files and batching."""

import inspect

import keras
import numpy as np
import pytest
import tensorflow as tf

from textlstm.config import ConfigError, default_config, load_config
from textlstm.text import (
    TextVectorizer,
    bucket_boundaries,
    build_vectorizer,
    make_batches,
    read_vocabulary,
    standardize,
    standardize_text,
    text_config,
    write_vocabulary,
)

TEXTS = ["A good film", "a BAD film<br /><br />really bad", "good, good, good!"]


def strings(*texts):
    return tf.data.Dataset.from_tensor_slices(list(texts))


def ids(vectorizer, *texts):
    return vectorizer(tf.constant(list(texts))).numpy().tolist()


def test_standardize_html_punctuation_case_unicode():
    got = standardize(
        [
            "I <br />didn't LIKE it...  at all!",
            "Ünïcode ÉCOLE — “quoted” &amp; done",
            "tabs\tand\x00control\x1fchars\n",
            "",
            "   ",
            "emoji 😀 stays",
        ]
    )
    assert [s.decode() for s in got.numpy()] == [
        "i didnt like it at all",
        "ünïcode école quoted done",
        "tabs and control chars",
        "",
        "",
        "emoji 😀 stays",
    ]


def test_standardize_invalid_utf8_does_not_fail():
    assert standardize(tf.constant([b"ok \xff bytes"])).numpy()[0] == (
        "ok \ufffd bytes".encode()
    )


def test_partial_config_defaults_and_errors():
    assert text_config({"sequence_length": 8}) == {
        "max_tokens": 20000,
        "sequence_length": 8,
        "level": "word",
        "ngrams": 1,
        "lowercase": True,
        "strip_html": True,
        "strip_punctuation": True,
        "padding": "post",
        "truncation": "post",
        "bucketing": False,
    }
    with pytest.raises(
        ValueError, match="^text.padding: 'left' is not one of post, pre$"
    ):
        text_config({"padding": "left"})


def test_defaults_and_rules_are_the_config_schemas():
    assert text_config() == default_config()["text"]
    parameters = inspect.signature(TextVectorizer).parameters
    for key, default in default_config()["text"].items():
        if key != "bucketing":  # batching, not the layer
            assert parameters[key].default == default
    with pytest.raises(ConfigError) as from_config:
        load_config("quickstart", ["text.ngrams=3"])
    message = "text.ngrams: 3 is not one of 1, 2"
    assert str(from_config.value) == message
    for make in (lambda: text_config({"ngrams": 3}), lambda: TextVectorizer(ngrams=3)):
        with pytest.raises(ConfigError) as caught:
            make()
        assert str(caught.value) == message
    with pytest.raises(ConfigError) as caught:
        TextVectorizer(lowercase="yes")
    assert (
        str(caught.value) == "text.lowercase: expected true or false, got 'yes' (str)"
    )


@pytest.mark.parametrize(
    "padding, truncation, expected",
    [
        ("post", "post", [[2, 4, 3, 1], [2, 0, 0, 0]]),
        ("pre", "post", [[2, 4, 3, 1], [0, 0, 0, 2]]),
        ("post", "pre", [[4, 3, 1, 2], [2, 0, 0, 0]]),
        ("pre", "pre", [[4, 3, 1, 2], [0, 0, 0, 2]]),
    ],
)
def test_padding_and_truncation(padding, truncation, expected):
    vectorizer = build_vectorizer(
        {"sequence_length": 4, "padding": padding, "truncation": truncation},
        strings(*TEXTS),
    )
    vocabulary = ["", "[UNK]", "good", "film", "bad", "a", "really"]
    assert vectorizer.get_vocabulary() == vocabulary
    assert ids(vectorizer, "good bad film zzz good", "good") == expected


def test_character_level_and_bigrams():
    chars = build_vectorizer(
        {"level": "character", "sequence_length": 5}, strings("abba", "ab")
    )
    assert chars.get_vocabulary() == ["", "[UNK]", "b", "a"]
    assert ids(chars, "Ab c") == [[3, 2, 1, 1, 0]]
    bigrams = build_vectorizer({"ngrams": 2, "sequence_length": 6}, strings("a b a b"))
    vocabulary = bigrams.get_vocabulary()
    assert set(vocabulary) == {"", "[UNK]", "a", "b", "a b", "b a"}
    index = {token: i for i, token in enumerate(vocabulary)}
    assert ids(bigrams, "a b") == [[index["a"], index["b"], index["a b"], 0, 0, 0]]


def test_empty_and_whitespace_texts_are_all_padding():
    vectorizer = build_vectorizer({"sequence_length": 3}, strings(*TEXTS))
    assert ids(vectorizer, "", "   \t ", "<br />") == [[0, 0, 0]] * 3


def test_same_data_same_vocabulary_and_file(tmp_path):
    first = build_vectorizer({}, strings(*TEXTS))
    second = build_vectorizer({}, strings(*TEXTS))
    assert first.get_vocabulary() == second.get_vocabulary()
    path = tmp_path / "vocab.txt"
    assert write_vocabulary(first, path) == first.vocabulary_size() == 7
    assert read_vocabulary(path) == first.get_vocabulary()
    assert path.read_text(encoding="utf-8").startswith("\n[UNK]\ngood\n")
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.txt"]  # no temp left
    assert write_vocabulary(second, path) == 7  # replaces the file in place
    assert read_vocabulary(path) == first.get_vocabulary()
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.txt"]


def tiny_classifier(vocabulary_size: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int64"),
            keras.layers.Embedding(vocabulary_size, 8, mask_zero=True),
            keras.layers.LSTM(6),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )


def test_padding_never_changes_a_prediction():
    vocabulary = build_vectorizer({}, strings(*TEXTS)).get_vocabulary()[2:]
    model = tiny_classifier(len(vocabulary) + 2)
    texts = tf.constant(TEXTS + ["", "zzz unknown words only"])
    predictions = []
    for padding in ("post", "pre"):
        for length in (200, 400):
            layer = TextVectorizer(
                sequence_length=length, padding=padding, vocabulary=vocabulary
            )
            predictions.append(model(layer(texts)).numpy())
    for other in predictions[1:]:
        np.testing.assert_allclose(other, predictions[0], atol=1e-6)
    assert np.isfinite(predictions[0]).all()


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_model_with_vectorizer_round_trips_through_keras_file(tmp_path, padding):
    vectorizer = build_vectorizer(
        {"sequence_length": 10, "padding": padding, "ngrams": 2}, strings(*TEXTS)
    )
    inputs = keras.Input(shape=(), dtype="string")
    outputs = tiny_classifier(vectorizer.vocabulary_size())(vectorizer(inputs))
    model = keras.Model(inputs, outputs)
    texts = tf.constant(TEXTS + ["", "unseen words"])
    expected = model.predict(texts, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(loaded.predict(texts, verbose=0), expected, atol=1e-6)
    layer = next(lay for lay in loaded.layers if isinstance(lay, TextVectorizer))
    assert layer.get_vocabulary() == vectorizer.get_vocabulary()
    assert layer.get_config() == vectorizer.get_config()


def test_plain_text_vectorization_with_registered_standardize(tmp_path):
    layer = keras.layers.TextVectorization(standardize=standardize)
    layer.adapt(["Hello<br />WORLD!"])
    model = keras.Sequential([keras.Input(shape=(1,), dtype="string"), layer])
    model.save(tmp_path / "plain.keras")
    loaded = keras.saving.load_model(tmp_path / "plain.keras")
    assert loaded(tf.constant([["world, hello"]])).numpy().tolist() == [[2, 3]]


def labelled_texts():
    texts = [" ".join(["word"] * n) for n in (1, 30, 2, 40, 3, 50, 4, 60)]
    return tf.data.Dataset.from_tensor_slices((texts, list(range(8))))


def test_make_batches_shapes_and_seeded_shuffle():
    ds = labelled_texts()
    vectorizer = build_vectorizer({"sequence_length": 64}, ds)

    def order(seed):
        batches = make_batches(ds, vectorizer, 3, shuffle=True, seed=seed)
        return [batch[1].numpy().tolist() for batch in batches]

    plain = list(make_batches(ds, vectorizer, 3, shuffle=False, seed=0))
    assert [tuple(x.shape) for x, _ in plain] == [(3, 64), (3, 64), (2, 64)]
    assert plain[0][1].dtype == tf.int64
    assert order(1) == order(1) != order(2)
    assert sorted(sum(order(1), [])) == list(range(8))


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_bucketing_groups_lengths_and_trims_padding(padding):
    ds = labelled_texts()
    vectorizer = build_vectorizer({"sequence_length": 64, "padding": padding}, ds)
    batches = list(
        make_batches(ds, vectorizer, 4, shuffle=True, seed=0, bucketing=True)
    )
    assert sorted(sum((b[1].numpy().tolist() for b in batches), [])) == list(range(8))
    model = tiny_classifier(vectorizer.vocabulary_size())
    widths = set()
    for token_ids, labels in batches:
        lengths = np.count_nonzero(token_ids.numpy(), axis=1)
        edge = min(e for e in [*bucket_boundaries(64), 64] if e >= lengths.max())
        assert token_ids.shape[1] == edge  # cut to the bucket's edge
        widths.add(edge)
        assert set(lengths < 16) in ({True}, {False})  # one bucket per batch
        full = vectorizer(
            tf.gather(tf.constant([t for t, _ in ds.as_numpy_iterator()]), labels)
        )
        np.testing.assert_allclose(model(token_ids), model(full), atol=1e-6)
    assert min(widths) < 64  # some padding was trimmed


#: Every kind of Unicode separator: no-break, em, ideographic, narrow no-break,
#: line separator, ogham, paragraph separator, figure and math spaces.
SEPARATORS = "\u00a0\u2003\u3000\u202f\u2028\u1680\u2029\u2007\u205f"


@pytest.mark.parametrize("space", list(SEPARATORS))
def test_every_unicode_separator_splits_words(space):
    text = f"a{space}great{space}{space}film{space}"
    assert standardize_text([text]).numpy().tolist() == [b"a great film"]
    # Version 1 (runs trained before the rules were versioned) kept them.
    assert standardize_text([text], version=1).numpy()[0].decode() == text


def test_the_vectorizer_gives_the_same_ids_across_unicode_spaces():
    vectorizer = TextVectorizer(sequence_length=6)
    vectorizer.adapt(["a good film", "a bad film"])
    ascii_ids = vectorizer(["a good film ok"]).numpy()
    for space in SEPARATORS:
        ids = vectorizer([f"a{space}good{space}film ok"]).numpy()
        np.testing.assert_array_equal(ids, ascii_ids)


def test_a_vectorizer_saved_before_versions_keeps_the_old_rules(tmp_path):
    import keras

    layer = TextVectorizer(sequence_length=3, vocabulary=["great", "film"])
    config = layer.get_config()
    assert config["standardizer_version"] == 2
    del config["standardizer_version"]  # what a model saved before wrote
    old = TextVectorizer.from_config(config)
    assert old.standardizer_version == 1
    assert old(["great\u00a0film"]).numpy().tolist() == [[1, 0, 0]]
    assert layer(["great\u00a0film"]).numpy().tolist() == [[2, 3, 0]]
    # The version survives a .keras round trip, old and new.
    for vectorizer, expected in ((old, [[1, 0, 0]]), (layer, [[2, 3, 0]])):
        text = keras.Input(shape=(), dtype="string")
        model = keras.Model(text, vectorizer(text))
        model.save(tmp_path / "m.keras")
        loaded = keras.models.load_model(tmp_path / "m.keras")
        assert (
            loaded.predict(
                np.array(["great\u00a0film"], dtype=object), verbose=0
            ).tolist()
            == expected
        )


def test_an_unknown_standardizer_version_is_refused():
    with pytest.raises(ValueError, match="standardizer_version 3 is not one of 1, 2"):
        TextVectorizer(standardizer_version=3)
