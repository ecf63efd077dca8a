"""Tests of `textlstm.config`: defaults, presets, overrides and error messages."""

from pathlib import Path

import pytest
import yaml

from textlstm.config import (
    SCHEMA,
    ConfigError,
    apply_overrides,
    default_config,
    describe_schema,
    dump_config,
    list_presets,
    load_config,
    schema,
    section_config,
    validate_config,
)

PRESETS = [
    "csv",
    "imdb_bilstm",
    "imdb_gru",
    "imdb_keras_lstm",
    "imdb_lm",
    "imdb_robust",
    "quickstart",
    "text_classifier",
]


def error_of(name="quickstart", *overrides):
    with pytest.raises(ConfigError) as info:
        load_config(name, list(overrides))
    return str(info.value)


def test_presets_are_found_by_name_and_valid():
    assert list_presets() == PRESETS
    for name in PRESETS:
        config = load_config(name)
        assert config["name"] == name
        assert config["description"]


def test_spec_keys_have_their_documented_defaults():
    config = default_config()
    assert config["data"]["source"] == "synthetic"
    assert config["data"]["name"] == "imdb_reviews"
    assert config["data"]["data_dir"] is None
    assert config["text"] == {
        **config["text"],
        "max_tokens": 20000,
        "sequence_length": 200,
    }
    assert (config["model"]["cell"], config["model"]["impl"]) == ("lstm", "textlstm")
    assert (config["model"]["units"], config["model"]["layers"]) == (64, 1)
    assert config["model"]["bidirectional"] is False
    assert (config["train"]["epochs"], config["train"]["batch_size"]) == (3, 64)
    assert config["train"]["seed"] == 42


def test_quickstart_is_synthetic_with_the_custom_lstm():
    config = load_config("quickstart")
    assert config["data"]["source"] == "synthetic"
    assert (config["model"]["cell"], config["model"]["impl"]) == ("lstm", "textlstm")


def test_imdb_presets_read_tfds_from_the_default_folder():
    for name in ("imdb_bilstm", "imdb_gru", "imdb_keras_lstm"):
        data = load_config(name)["data"]
        assert (data["source"], data["name"], data["data_dir"]) == (
            "tfds",
            "imdb_reviews",
            None,
        )
    assert load_config("imdb_keras_lstm")["model"]["impl"] == "keras"


def test_csv_preset_resolves_its_file_beside_the_preset():
    path = Path(load_config("csv")["data"]["train"])
    assert path.is_absolute() and path.name == "reviews_sample.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "text,label" and len(lines) - 1 >= 50
    assert len({line.rsplit(",", 1)[1] for line in lines[1:]}) >= 2


def test_relative_paths_resolve_against_the_config_file(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "run.yaml").write_text("data:\n  source: csv\n  train: data/train.csv\n")
    monkeypatch.chdir(tmp_path)
    config = load_config("project/run.yaml", ["data.test=elsewhere/test.csv"])
    assert config["name"] == "run"  # from the file name
    assert config["data"]["train"] == str(folder / "data" / "train.csv")
    assert config["data"]["test"] == str(tmp_path / "elsewhere" / "test.csv")


def test_overrides_are_type_checked_and_normalized():
    config = load_config(
        "quickstart",
        [
            "model.units=128",
            "train.learning_rate=1",
            "model.bidirectional=true",
            "train.clipnorm=null",
            "data.name=123",
            "name=experiment",
        ],
    )
    assert config["model"]["units"] == 128
    assert config["train"]["learning_rate"] == 1.0
    assert isinstance(config["train"]["learning_rate"], float)
    assert config["model"]["bidirectional"] is True
    assert config["train"]["clipnorm"] is None
    assert config["data"]["name"] == "123"
    assert config["name"] == "experiment"


def test_bad_value_names_key_value_and_allowed_values():
    assert error_of("quickstart", "model.cell=lsmt") == (
        "model.cell: 'lsmt' is not one of lstm, gru, peephole_lstm, "
        "layernorm_lstm, cifg_lstm, simple_rnn"
    )
    assert error_of("quickstart", "model.pooling=sum") == (
        "model.pooling: 'sum' is not one of last, max, mean, max_mean, attention"
    )


def test_min_distance_above_twice_the_distance_is_refused():
    assert error_of("quickstart", "data.min_distance=21") == (
        "data.min_distance: 21 is more than 2 * data.distance = 20"
    )
    config = load_config("quickstart", ["data.distance=25", "data.min_distance=25"])
    assert (config["data"]["distance"], config["data"]["min_distance"]) == (25, 25)


def test_unknown_key_suggests_the_closest():
    assert error_of("quickstart", "model.unit=3") == (
        "model.unit: unknown key; did you mean model.units?"
    )
    assert error_of("quickstart", "trian.epochs=3") == (
        "trian.epochs: unknown key; did you mean train.epochs?"
    )
    assert error_of("quickstart", "model.zzz=1").startswith(
        "model.zzz: unknown key; keys of model: embedding_dim, cell, impl, units"
    )


def test_unknown_key_in_a_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  cel: gru\n")
    assert error_of(str(path)) == "model.cel: unknown key; did you mean model.cell?"
    path.write_text("modle:\n  cell: gru\n")
    assert error_of(str(path)) == "modle: unknown key; did you mean model?"


