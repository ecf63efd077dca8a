"""Bad input gets a one-line DataError naming the file/key and the problem."""

import json

import pytest

from textlstm.config import ConfigError, default_config, load_config
from textlstm.data import DataError, data_config, load_dataset

GOOD_CSV = "text,label\r\na,neg\r\nb,pos\r\nc,neg\r\nd,pos\r\n"


def error(data: dict) -> str:
    with pytest.raises(DataError) as caught:
        load_dataset(data)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    assert error({"source": "csv", "train": str(path)}) == (
        f"{path}: file not found (data.train)"
    )


def test_missing_test_file(write, tmp_path):
    train = write("train.csv", GOOD_CSV)
    missing = tmp_path / "test.csv"
    assert error({"source": "csv", "train": str(train), "test": str(missing)}) == (
        f"{missing}: file not found (data.test)"
    )


def test_train_file_required():
    assert error({"source": "jsonl"}) == (
        "data.train: required when data.source is 'jsonl'"
    )


def test_missing_folder(tmp_path):
    path = tmp_path / "aclImdb"
    assert error({"source": "directory", "path": str(path)}) == (
        f"{path}: folder not found (data.path)"
    )


def test_missing_train_split_folder(tmp_path):
    (tmp_path / "test" / "pos").mkdir(parents=True)
    assert error({"source": "directory", "path": str(tmp_path)}) == (
        f"{tmp_path / 'train'}: folder not found (data.train)"
    )


def test_unknown_source():
    assert error({"source": "xml"}) == (
        "data.source: 'xml' is not one of synthetic, tfds, directory, csv, tsv, jsonl"
    )


def test_unknown_tfds_name():
    assert error({"source": "tfds", "name": "no_such_dataset"}) == (
        "data.name: unknown tfds dataset 'no_such_dataset'"
    )


def test_tfds_not_prepared_never_downloads(tmp_path):
    message = error(
        {"source": "tfds", "name": "imdb_reviews", "data_dir": str(tmp_path)}
    )
    assert message == (
        f"tfds dataset 'imdb_reviews' is not prepared in {tmp_path} and textlstm "
        "never downloads; set data.data_dir (or TFDS_DATA_DIR) to a folder with a "
        "prepared copy, e.g. ../shared/data/tfds"
    )
    assert list(tmp_path.iterdir()) == []


def test_empty_csv(write):
    path = write("train.csv", "text,label\r\n")
    assert error({"source": "csv", "train": str(path)}) == (
        f"{path}: no examples (data.train)"
    )


def test_empty_file(write):
    path = write("train.jsonl", "")
    assert error({"source": "jsonl", "train": str(path)}) == (
        f"{path}: no examples (data.train)"
    )


def test_empty_directory(tmp_path):
    for name in ("neg", "pos"):
        (tmp_path / "train" / name).mkdir(parents=True)
    assert error({"source": "directory", "path": str(tmp_path)}) == (
        f"{tmp_path / 'train'}: no examples (no .txt files in neg, pos)"
    )


def test_empty_synthetic():
    assert error({"size": 0}) == "data.size: 0 is below the minimum 1"
    assert error({"test_size": 0}) == "data.test_size: 0 is below the minimum 1"


def test_synthetic_lag_out_of_range():
    assert error({"distance": 5, "min_distance": 11}) == (
        "data.min_distance: 11 is more than 2 * data.distance = 10"
    )
    assert error({"min_distance": -1}) == (
        "data.min_distance: -1 is below the minimum 0"
    )


def test_missing_text_column(write):
    path = write("train.csv", GOOD_CSV)
    data = {"source": "csv", "train": str(path), "text_column": "review"}
    assert error(data) == (
        f"{path}: no column 'review' (data.text_column); columns: text, label"
    )


def test_missing_label_column_jsonl(write):
    path = write("train.jsonl", json.dumps({"text": "a", "stars": 1}) + "\n")
    assert error({"source": "jsonl", "train": str(path)}) == (
        f"{path}: line 1: no key 'label' (data.label_column)"
    )


