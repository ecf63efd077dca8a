"""Tests of `textlstm.model.embeddings` and `model.embeddings`: pretrained word
vectors read from a local file into the classifier's embedding layer, on
made-up files of a few lines."""

import gzip
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from click.testing import CliRunner

from textlstm.cli import render
from textlstm.cli.main import cli
from textlstm.config import load_config
from textlstm.errors import ConfigError, DataError
from textlstm.export import export_saved_model
from textlstm.model import build_classifier, load_text_classifier
from textlstm.model.embeddings import embeddings_for_config, load_embeddings
from textlstm.text import read_vocabulary
from textlstm.training import fit

VOCABULARY = ["", "[UNK]", "the", "film", "plot", "actor", "zz"]
# film, the and actor are in the file; plot and zz are not.
VECTORS = {
    "film": [0.5, -1.0, 2.0],
    "the": [1.0, 2.0, 3.0],
    "actor": [-0.25, 0.0, 1e-3],
    "director": [9.0, 9.0, 9.0],
}
TINY = [
    "data.size=200",
    "data.test_size=60",
    "text.max_tokens=300",
    "text.sequence_length=32",
    "model.units=8",
    "train.epochs=1",
    "train.batch_size=32",
]


class FakeVectorizer:
    """What `build_classifier` asks of a vectorizer."""

    def __init__(self, vocabulary=VOCABULARY):
        self.vocabulary = list(vocabulary)

    def get_vocabulary(self):
        return self.vocabulary

    def vocabulary_size(self):
        return len(self.vocabulary)


def write_vectors(path, vectors=VECTORS, *, header=False, compress=False):
    """A word-vector file: fastText style (header, trailing spaces) or GloVe."""
    dimension = len(next(iter(vectors.values())))
    lines = [f"{len(vectors)} {dimension}\n"] if header else []
    trailing = " " if header else ""
    lines += [
        f"{word} {' '.join(map(repr, values))}{trailing}\n"
        for word, values in vectors.items()
    ]
    data = "".join(lines).encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def model_config(*overrides):
    return load_config(
        None,
        ["model.units=4", "model.embedding_dim=3", "text.max_tokens=50", *overrides],
    )


@pytest.mark.parametrize("header", [False, True], ids=["glove", "fasttext"])
@pytest.mark.parametrize("compress", [False, True], ids=["text", "gz"])
def test_vectors_land_in_the_rows_of_their_tokens(tmp_path, header, compress):
    name = "vectors.vec.gz" if compress else "vectors.vec"
    path = write_vectors(tmp_path / name, header=header, compress=compress)
    embeddings = load_embeddings(path, VOCABULARY, 3)
    assert embeddings.dimension == 3 and embeddings.path == str(path)
    assert embeddings.vectors.shape == (7, 3) and embeddings.vectors.dtype == np.float32
    for index, token in enumerate(VOCABULARY):
        expected = VECTORS.get(token, [0.0, 0.0, 0.0])
        np.testing.assert_array_equal(
            embeddings.vectors[index], np.float32(expected), err_msg=token
        )
    assert embeddings.found.tolist() == [False, False, True, True, False, True, False]
    # Exactly 3 of the 5 tokens (padding and [UNK] not counted).
    assert (embeddings.num_found, embeddings.vocabulary) == (3, 5)
    assert embeddings.coverage == 0.6
    assert embeddings.summary() == {
        "path": str(path),
        "dimension": 3,
        "found": 3,
        "vocabulary": 5,
        "coverage": 0.6,
    }
    assert embeddings.describe() == (
        f"Embeddings: 3 of 5 vocabulary tokens found in {name} (60.0%)"
    )


def test_exact_case_wins_and_else_the_first_lowercased_word(tmp_path):
    path = tmp_path / "cased.txt"
    path.write_text(
        "Film 1 1\nFILM 2 2\nThe 3 3\nthe 4 4\nthe 5 5\nPlot 6 6\nPLOT 7 7\n"
        "\n"  # blank lines are skipped
        ". . . 8 8\n"  # a word with spaces (GloVe has some): no token has one
    )
    embeddings = load_embeddings(path, ["", "[UNK]", "the", "film", "plot", "Plot"])
    assert embeddings.vectors[2:].tolist() == [[4, 4], [1, 1], [6, 6], [6, 6]]
    assert embeddings.num_found == 4 and embeddings.dimension == 2


