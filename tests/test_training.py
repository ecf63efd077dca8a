"""Tests of `textlstm.training`: the run folder, resume, early stopping and
optimizers, on tiny configs (a few seconds each)."""

import csv
import json
import math

import numpy as np
import pytest

from textlstm.config import load_config
from textlstm.training import (
    RunError,
    atomic_path,
    build_optimizer,
    fit,
    read_run,
    resume_config,
)

TINY = [
    "data.size=200",
    "data.test_size=60",
    "text.max_tokens=300",
    "text.sequence_length=32",
    "model.units=8",
    "model.embedding_dim=8",
    "train.epochs=2",
    "train.batch_size=32",
]

RUN_FILES = {
    "checkpoints",
    "config.yaml",
    "history.csv",
    "metrics.json",
    "model.keras",
    "plots",
    "run.json",
    "tensorboard",
    "vocab.txt",
}


def tiny(*overrides, preset="quickstart"):
    return load_config(preset, [*TINY, *overrides])


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "tiny"
    return fit(tiny(), run_dir, verbose=0)


def test_fit_writes_a_complete_run_folder(finished_run):
    run_dir = finished_run.run_dir
    assert {p.name for p in run_dir.iterdir()} == RUN_FILES
    assert not [p for p in run_dir.rglob(".tmp-*")]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == [
        "epoch-0001",
        "epoch-0002",
    ]
    assert sorted(p.name for p in (run_dir / "plots").iterdir()) == [
        "confusion_matrix.png",
        "learning_curves.png",
    ]
    assert list((run_dir / "tensorboard").rglob("events.out.tfevents.*"))

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics == finished_run.metrics
    assert metrics["split"] == "test" and metrics["num_examples"] == 60
    assert sum(map(sum, metrics["confusion_matrix"])) == 60
    assert set(metrics["per_class"]) == {"neg", "pos"}
    assert 0.0 <= metrics["accuracy"] <= 1.0 and metrics["loss"] > 0
    assert not any("time" in key or key.endswith("_s") for key in metrics)

    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "completed"
    assert (info["seed"], info["epochs_completed"]) == (42, 2)
    assert info["class_names"] == ["neg", "pos"]
    assert len(info["data_fingerprint"]) >= 8
    assert info["device"].startswith(("CPU", "/device:GPU"))
    assert info["environment"]["tensorflow"] and info["environment"]["keras"]
    assert set(info["wall_times"]) == {
        "data_s",
        "training_s",
        "evaluation_s",
        "total_s",
    }
    vocabulary = (run_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
    assert len(vocabulary) == info["vocabulary_size"]
    assert vocabulary[:2] == ["", "[UNK]"]

    with open(run_dir / "history.csv") as file:
        rows = list(csv.DictReader(file))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"} <= set(
        rows[0]
    )
    assert read_run(run_dir).config == tiny()


def test_saved_model_reproduces_the_test_metrics(finished_run):
    from textlstm.evaluation import evaluate_run

    metrics = evaluate_run(finished_run.run_dir)
    for key in ("num_examples", "accuracy", "confusion_matrix", "per_class"):
        assert metrics[key] == finished_run.metrics[key]
    assert metrics["loss"] == pytest.approx(finished_run.metrics["loss"], abs=1e-5)


def test_resume_trains_a_finished_run_further(tmp_path, finished_run):
    import shutil

    run_dir = tmp_path / "more"
    shutil.copytree(finished_run.run_dir, run_dir)
    result = fit(resume_config(run_dir, epochs=3), run_dir, resume=True, verbose=0)
    assert (result.resumed_from_epoch, result.epochs_completed) == (2, 3)
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    assert result.history[:2] == finished_run.history[:2]
    info = json.loads((run_dir / "run.json").read_text())
    assert info["resumed"][0]["from_epoch"] == 2
    assert len(info["wall_times_by_session"]) == 2


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path, finished_run):
    import shutil

    run_dir = tmp_path / "other"
    shutil.copytree(finished_run.run_dir, run_dir)
    with pytest.raises(RunError, match="does not match the model"):
        fit(tiny("model.units=9", "train.epochs=3"), run_dir, resume=True, verbose=0)
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"