def test_single_class(write):
    path = write("train.tsv", "text\tlabel\nfine\tpos\ngood\tpos\n")
    assert error({"source": "tsv", "train": str(path)}) == (
        f"{path}: label column 'label' has a single class 'pos'; need at least 2"
    )


def test_not_utf8_csv(write):
    path = write("train.csv", b"text,label\r\ncaf\xe9,pos\r\n")
    assert error({"source": "csv", "train": str(path)}) == (
        f"{path}: line 2: not valid UTF-8 (byte 0xe9 at column 4)"
    )


def test_not_utf8_review_file(write, tmp_path):
    write("train/neg/0.txt", "fine")
    bad = write("train/pos/1.txt", b"\xff\xfeh\x00i\x00")
    assert error({"source": "directory", "path": str(tmp_path)}) == (
        f"{bad}: line 1: not valid UTF-8 (byte 0xff at column 1)"
    )


def test_csv_wrong_number_of_fields(write):
    path = write("train.csv", "text,label\r\na,neg\r\nb, c,pos\r\n")
    assert error({"source": "csv", "train": str(path)}) == (
        f"{path}: line 3: expected 2 fields, found 3"
    )


def test_csv_unclosed_quote(write):
    path = write("train.csv", 'text,label\r\na,neg\r\n"b,pos\r\n')
    assert error({"source": "csv", "train": str(path)}) == (
        f"{path}: line 3: malformed CSV (unexpected end of data)"
    )


def test_jsonl_malformed_line(write):
    path = write("train.jsonl", '{"text": "a", "label": 0}\n{"text": "b" "label": 1}\n')
    assert error({"source": "jsonl", "train": str(path)}) == (
        f"{path}: line 2: invalid JSON (Expecting ',' delimiter at column 14)"
    )


def test_unknown_label_in_test_file(write):
    train = write("train.csv", GOOD_CSV)
    test = write("test.csv", "text,label\r\nx,pos\r\ny,neutral\r\n")
    assert error({"source": "csv", "train": str(train), "test": str(test)}) == (
        f"{test}: line 3: label 'neutral' is not one of the classes neg, pos"
    )


def test_bad_fraction():
    assert error({"validation_fraction": 1.5}) == (
        "data.validation_fraction: 1.5 is above the maximum 0.9"
    )


@pytest.mark.parametrize(
    "key, value, message",
    [
        (
            "validation_fraction",
            0.95,
            "data.validation_fraction: 0.95 is above the maximum 0.9",
        ),
        ("test_fraction", 0.95, "data.test_fraction: 0.95 is above the maximum 0.9"),
        ("test_fraction", -0.1, "data.test_fraction: -0.1 is below the minimum 0.0"),
        (
            "source",
            "xml",
            "data.source: 'xml' is not one of synthetic, tfds, directory, csv, "
            "tsv, jsonl",
        ),
        ("size", "big", "data.size: expected an integer, got 'big' (str)"),
    ],
)
def test_the_library_and_the_config_refuse_a_value_alike(key, value, message):
    with pytest.raises(ConfigError) as from_config:
        load_config("quickstart", [f"data.{key}={value}"])
    assert str(from_config.value) == message
    with pytest.raises(DataError) as from_library:
        data_config({key: value})
    assert str(from_library.value) == message
    assert error({key: value}) == message


def test_data_config_takes_the_schema_defaults():
    assert data_config(None) == default_config()["data"]
    assert data_config({"validation_fraction": 0.9})["validation_fraction"] == 0.9


def test_empty_and_whitespace_texts_are_kept(write):
    path = write(
        "train.csv", 'text,label\r\n,neg\r\n"   ",pos\r\n"\t",neg\r\nok,pos\r\n'
    )
    bundle = load_dataset(
        {"source": "csv", "train": str(path), "test": str(path)},
        seed=0,
    )
    texts = sorted(t.decode() for t, _ in bundle.test.as_numpy_iterator())
    assert texts == ["", "\t", "   ", "ok"]
