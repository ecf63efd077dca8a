"""Tests of `textlstm.pretraining` and `model.init_from`: the run folder, an
honest perplexity, exact resume, the encoder moving into a classifier, and
the one-line errors, on tiny made-up data (seconds each)."""

import json
import math
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from textlstm.cli.main import cli
from textlstm.config import load_config
from textlstm.errors import DataError
from textlstm.model import build_classifier
from textlstm.model.transfer import init_encoder
from textlstm.pretraining import pretrain, read_unlabeled
from textlstm.text import read_vocabulary
from textlstm.training.preparation import prepare_data

TINY = [
    "data.size=200",
    "data.test_size=60",
    "text.max_tokens=300",
    "text.sequence_length=32",
    "model.units=8",
    "model.embedding_dim=8",
    "train.batch_size=16",
    "train.deterministic=true",
    "pretrain.epochs=3",
    "pretrain.batch_size=16",
    "pretrain.num_sampled=64",
    "pretrain.learning_rate=0.01",
]
RUN_FILES = {
    "checkpoints",
    "config.yaml",
    "encoder.npz",
    "history.csv",
    "metrics.json",
    "run.json",
    "vectorizer.json",
    "vocab.txt",
}


def tiny(*overrides):
    return load_config("quickstart", [*TINY, *overrides])


def encoder_arrays(run_dir) -> dict:
    with np.load(run_dir / "encoder.npz") as arrays:
        return {name: arrays[name] for name in arrays.files}


def invoke(*args):
    # Wide enough that the summary panel shows the run folder uncut.
    runner = CliRunner(env={"COLUMNS": "300"})
    return runner.invoke(cli, [str(arg) for arg in args])


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("pretrain") / "lm"
    return pretrain(tiny(), run_dir, verbose=0)


def test_pretrain_writes_a_complete_run_folder(pretrained):
    run_dir = pretrained.run_dir
    assert {p.name for p in run_dir.iterdir()} == RUN_FILES
    assert not list(run_dir.rglob(".tmp-*"))
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "epoch-0002",
        "epoch-0003",
    ]
    info = json.loads((run_dir / "run.json").read_text())
    assert (info["status"], info["kind"], info["epochs_completed"]) == (
        "completed",
        "pretrain",
        3,
    )
    # The training split only (200 reviews less 10% validation), split
    # 90/10 into train and holdout.
    assert info["sources"] == {"train_split": 180, "unlabeled": 0}
    assert info["num_texts"] == {"train": 162, "holdout": 18}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == pretrained.metrics
    vocabulary = read_vocabulary(run_dir / "vocab.txt")
    assert metrics["vocabulary_size"] == len(vocabulary) == info["vocabulary_size"]
    assert math.isfinite(metrics["loss"]) and metrics["num_tokens"] > 0
    assert metrics["perplexity"] == pytest.approx(math.exp(metrics["loss"]), 1e-3)
    assert [row["epoch"] for row in pretrained.history] == [1, 2, 3]
    shapes = {name: a.shape for name, a in encoder_arrays(run_dir).items()}
    assert shapes == {
        "embedding/0": (len(vocabulary), 8),
        "lstm_1/0": (8, 32),
        "lstm_1/1": (8, 32),
        "lstm_1/2": (32,),
    }


def test_the_held_out_perplexity_beats_a_uniform_guess(pretrained):
    metrics, history = pretrained.metrics, pretrained.history
    # A uniform guess over the vocabulary has perplexity = vocabulary size.
    assert metrics["perplexity"] < 0.5 * metrics["uniform_perplexity"]
    assert history[-1]["val_perplexity"] < history[0]["val_perplexity"]


def test_resume_after_an_epoch_gives_the_same_weights(tmp_path, pretrained):
    run_dir = tmp_path / "lm"
    first = pretrain(tiny("pretrain.epochs=1"), run_dir, verbose=0)
    assert first.epochs_completed == 1
    resumed = pretrain(tiny(), run_dir, resume=True, verbose=0)
    assert (resumed.resumed_from_epoch, resumed.epochs_completed) == (1, 3)
    expected = encoder_arrays(pretrained.run_dir)
    got = encoder_arrays(run_dir)
    assert got.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert resumed.metrics["loss"] == pretrained.metrics["loss"]


