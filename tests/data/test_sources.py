"""Every source loads small data made in the test into the same bundle shape."""

import gzip
import json

import numpy as np
import pytest
import tensorflow as tf

from textlstm.data import DatasetBundle, load_dataset


def rows(ds: tf.data.Dataset) -> list[tuple[str, int]]:
    return [(text.decode(), int(label)) for text, label in ds.as_numpy_iterator()]


def sizes(bundle: DatasetBundle) -> tuple[int, int, int]:
    return tuple(len(rows(ds)) for ds in (bundle.train, bundle.validation, bundle.test))


def labelled(n_per_class: int, classes=("neg", "pos")) -> list[tuple[str, str]]:
    return [
        (f"review {i} of {name}", name) for name in classes for i in range(n_per_class)
    ]


def csv_text(examples, delimiter=",") -> str:
    lines = [f"text{delimiter}label"]
    lines += [f"{text}{delimiter}{label}" for text, label in examples]
    return "\r\n".join(lines) + "\r\n"


def test_synthetic_bundle():
    bundle = load_dataset({"size": 200, "test_size": 50})
    assert bundle.class_names == ["neg", "pos"]
    assert sizes(bundle) == (180, 20, 50)
    assert bundle.train.element_spec == (
        tf.TensorSpec([], tf.string),
        tf.TensorSpec([], tf.int64),
    )
    labels = [label for _, label in rows(bundle.validation)]
    assert sorted(set(labels)) == [0, 1]  # stratified


def test_synthetic_fingerprint_follows_the_lag_and_the_generator():
    base = load_dataset({"size": 20, "test_size": 5}).fingerprint
    lagged = load_dataset({"size": 20, "test_size": 5, "min_distance": 10})
    assert lagged.fingerprint != base
    assert base == load_dataset({"size": 20, "test_size": 5}).fingerprint


def test_same_seed_same_splits_other_seed_differs():
    config = {"size": 100, "test_size": 10}
    first, again = load_dataset(config, seed=3), load_dataset(config, seed=3)
    other = load_dataset(config, seed=4)
    for split in ("train", "validation", "test"):
        assert rows(getattr(first, split)) == rows(getattr(again, split))
    assert first.fingerprint == again.fingerprint
    assert rows(first.train) != rows(other.train)
    assert first.fingerprint != other.fingerprint


def test_csv_string_labels_quotes_and_empty_texts(write):
    examples = labelled(10)
    quoted = '"a, ""quoted""\nmulti-line"" text",pos\r\n,neg\r\n'
    path = write("train.csv", csv_text(examples) + quoted)
    bundle = load_dataset({"source": "csv", "train": str(path)}, seed=0)
    assert bundle.class_names == ["neg", "pos"]
    everything = rows(bundle.train) + rows(bundle.validation) + rows(bundle.test)
    assert sorted(everything) == sorted(
        [(t, int(label == "pos")) for t, label in examples]
        + [('a, "quoted"\nmulti-line" text', 1), ("", 0)]
    )
    train, validation, test = sizes(bundle)
    assert (train, validation, test) == (16, 2, 4)  # 20% test, then 10% validation


def test_tsv_and_gzip_with_given_files(write):
    train = write("train.tsv.gz", gzip.compress(csv_text(labelled(5), "\t").encode()))
    test = write("test.tsv", csv_text(labelled(2), "\t"))
    bundle = load_dataset(
        {"source": "tsv", "train": str(train), "test": str(test)}, seed=0
    )
    assert sizes(bundle) == (8, 2, 4)
    assert rows(bundle.test)[0] == ("review 0 of neg", 0)


def test_jsonl_integer_labels_with_class_names(write):
    lines = [json.dumps({"body": f"text {i}", "y": i % 2}) for i in range(12)]
    path = write("train.jsonl", "\n".join(lines[:6]) + "\n\n" + "\n".join(lines[6:]))
    bundle = load_dataset(
        {
            "source": "jsonl",
            "train": str(path),
            "validation": str(path),
            "test": str(path),
            "text_column": "body",
            "label_column": "y",
            "class_names": ["negative", "positive"],
        }
    )
    assert bundle.class_names == ["negative", "positive"]
    assert sorted(rows(bundle.test)) == sorted((f"text {i}", i % 2) for i in range(12))


def test_integer_labels_are_ordered_numerically(write):
    examples = [(f"t{i}", label) for i, label in enumerate([10, 9, 2, 10, 9, 2] * 3)]
    path = write("train.csv", csv_text(examples))
    bundle = load_dataset({"source": "csv", "train": str(path)})
    assert bundle.class_names == ["2", "9", "10"]


def test_directory_layout_ignores_unsup(write, tmp_path):
    for split, count in (("train", 6), ("test", 3)):
        for name in ("neg", "pos"):
            for i in range(count):
                write(f"imdb/{split}/{name}/{i}_7.txt", f"{split} {name} {i}<br />")
    write("imdb/train/unsup/0_0.txt", "unlabelled")
    write("imdb/train/urls_pos.txt", "not a review")
    bundle = load_dataset({"source": "directory", "path": str(tmp_path / "imdb")})
    assert bundle.class_names == ["neg", "pos"]
    assert sizes(bundle) == (10, 2, 6)
    assert ("test pos 2<br />", 1) in rows(bundle.test)


def test_tfds_mock_data():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=40):
        bundle = load_dataset({"source": "tfds", "name": "imdb_reviews"}, seed=1)
        train, validation, test = sizes(bundle)
    assert bundle.class_names == ["neg", "pos"]
    # The mock knows no splits, so test and validation are held out of train.
    assert train + validation + test == 40 and validation > 0 and test > 0
    assert int(bundle.validation.cardinality()) == validation


def test_tfds_imdb_from_shared_data(shared_tfds):
    bundle = load_dataset(
        {"source": "tfds", "name": "imdb_reviews", "data_dir": str(shared_tfds)}
    )

    def count(ds):
        return int(ds.reduce(np.int64(0), lambda n, _: n + 1))

    def labels(ds):
        return ds.map(lambda text, label: label).batch(25_000).get_single_element()

    train, validation = count(bundle.train), count(bundle.validation)
    assert (train, validation) == (22_500, 2_500)
    assert np.bincount(labels(bundle.validation).numpy()).tolist() == [1_250, 1_250]
    assert count(bundle.test) == 25_000
    assert bundle.class_names == ["neg", "pos"]