def test_unknown_tokens_keep_the_initialization(tmp_path):
    """Same seed with and without vectors: only the found rows and the
    padding row differ, and every other weight is the same."""
    path = write_vectors(tmp_path / "vectors.txt")
    keras.utils.set_random_seed(3)
    plain = build_classifier(model_config(), FakeVectorizer(), num_classes=2)
    keras.utils.set_random_seed(3)
    pretrained = build_classifier(
        model_config(f"model.embeddings={path}"), FakeVectorizer(), num_classes=2
    )
    initial = plain.get_layer("embedding").get_weights()[0]
    weights = pretrained.get_layer("embedding").get_weights()[0]
    np.testing.assert_array_equal(weights[0], np.zeros(3, np.float32))
    for index in (1, 4, 6):  # [UNK], plot, zz
        np.testing.assert_array_equal(weights[index], initial[index])
        assert not any(np.array_equal(weights[index], v) for v in VECTORS.values())
    for index in (2, 3, 5):
        np.testing.assert_array_equal(
            weights[index], np.float32(VECTORS[VOCABULARY[index]])
        )
    for a, b in zip(plain.get_weights()[1:], pretrained.get_weights()[1:]):
        np.testing.assert_array_equal(a, b)


def train_step(model):
    model.compile(
        optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy"
    )
    before = model.get_layer("embedding").get_weights()[0]
    model.train_on_batch(np.array([[2, 3, 5, 4, 1], [3, 5, 0, 0, 0]]), np.array([0, 1]))
    return before, model.get_layer("embedding").get_weights()[0]


@pytest.mark.parametrize("trainable", [True, False])
def test_embeddings_trainable(tmp_path, trainable):
    path = write_vectors(tmp_path / "vectors.txt")
    config = model_config(
        f"model.embeddings={path}",
        f"model.embeddings_trainable={str(trainable).lower()}",
    )
    model = build_classifier(config, FakeVectorizer(), num_classes=2)
    assert model.get_layer("embedding").trainable is trainable
    before, after = train_step(model)
    if trainable:
        for index in (2, 3, 5):  # the tokens of the batch that have vectors
            assert not np.array_equal(before[index], after[index])
    else:
        np.testing.assert_array_equal(before, after)


def test_vectors_read_once_can_be_given(tmp_path):
    path = write_vectors(tmp_path / "vectors.txt")
    config = model_config(f"model.embeddings={path}")
    lines = []
    embeddings = embeddings_for_config(config, FakeVectorizer(), log=lines.append)
    assert lines == [
        "Embeddings: 3 of 5 vocabulary tokens found in vectors.txt (60.0%)"
    ]
    path.unlink()  # not read again
    model = build_classifier(
        config, FakeVectorizer(), num_classes=2, embeddings=embeddings
    )
    weights = model.get_layer("embedding").get_weights()[0]
    np.testing.assert_array_equal(weights[3], np.float32(VECTORS["film"]))
    assert embeddings_for_config(model_config(), FakeVectorizer()) is None


