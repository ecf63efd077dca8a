"""A run folder written before the package was regrouped by role still loads,
evaluates, predicts and exports.

`tests/data/run_v0_1/` is a tiny quickstart run (synthetic data, 8 LSTM
units, the n-gram model averaged in) written by textlstm 0.1.0 when its
modules sat flat under `textlstm/` (`textlstm.text`, `textlstm.ngrams`,
`textlstm.models`, ...): its `model.keras` names `textlstm>TextVectorizer`,
`textlstm>LSTM`, `textlstm>NgramLogits` and `textlstm>MixedProbabilities`.
`run_v0_1_predictions.jsonl` is what `textlstm predict --json` printed for
three texts with that code; `metrics.json` what `fit` measured on the test
split. Only the files a run needs to be loaded are kept (no checkpoints,
plots or TensorBoard logs).
"""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
OLD_RUN = DATA / "run_v0_1"
METRIC_KEYS = ("split", "num_examples", "accuracy", "macro_f1", "per_class")


@pytest.fixture(scope="module")
def old_run(tmp_path_factory) -> Path:
    """A copy of the old run folder (nothing may write into the repository)."""
    run = tmp_path_factory.mktemp("old") / "run_v0_1"
    shutil.copytree(OLD_RUN, run)
    return run


def recorded_predictions() -> list[dict]:
    lines = (DATA / "run_v0_1_predictions.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def assert_same_predictions(predictions, expected):
    assert [p["text"] for p in predictions] == [e["text"] for e in expected]
    for got, want in zip(predictions, expected):
        assert list(got["probabilities"]) == ["neg", "pos"]
        np.testing.assert_allclose(
            list(got["probabilities"].values()),
            list(want["probabilities"].values()),
            atol=1e-5,
        )


def test_an_old_run_evaluates_to_its_recorded_metrics(old_run):
    from textlstm.evaluation import evaluate_run

    recorded = json.loads((OLD_RUN / "metrics.json").read_text())
    metrics = evaluate_run(old_run)
    assert {k: metrics[k] for k in METRIC_KEYS} == {k: recorded[k] for k in METRIC_KEYS}
    assert (
        metrics["confusion_matrix"]
        == recorded["confusion_matrix"]
        == [
            [23, 4],
            [24, 9],
        ]
    )
    assert metrics["loss"] == pytest.approx(recorded["loss"], abs=2e-6)


def test_an_old_run_predicts_what_it_predicted(old_run):
    from textlstm.evaluation import predict_texts

    expected = recorded_predictions()
    predictions = list(predict_texts(old_run, [e["text"] for e in expected]))
    assert_same_predictions(predictions, expected)


def test_an_old_run_exports_and_its_export_predicts_the_same(old_run, tmp_path):
    from textlstm.evaluation import predict_texts
    from textlstm.export import export_saved_model

    result = export_saved_model(old_run, tmp_path / "old")
    assert result.path == tmp_path / "old" / "1"
    assert result.report is not None and result.report.ok
    expected = recorded_predictions()
    predictions = list(predict_texts(result.path, [e["text"] for e in expected]))
    assert_same_predictions(predictions, expected)