def test_a_used_run_folder_needs_resume(finished_run):
    with pytest.raises(RunError, match="already exists and is not empty"):
        fit(tiny(), finished_run.run_dir, verbose=0)


def test_early_stopping_stops_when_nothing_improves(tmp_path):
    config = tiny(
        "train.learning_rate=0",
        "train.epochs=5",
        "train.early_stopping_patience=1",
        "train.restore_best_weights=true",
    )
    result = fit(config, tmp_path / "run", verbose=0)
    assert result.stopped_early and result.epochs_completed == 2
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (info["best_epoch"], info["stopped_early"]) == (1, True)
    assert (tmp_path / "run" / "checkpoints" / "best.npz").is_file()


def test_three_classes_from_the_csv_preset_with_bucketing_and_attention(tmp_path):
    config = load_config(
        "csv",
        [
            "train.epochs=1",
            "text.bucketing=true",
            "model.pooling=attention",
            "model.bidirectional=true",
            "model.units=4",
        ],
    )
    result = fit(config, tmp_path / "run", verbose=0)
    assert result.metrics["class_names"] == ["mixed", "negative", "positive"]
    assert len(result.metrics["confusion_matrix"]) == 3
    assert "roc_auc" not in result.metrics


@pytest.mark.parametrize(
    "schedule, step, expected",
    [
        ("constant", 50, 0.01),
        ("cosine", 0, 0.01),
        ("cosine", 100, 0.0),
        ("cosine", 50, 0.005),
        ("exponential", 9, 0.01),
        ("exponential", 10, 0.005),
        ("exponential", 25, 0.0025),
    ],
)
def test_learning_rate_schedules(schedule, step, expected):
    train = load_config(
        None,
        [
            f"train.lr_schedule={schedule}",
            "train.learning_rate=0.01",
            "train.epochs=10",
        ],
    )["train"]
    optimizer = build_optimizer(train, steps_per_epoch=10)
    rate = optimizer.learning_rate
    if callable(getattr(optimizer, "_learning_rate", None)):
        rate = optimizer._learning_rate(step)
    assert float(np.asarray(rate)) == pytest.approx(expected, abs=1e-7)


def test_warmup_and_optimizer_choices():
    train = load_config(
        None,
        [
            "train.optimizer=adamw",
            "train.weight_decay=0.01",
            "train.clipnorm=1.0",
            "train.warmup_epochs=1",
            "train.learning_rate=0.01",
        ],
    )["train"]
    optimizer = build_optimizer(train, steps_per_epoch=4)
    assert type(optimizer).__name__ == "AdamW"
    assert (optimizer.weight_decay, optimizer.clipnorm) == (0.01, 1.0)
    schedule = optimizer._learning_rate
    rates = [float(schedule(step)) for step in (0, 1, 3, 10)]
    assert rates == pytest.approx([0.0025, 0.005, 0.01, 0.01])
    sgd = build_optimizer({**train, "optimizer": "sgd", "warmup_epochs": 0.0}, 4)
    assert type(sgd).__name__ == "SGD" and math.isclose(sgd.momentum, 0.9)


def test_atomic_path_leaves_nothing_behind_on_error(tmp_path):
    target = tmp_path / "file.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.json"]


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("config.yaml", "", "the file is empty"),
        (
            "config.yaml",
            "model:\n  cell: lstm\n  units: [8\n",
            "damaged YAML at line 4 (expected ',' or ']', but got '<stream end>')",
        ),
        ("config.yaml", "- 1\n", "expected a mapping of sections, found list"),
        ("run.json", "", "the file is empty"),
        (
            "run.json",
            '{"class_names": ["neg",',
            "damaged JSON at line 1, column 24 (Expecting value)",
        ),
        ("run.json", "[1, 2]", "expected a JSON object, found list"),
        ("run.json", '{"seed": 1}', "no class_names list"),
    ],
)
def test_a_damaged_run_file_gets_one_line_naming_it(tmp_path, name, content, problem):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("name: quickstart\n")
    (run_dir / "run.json").write_text('{"class_names": ["neg", "pos"]}')
    (run_dir / name).write_text(content)
    with pytest.raises(RunError) as caught:
        read_run(run_dir)
    assert str(caught.value) == f"{run_dir / name}: {problem}"