def test_relative_paths_resolve_like_data_paths(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    config_file = tmp_path / "conf" / "run.yaml"
    config_file.write_text("model:\n  embeddings: vectors/glove.txt\n")
    config = load_config(config_file)
    assert config["model"]["embeddings"] == str(tmp_path / "conf/vectors/glove.txt")
    assert config["model"]["embeddings_trainable"] is True
    monkeypatch.chdir(tmp_path)
    config = load_config(config_file, ["model.embeddings=other.vec"])
    assert config["model"]["embeddings"] == str(tmp_path / "other.vec")
    assert load_config(None)["model"]["embeddings"] is None
    with pytest.raises(ConfigError, match="model.embeddings_trainable: expected true"):
        load_config(None, ["model.embeddings_trainable=3"])


BAD_FILES = [
    ("", DataError, "{path}: no word vectors in the file (model.embeddings)"),
    ("2 3\n", DataError, "{path}: no word vectors in the file (model.embeddings)"),
    ("film 1 2 3\nthe 1 2\n", DataError, "{path}: line 2: expected 3 values, found 2"),
    (
        "film 1 2 3\nthe 1 2 3 4\n",
        DataError,
        "{path}: line 2: expected 3 values, found 4",
    ),
    (
        "2 3\nfilm 1 2 3\nthe 1 2\n",
        DataError,
        "{path}: line 3: expected 3 values, found 2",
    ),
    ("film 1 2 3\nthe 1 x 3\n", DataError, "{path}: line 2: not a number: 'x'"),
    ("oops a b c\n", DataError, "{path}: line 1: not a number: 'a'"),
    ("film 1 nan 3\n", DataError, "{path}: line 1: a value is not finite"),
    ("film\n", DataError, "{path}: line 1: a word without values"),
    (
        "film 1 2\n",
        ConfigError,
        "model.embeddings: {path} has 2-dimensional vectors, model.embedding_dim is 3",
    ),
    (
        "2 4\nfilm 1 2 3 4\n",
        ConfigError,
        "model.embeddings: {path} has 4-dimensional vectors, model.embedding_dim is 3",
    ),
]


@pytest.mark.parametrize("content, error, message", BAD_FILES)
def test_bad_files_give_one_line_errors(tmp_path, content, error, message):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(error) as raised:
        load_embeddings(path, VOCABULARY, 3)
    assert str(raised.value) == message.format(path=path)


def test_unreadable_files_give_one_line_errors(tmp_path):
    cases = {
        tmp_path / "missing.txt": "{path}: file not found (model.embeddings)",
        tmp_path: "{path}: is a folder, expected a file (model.embeddings)",
        tmp_path / "vectors.bin": "{path}: word2vec binary files are not supported "
        "(model.embeddings); save it as text (gensim: "
        "save_word2vec_format(..., binary=False))",
    }
    for path, message in cases.items():
        with pytest.raises(DataError) as raised:
            load_embeddings(path, VOCABULARY, 3)
        assert str(raised.value) == message.format(path=path)
    damaged = tmp_path / "damaged.txt.gz"
    damaged.write_bytes(gzip.compress(b"film 1 2 3\n" * 1000)[:60])
    with pytest.raises(DataError, match=r"damaged\.txt\.gz: damaged gzip file \("):
        load_embeddings(damaged, VOCABULARY, 3)


@pytest.fixture(scope="module")
def pretrained_run(tmp_path_factory):
    """A tiny quickstart run whose frozen embeddings come from a file."""
    folder = tmp_path_factory.mktemp("pretrained")
    words = ["the", "film", "movie", "and", "great", "awful", "qwxyz", "zzkq"]
    rng = np.random.default_rng(0)
    vectors = {w: rng.normal(size=8).astype(np.float32).tolist() for w in words}
    path = write_vectors(folder / "words.vec.gz", vectors, header=True, compress=True)
    config = load_config(
        "quickstart",
        [
            *TINY,
            "model.embedding_dim=8",
            f"model.embeddings={path}",
            "model.embeddings_trainable=false",
        ],
    )
    lines = []
    result = fit(config, folder / "run", verbose=0, log=lines.append)
    return result, config, vectors, lines


def test_fit_records_coverage_and_saves_the_vectors(pretrained_run, capsys):
    result, config, vectors, lines = pretrained_run
    vocabulary = read_vocabulary(result.run_dir / "vocab.txt")
    found = [w for w in vectors if w in vocabulary]
    assert 3 <= len(found) < len(vectors)  # some words found, some not
    size = len(vocabulary) - 2
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["embeddings"] == {
        "path": config["model"]["embeddings"],
        "dimension": 8,
        "found": len(found),
        "vocabulary": size,
        "coverage": round(len(found) / size, 6),
    }
    percent = f"{100 * len(found) / size:.1f}%"
    assert (
        f"Embeddings: {len(found)} of {size} vocabulary tokens found in "
        f"words.vec.gz ({percent})"
    ) in lines

    model = load_text_classifier(result.run_dir)
    weights = model.get_layer("classifier").get_layer("embedding").get_weights()[0]
    for word in found:
        np.testing.assert_array_equal(weights[vocabulary.index(word)], vectors[word])

    render.fit_summary(result, config)
    panel = " ".join(capsys.readouterr().out.split())
    assert (
        f"embeddings words.vec.gz: {len(found)} of {size} tokens ({percent}), frozen"
        in panel
    )


def test_export_carries_the_vectors(pretrained_run, tmp_path):
    result, _, vectors, _ = pretrained_run
    vocabulary = read_vocabulary(result.run_dir / "vocab.txt")
    exported = export_saved_model(result.run_dir, tmp_path / "export", verify=False)
    loaded = tf.saved_model.load(str(exported.path))
    model = load_text_classifier(result.run_dir)
    expected = model.get_layer("classifier").get_layer("embedding").get_weights()[0]
    # The vectors are in the SavedModel's own variables: no file needed.
    reader = tf.train.load_checkpoint(str(exported.path / "variables" / "variables"))
    shapes = reader.get_variable_to_shape_map()
    tables = [
        reader.get_tensor(name)
        for name, shape in shapes.items()
        if tuple(shape) == expected.shape
    ]
    assert len(tables) == 1
    np.testing.assert_array_equal(tables[0], expected)
    np.testing.assert_array_equal(tables[0][vocabulary.index("film")], vectors["film"])
    texts = ["the film was great", "an awful movie and the plot"]
    outputs = loaded.signatures["serving_default"](text=tf.constant(texts))
    np.testing.assert_allclose(
        outputs["probabilities"].numpy(), model(tf.constant(texts)).numpy(), atol=1e-5
    )


def test_cli_fit_with_a_missing_file_exits_2_with_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = [arg for item in TINY for arg in ("--set", item)]
    result = CliRunner().invoke(
        cli,
        ["fit", *settings, "--set", "model.embeddings=missing.txt", "--run-dir", "run"],
    )
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    path = tmp_path / "missing.txt"
    assert errors == [f"Error: {path}: file not found (model.embeddings)"]
    assert result.stderr.splitlines()[-1] == errors[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_embeddings_and_init_from_are_not_both_allowed():
    from textlstm.config import ConfigError, load_config

    with pytest.raises(ConfigError) as caught:
        load_config(None, ["model.embeddings=v.txt", "model.init_from=runs/p"])
    assert str(caught.value) == (
        "model.embeddings: give it or model.init_from, not both (a pretrained "
        "encoder brings its own embeddings)"
    )