def test_bad_types():
    assert error_of("quickstart", "model.units=abc") == (
        "model.units: expected an integer, got 'abc' (str)"
    )
    assert error_of("quickstart", "model.units=2.5") == (
        "model.units: expected an integer, got 2.5 (float)"
    )
    assert error_of("quickstart", "model.bidirectional=maybe") == (
        "model.bidirectional: expected true or false, got 'maybe' (str)"
    )
    assert error_of("quickstart", "train.epochs=null") == (
        "train.epochs: null is not allowed (expected an integer)"
    )


def test_ranges_and_cross_key_rules():
    assert error_of("quickstart", "model.units=0") == (
        "model.units: 0 is below the minimum 1"
    )
    assert error_of("quickstart", "model.dropout=1.5") == (
        "model.dropout: 1.5 is above the maximum 0.95"
    )
    assert error_of("quickstart", "model.impl=keras", "model.cell=cifg_lstm") == (
        "model.impl: 'keras' needs model.cell lstm, gru or simple_rnn (keras "
        "ships no 'cifg_lstm'); use model.impl=textlstm"
    )
    assert error_of("quickstart", "data.source=csv") == (
        "data.train: required when data.source is 'csv'"
    )
    assert load_config("quickstart", ["model.impl=keras", "model.cell=gru"])
    assert load_config("quickstart", ["model.impl=keras", "model.cell=simple_rnn"])


def test_missing_file_and_preset():
    assert error_of("missing.yaml") == "config: file not found: missing.yaml"
    assert error_of("nope") == (
        "config: no preset or file named 'nope' (presets: " + ", ".join(PRESETS) + ")"
    )


def test_malformed_set_and_yaml(tmp_path):
    assert error_of("quickstart", "model.units") == (
        "--set 'model.units': expected key=value"
    )
    path = tmp_path / "broken.yaml"
    path.write_text("model: [unclosed\n")
    assert error_of(str(path)).startswith(f"config: {path}:")
    path.write_text("- a list\n")
    assert error_of(str(path)) == (
        f"config: {path} must hold a mapping of sections, got list"
    )


def test_dump_and_reload_round_trip(tmp_path):
    config = load_config("imdb_bilstm", ["model.units=7"])
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_config(config))
    assert load_config(str(path)) == config
    assert list(yaml.safe_load(path.read_text())) == [
        "name",
        "description",
        "data",
        "text",
        "model",
        "train",
        "pretrain",
    ]
    assert validate_config(config) == config


def test_every_key_is_documented():
    rows = describe_schema()
    assert len(rows) == 2 + sum(len(options) for options in SCHEMA.values())
    assert all(doc for _, _, _, doc in rows)
    cell = next(row for row in rows if row[0] == "model.cell")
    assert cell[1] == (
        "lstm | gru | peephole_lstm | layernorm_lstm | cifg_lstm | simple_rnn"
    )


def test_apply_overrides_does_not_mutate():
    config = default_config()
    apply_overrides(config, ["model.units=9"])
    assert config["model"]["units"] == 64


def test_split_names_of_tfds_are_not_paths():
    config = load_config("imdb_bilstm", ["data.train=train[:80%]"])
    assert config["data"]["train"] == "train[:80%]"
    assert load_config("csv", ["data.train=x.csv"])["data"]["train"].endswith("/x.csv")


def test_class_names_is_a_list_of_names():
    config = load_config("quickstart", ["data.class_names=[neg, pos]"])
    assert config["data"]["class_names"] == ["neg", "pos"]
    assert error_of("quickstart", "data.class_names=neg") == (
        "data.class_names: expected a list of names, got 'neg' (str)"
    )


def section_error_of(section, values):
    with pytest.raises(ConfigError) as info:
        section_config(section, values)
    return str(info.value)


@pytest.mark.parametrize(
    "section, values, message",
    [
        ("text", {"ngrams": 3}, "text.ngrams: 3 is not one of 1, 2"),
        ("text", {"max_tokens": 2}, "text.max_tokens: 2 is below the minimum 3"),
        (
            "data",
            {"validation_fraction": 0.95},
            "data.validation_fraction: 0.95 is above the maximum 0.9",
        ),
        (
            "data",
            {"test_fraction": 0.95},
            "data.test_fraction: 0.95 is above the maximum 0.9",
        ),
        ("data", {"size": 0}, "data.size: 0 is below the minimum 1"),
        (
            "data",
            {"distance": 5, "min_distance": 11},
            "data.min_distance: 11 is more than 2 * data.distance = 10",
        ),
        ("data", {"source": "tsv"}, "data.train: required when data.source is 'tsv'"),
    ],
)
def test_a_section_alone_fails_as_in_a_whole_config(section, values, message):
    overrides = [f"{section}.{key}={value}" for key, value in values.items()]
    assert error_of("quickstart", *overrides) == message
    assert section_error_of(section, values) == message


def test_a_section_alone_takes_the_schema_defaults_and_keeps_unknown_keys():
    assert section_config("text") == default_config()["text"]
    assert section_config("data", None) == default_config()["data"]
    config = section_config("data", {"size": 100.0, "test_fraction": 0, "extra": 1})
    expected = {**default_config()["data"], "size": 100, "test_fraction": 0.0}
    assert config == {**expected, "extra": 1}
    assert list(config) == [*SCHEMA["data"], "extra"]
    assert isinstance(config["size"], int) and isinstance(
        config["test_fraction"], float
    )


def test_schema_defaults_are_the_default_config():
    for section in SCHEMA:
        assert schema.defaults(section) == default_config()[section]
    assert SCHEMA is schema.SCHEMA