def test_the_held_out_loss_is_the_last_epochs_and_a_fresh_evaluation_agrees(
    tmp_path, pretrained
):
    """metrics.json takes the last epoch's validation (no second full-softmax
    pass); resuming the finished run trains nothing and evaluates the
    restored checkpoint, which must give the same loss."""
    rows = (pretrained.run_dir / "history.csv").read_text().splitlines()
    header, last = rows[0].split(","), rows[-1].split(",")
    val_loss = float(last[header.index("val_loss")])
    assert abs(pretrained.metrics["loss"] - val_loss) <= 1e-6
    run_dir = tmp_path / "lm"
    shutil.copytree(pretrained.run_dir, run_dir)
    again = pretrain(tiny(), run_dir, resume=True, verbose=0)
    assert (again.resumed_from_epoch, again.epochs_completed) == (3, 3)
    assert abs(again.metrics["loss"] - pretrained.metrics["loss"]) <= 1e-5


def test_validate_every_skips_held_out_passes_and_changes_no_weight(
    tmp_path, pretrained
):
    """pretrain.validate_every=2 of 3 epochs validates after epochs 2 and 3
    only; the skipped cells are empty, the columns keep their order, and the
    weights and the final loss are the every-epoch run's."""
    run = pretrain(tiny("pretrain.validate_every=2"), tmp_path / "lm", verbose=0)
    rows = (run.run_dir / "history.csv").read_text().splitlines()
    expected = (pretrained.run_dir / "history.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert header == expected[0].split(",")
    assert header[:4] == ["epoch", "loss", "val_loss", "val_perplexity"]
    cells = [row.split(",") for row in rows[1:]]
    assert [cell[2:4] for cell in cells][0] == ["", ""]
    for cell, other in zip(cells[1:], expected[2:]):
        assert cell[:4] == other.split(",")[:4]
    assert [row["val_loss"] is None for row in run.history] == [True, False, False]
    assert run.metrics["loss"] == pretrained.metrics["loss"]
    got, want = encoder_arrays(run.run_dir), encoder_arrays(pretrained.run_dir)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_the_full_softmax_loss_is_the_cross_entropy_over_the_vocabulary():
    import tensorflow as tf

    from textlstm.pretraining.language_model import LanguageModel

    rng = np.random.default_rng(3)
    weights = tf.constant(rng.normal(0, 2.0, (500, 16)), tf.float32)
    biases = tf.constant(rng.normal(0, 1.0, 500), tf.float32)
    features = tf.constant(rng.normal(0, 1.0, (40, 16)), tf.float32)
    targets = tf.constant(rng.integers(1, 500, 40), tf.int64)
    holder = type("Holder", (), {"softmax_weights": weights, "softmax_biases": biases})
    got = LanguageModel.full_softmax_losses(holder(), features, targets)
    logits = tf.matmul(features, weights, transpose_b=True) + biases
    want = tf.nn.sparse_softmax_cross_entropy_with_logits(targets, logits)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    assert float(tf.reduce_max(want)) > 5.0  # not a degenerate near-zero case


def test_init_from_starts_the_classifier_from_the_encoder(pretrained):
    config = tiny(f"model.init_from={pretrained.run_dir}")
    data = prepare_data(config)
    vocabulary = read_vocabulary(pretrained.run_dir / "vocab.txt")
    assert data.vectorizer.get_vocabulary(include_special_tokens=True) == vocabulary
    model = build_classifier(config, data.vectorizer, num_classes=2)
    assert init_encoder(model, config)
    for name, value in encoder_arrays(pretrained.run_dir).items():
        layer, index = name.split("/")
        np.testing.assert_array_equal(
            model.get_layer(layer).get_weights()[int(index)], value, err_msg=name
        )


def test_fit_with_init_from_keeps_the_encoder_at_learning_rate_zero(
    tmp_path, pretrained
):
    import keras

    from textlstm.training import fit

    config = tiny(
        f"model.init_from={pretrained.run_dir}",
        "train.epochs=1",
        "train.learning_rate=0.0",
        "model.recurrent_l2=0.0",
    )
    result = fit(config, tmp_path / "fit", verbose=0)
    model = keras.models.load_model(result.run_dir / "model.keras", compile=False)
    classifier = model.get_layer("classifier")
    for name, value in encoder_arrays(pretrained.run_dir).items():
        layer, index = name.split("/")
        np.testing.assert_array_equal(
            classifier.get_layer(layer).get_weights()[int(index)], value
        )
    vocabulary = (tmp_path / "fit" / "vocab.txt").read_text()
    assert vocabulary == (pretrained.run_dir / "vocab.txt").read_text()


def test_a_mismatched_encoder_is_one_line_with_exit_2(tmp_path, pretrained):
    args = ["fit", "--quiet", "--run-dir", tmp_path / "fit"]
    args += [item for value in TINY for item in ("--set", value)]
    args += ["--set", f"model.init_from={pretrained.run_dir}"]
    result = invoke(*args, "--set", "model.units=16")
    assert result.exit_code == 2, result.output
    error = result.output.strip().splitlines()[-1]
    assert error == (
        "Error: model.init_from: model.units is 16, the pretrained encoder has 8 "
        f"({pretrained.run_dir})"
    )
    result = invoke(*args, "--set", "text.ngrams=2")
    assert result.exit_code == 2
    assert "model.init_from: text.ngrams is 2, the pretrained encoder has 1" in (
        result.output
    )


def test_a_folder_that_is_no_pretrain_run_is_one_line_with_exit_2(tmp_path):
    args = ["fit", "--quiet", "--run-dir", tmp_path / "fit"]
    args += [item for value in TINY for item in ("--set", value)]
    result = invoke(*args, "--set", f"model.init_from={tmp_path}")
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == (
        f"Error: model.init_from: {tmp_path} is not a pretrain run folder "
        "(encoder weights missing)"
    )


def test_the_command_with_unlabeled_texts_and_resume(tmp_path):
    unsup = tmp_path / "unsup"
    unsup.mkdir()
    for index in range(5):
        (unsup / f"{index}.txt").write_text(f"an unlabeled review number {index} .")
    run_dir = tmp_path / "lm"
    sets = [value for value in TINY if not value.startswith("pretrain.epochs=")]
    args = [item for value in sets for item in ("--set", value)]
    args += ["--set", f"pretrain.unlabeled={unsup}", "--run-dir", run_dir, "--quiet"]
    result = invoke("pretrain", *args, "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "perplexity" in result.output and str(run_dir) in result.output
    info = json.loads((run_dir / "run.json").read_text())
    assert info["sources"] == {"train_split": 180, "unlabeled": 5}
    assert "unlabeled" in read_vocabulary(run_dir / "vocab.txt")
    result = invoke("pretrain", *args, "--epochs", "2", "--resume")
    assert result.exit_code == 0, result.output
    assert "resumed after epoch 1" in result.output
    bidirectional = ["--set", "model.bidirectional=true", "--run-dir", tmp_path / "bi"]
    result = invoke("pretrain", *args, *bidirectional)
    assert result.exit_code == 2
    assert "model.bidirectional: pretrain trains a forward language model" in (
        result.output
    )


def test_read_unlabeled_reads_every_kind(tmp_path):
    (tmp_path / "a.txt").write_text("first text\n\nsecond text\n")
    (tmp_path / "b.csv").write_text('id,review\n1,"one, two"\n2,three\n')
    (tmp_path / "c.jsonl").write_text('{"text": "four"}\n\n{"text": "five"}\n')
    assert read_unlabeled(tmp_path / "a.txt")[0] == ["first text", "second text"]
    assert read_unlabeled(tmp_path / "b.csv", "review")[0] == ["one, two", "three"]
    assert read_unlabeled(tmp_path / "c.jsonl")[0] == ["four", "five"]
    folder = tmp_path / "unsup"
    (folder / "deep").mkdir(parents=True)
    (folder / "x.txt").write_text("six\nseven")
    (folder / "deep" / "y.txt").write_text("eight")
    assert read_unlabeled(folder)[0] == ["eight", "six\nseven"]
    with pytest.raises(DataError, match=r"b.csv: no column 'text' \(pretrain"):
        read_unlabeled(tmp_path / "b.csv")
    with pytest.raises(DataError, match="missing.txt: file not found"):
        read_unlabeled(tmp_path / "missing.txt")


@pytest.mark.parametrize(
    "pretrain_dropout, expected", [(None, 0.3), (0.0, None), (0.1, 0.1)]
)
def test_pretrain_embedding_dropout_is_the_language_models_own(
    pretrain_dropout, expected
):
    from textlstm.pretraining.language_model import build_language_model

    setting = "null" if pretrain_dropout is None else pretrain_dropout
    config = tiny(
        "model.embedding_dropout=0.3", f"pretrain.embedding_dropout={setting}"
    )
    data = prepare_data(config)
    language_model = build_language_model(config, data.vectorizer)
    rates = [
        layer.rate
        for layer in language_model.encoder.layers
        if layer.name == "embedding_dropout"
    ]
    assert rates == ([] if expected is None else [expected])
    classifier = build_classifier(config, data.vectorizer, num_classes=2)
    assert classifier.get_layer("embedding_dropout").rate == 0.3
