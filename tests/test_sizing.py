"""`text.max_tokens: auto` and `text.sequence_length: auto` pick the
documented values (textlstm.text.sizing) on small made-up data."""

import json

import numpy as np
import pytest
import tensorflow as tf
import yaml

from textlstm.config import ConfigError, load_config
from textlstm.text.sizing import choose_text_sizes, resolve_text_sizes, token_counts


def dataset(texts):
    return tf.data.Dataset.from_tensor_slices(texts)


def test_max_tokens_keeps_tokens_seen_twice():
    # "good" x3, "film" x2, "a" x2, "bad", "plot", "odd" once each.
    texts = ["a good film", "a good film", "good bad", "plot odd"]
    sizes = choose_text_sizes({"max_tokens": "auto"}, dataset(texts))
    assert sizes["max_tokens"]["value"] == 3 + 2  # good, film, a + padding, [UNK]
    assert sizes["max_tokens"]["distinct_tokens"] == 6
    assert sizes["max_tokens"]["seen_twice_or_more"] == 3
    assert sizes["max_tokens"]["coverage"] == pytest.approx(7 / 10)
    assert "sequence_length" not in sizes


def test_max_tokens_stops_at_99_percent_coverage():
    # One token 990 times, 5 others twice each: 990/1000 is 99% already.
    texts = ["w " * 990] + ["a b c d e"] * 2
    sizes = choose_text_sizes({"max_tokens": "auto"}, dataset(texts))
    assert sizes["max_tokens"]["for_99_percent_coverage"] == 1
    assert sizes["max_tokens"]["value"] == 1 + 2


def test_sequence_length_is_the_95th_percentile_rounded_up_to_8():
    lengths = list(range(1, 101))  # 95th percentile: 95.05 -> 96
    texts = [" ".join(["word"] * n) for n in lengths]
    sizes = choose_text_sizes({"sequence_length": "auto"}, dataset(texts))
    assert sizes["sequence_length"]["value"] == 96
    assert sizes["sequence_length"]["percentile_95"] == pytest.approx(95.0, abs=0.1)
    assert sizes["sequence_length"]["longest"] == 100
    assert sizes["sequence_length"]["truncated_share"] == pytest.approx(0.04)


def test_sequence_length_bounds():
    short = choose_text_sizes({"sequence_length": "auto"}, dataset(["a b", "c"]))
    assert short["sequence_length"]["value"] == 8
    long = choose_text_sizes(
        {"sequence_length": "auto"}, dataset([" ".join(["w"] * 5000)] * 3)
    )
    assert long["sequence_length"]["value"] == 800


def test_counts_follow_the_vectorizer_standardization_and_bigrams():
    counts, lengths = token_counts(
        {"ngrams": 2}, dataset(["Good<br />film!", "good\u00a0film"])
    )
    assert counts == {b"good": 2, b"film": 2, b"good film": 2}
    assert lengths.tolist() == [3, 3]
    counts, _ = token_counts({"level": "character"}, dataset(["ab a"]))
    assert counts == {b"a": 2, b"b": 1, b" ": 1}


def test_numbers_pass_through_and_auto_is_a_valid_config_value():
    resolved, report = resolve_text_sizes({"max_tokens": 50}, dataset(["a"]))
    assert (resolved, report) == ({"max_tokens": 50}, {})
    config = load_config(None, ["text.max_tokens=auto", "text.sequence_length=auto"])
    assert config["text"]["max_tokens"] == "auto"
    with pytest.raises(ConfigError) as caught:
        load_config(None, ["text.sequence_length=automatic"])
    assert str(caught.value) == (
        "text.sequence_length: expected an integer or auto, got 'automatic' (str)"
    )


def test_fit_records_the_chosen_sizes(tmp_path):
    from textlstm.training import fit

    config = load_config(
        "quickstart",
        [
            "data.size=300",
            "data.test_size=50",
            "text.max_tokens=auto",
            "text.sequence_length=auto",
            "model.units=4",
            "model.embedding_dim=4",
            "train.epochs=1",
        ],
    )
    result = fit(config, tmp_path / "run", verbose=0)
    written = yaml.safe_load((result.run_dir / "config.yaml").read_text())["text"]
    sizing = json.loads((result.run_dir / "run.json").read_text())["text_sizing"]
    assert written["max_tokens"] == sizing["max_tokens"]["value"]
    assert written["sequence_length"] == sizing["sequence_length"]["value"]
    vocabulary = (result.run_dir / "vocab.txt").read_text().splitlines()
    assert len(vocabulary) == written["max_tokens"]
    assert isinstance(written["sequence_length"], int)
    assert np.isfinite(result.metrics["loss"])
