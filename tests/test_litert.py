"""`textlstm export --target litert`: the TensorFlow Lite model, run by the
`ai-edge-litert` interpreter, against the Keras model it came from."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import EXPORT_RUN
from textlstm.cli.main import cli
from textlstm.config import load_config
from textlstm.export import ExportError, export_saved_model, verify_export
from textlstm.export.litert import (
    CELL_CLIP,
    cell_clips,
    cell_state_peaks,
    convert,
    fused_lstm_count,
    unclipped,
)
from textlstm.export.litert_predictor import LiteRTPredictor, model_ops
from textlstm.model import build_classifier, load_text_classifier
from textlstm.training import fit

pytest.importorskip("ai_edge_litert")  # a dev dependency: always there in CI

# Texts of many lengths: 0 to 40 words, and longer than sequence_length (32).
TEXTS = [
    "",
    "great",
    "a dull film",
    "i loved this film , the acting was wonderful and the story moving",
    " ".join(["boring"] * 20 + ["but", "great", "in", "the", "end"]),
    " ".join(["film", "great", "dull"] * 14),
    "unknownword anotherunknown",
    "GREAT!!! <br /> Film\u00a0of the year",
]


def _run(tmp_path_factory, name, overrides):
    run_dir = tmp_path_factory.mktemp(name) / "run"
    fit(load_config("quickstart", EXPORT_RUN + overrides), run_dir, verbose=0)
    return run_dir


@pytest.fixture(scope="module")
def lstm_run(tmp_path_factory):
    """Two stacked bidirectional LSTMs with max-mean pooling and a head."""
    return _run(
        tmp_path_factory,
        "litert-lstm",
        [
            "model.bidirectional=true",
            "model.layers=2",
            "model.pooling=max_mean",
            "model.head_units=8",
        ],
    )


@pytest.fixture(scope="module")
def lstm_export(lstm_run, tmp_path_factory):
    base = tmp_path_factory.mktemp("litert-exports") / "lstm"
    return export_saved_model(lstm_run, base, target="litert")


def _keras(run_dir, texts):
    model = load_text_classifier(run_dir)
    return np.asarray(model.predict_on_batch(np.array(texts, dtype=object)))


def test_the_lstm_model_holds_one_fused_op_per_direction_and_only_builtins(
    lstm_export,
):
    predictor = LiteRTPredictor(lstm_export.path)
    ops = model_ops(predictor.interpreter)
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 4  # 2 layers x 2 directions
    assert "WHILE" not in ops
    assert "REVERSE_V2" in ops
    assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"]
    checks = {check.name: check for check in lstm_export.report.checks}
    assert checks["cell clip"].detail.startswith(
        "none in the 4 fused LSTM ops, as in Keras; max |c| = "
    )
    assert list(checks) == [
        "LiteRT interpreter",
        "builtin ops",
        "fused LSTM",
        "cell clip",
        "parity litert",
    ]
    assert all(check.ok for check in checks.values())
    assert checks["fused LSTM"].detail == (
        "4 UNIDIRECTIONAL_SEQUENCE_LSTM ops (expected 4), 0 WHILE loops"
    )


def test_the_lstm_model_equals_keras_on_texts_of_many_lengths(lstm_export, lstm_run):
    predictor = LiteRTPredictor(lstm_export.path)
    got, class_names = predictor(TEXTS)
    expected = _keras(lstm_run, TEXTS)
    assert class_names == json.loads((lstm_run / "run.json").read_text())["class_names"]
    assert got.shape == expected.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    lengths = [len(row) for row in predictor.token_rows(TEXTS)]
    assert lengths[0] == 0 and lengths[1] == 1 and max(lengths) == 32  # truncated


def test_each_text_starts_from_a_zero_state(lstm_export):
    """The fused ops keep their state in variable tensors between
    invocations: the same text twice, after another one of its length,
    must give the same answer."""
    predictor = LiteRTPredictor(lstm_export.path)
    first, _ = predictor(["great film", "dull film", "great film"])
    np.testing.assert_array_equal(first[0], first[2])
    assert np.abs(first[0] - first[1]).max() > 1e-3


def test_the_export_folder_layout_and_its_record(lstm_export, lstm_run):
    folder = lstm_export.path
    assert sorted(p.name for p in folder.iterdir()) == [
        "assets.extra",
        "labels.txt",
        "model.tflite",
        "vocab.txt",
    ]
    run = json.loads((lstm_run / "run.json").read_text())
    assert (folder / "labels.txt").read_text() == "".join(
        f"{name}\n" for name in run["class_names"]
    )
    assert (folder / "vocab.txt").read_text().split("\n")[:2] == ["", "[UNK]"]
    info = json.loads((folder / "assets.extra" / "export.json").read_text())
    assert info["target"] == "litert"
    assert info["fused_lstms"] == 4
    assert info["file_bytes"] == (folder / "model.tflite").stat().st_size
    assert info["tokenizer"]["sequence_length"] == 32
    assert info["cell_state_peak"]["converter_clip"] == CELL_CLIP
    assert info["cell_state_peak"]["clip"] == 0.0
    assert info["cell_state_peak"]["max_abs"] > 0
    assert cell_clips((folder / "model.tflite").read_bytes()) == [0.0] * 4
    assert len(info["cell_state_peak"]["per_lstm"]) == 4
    assert info["cell_state_peak"]["test_texts"] == 60


def test_predict_and_check_take_the_litert_export(lstm_export, lstm_run):
    runner = CliRunner()
    texts = ["a wonderful film", "dull and boring"]
    result = runner.invoke(cli, ["predict", str(lstm_export.path), *texts, "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines() if line[:1] == "{"]
    expected = _keras(lstm_run, texts)
    for line, row in zip(lines, expected):
        assert list(line["probabilities"].values()) == pytest.approx(row, abs=1e-4)
    result = runner.invoke(cli, ["export", "--check", str(lstm_export.path)])
    assert result.exit_code == 0, result.output
    assert "  ok   parity litert: max |litert - keras| = " in result.output


def test_a_dynamic_range_quantized_model_keeps_its_test_accuracy(
    lstm_run, lstm_export, tmp_path
):
    result = export_saved_model(
        lstm_run, tmp_path / "q", target="litert", quantize="dynamic"
    )
    info = json.loads((result.path / "assets.extra" / "export.json").read_text())
    quantization = info["quantization"]
    assert quantization["test_texts"] == 60
    assert quantization["change_points"] >= -1.0
    assert quantization["change_points"] == pytest.approx(
        100 * (quantization["litert_accuracy"] - quantization["keras_accuracy"]),
        abs=1e-3,
    )
    assert "quantized accuracy" in [check.name for check in result.report.checks]
    assert result.report.ok
    float_size = (lstm_export.path / "model.tflite").stat().st_size
    assert info["file_bytes"] == (result.path / "model.tflite").stat().st_size
    assert info["file_bytes"] < float_size


def test_a_gru_model_converts_to_builtin_loops_and_equals_keras(
    tmp_path_factory, tmp_path
):
    run_dir = _run(tmp_path_factory, "litert-gru", ["model.cell=gru"])
    result = export_saved_model(run_dir, tmp_path / "gru", target="litert")
    assert result.report.ok
    predictor = LiteRTPredictor(result.path)
    ops = model_ops(predictor.interpreter)
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" not in ops and "WHILE" in ops
    assert not [op for op in ops if op.startswith("Flex")]
    got, _ = predictor(TEXTS)
    np.testing.assert_allclose(got, _keras(run_dir, TEXTS), atol=1e-4, rtol=0)
    names = [check.name for check in result.report.checks]
    assert "cell clip" not in names  # no fused LSTM, nothing clipped


@pytest.mark.parametrize(
    "overrides",
    [
        ["model.cell=peephole_lstm"],
        ["model.cell=simple_rnn", "model.pooling=attention"],
        ["model.impl=keras", "model.cell=lstm", "model.bidirectional=true"],
    ],
    ids=["peephole", "simple_rnn_attention", "keras_bilstm"],
)
def test_other_cells_convert_with_builtin_ops_and_equal_keras(overrides):
    """Random weights: the conversion and the forward pass, not training."""
    config = load_config(None, ["model.units=6", "model.embedding_dim=5"] + overrides)
    config["text"]["max_tokens"] = 40
    classifier = build_classifier(config, num_classes=3)
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=convert(classifier))
    ops = model_ops(interpreter)
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == fused_lstm_count(classifier)
    assert not [op for op in ops if op.startswith("Flex")]
    index = interpreter.get_input_details()[0]["index"]
    output = interpreter.get_output_details()[0]["index"]
    rng = np.random.default_rng(0)
    for length in (1, 3, 17):
        ids = rng.integers(1, 40, size=(1, length))
        interpreter.resize_tensor_input(index, [1, length])
        interpreter.allocate_tensors()
        interpreter.set_tensor(index, ids.astype(np.int32))
        interpreter.invoke()
        padded = np.zeros((1, 24), np.int64)
        padded[0, :length] = ids
        np.testing.assert_allclose(
            interpreter.get_tensor(output),
            np.asarray(classifier(padded, training=False)),
            atol=1e-5,
            rtol=0,
        )


def test_a_cell_state_beyond_the_converters_clip_equals_keras_once_unclipped():
    """The converter writes a cell clip of 10 into the fused op, Keras has
    none. With both gates open, token 1 adds 1 to the cell state, token 2
    takes 1 away: 15 ones then 12 twos end at c = 3 in Keras, and at
    10 - 12 = -2 with the converter's clip."""
    config = load_config(
        None, ["model.units=2", "model.embedding_dim=2", "model.pooling=last"]
    )
    config["text"]["max_tokens"] = 5
    classifier = build_classifier(config, num_classes=2)
    embedding = np.zeros((5, 2), np.float32)
    embedding[1, 0], embedding[2, 0] = 1.0, -1.0
    classifier.get_layer("embedding").set_weights([embedding])
    kernel = np.zeros((2, 8), np.float32)
    kernel[0, 4:6] = 20.0  # g = tanh(+-20) = +-1
    bias = np.zeros(8, np.float32)
    bias[0:4] = bias[6:8] = 20.0  # i, f, o ~ 1
    classifier.get_layer("lstm_1").set_weights([kernel, np.zeros((2, 8)), bias])
    head = np.array([[4.0, -4.0], [0.0, 0.0]], np.float32)
    classifier.get_layer("probabilities").set_weights([head, np.zeros(2)])
    row = [1] * 15 + [2] * 12
    peaks = cell_state_peaks(classifier, [row, [1, 2]])
    assert peaks == [pytest.approx(15.0, abs=1e-3)]
    from ai_edge_litert.interpreter import Interpreter

    def run(flatbuffer):
        interpreter = Interpreter(model_content=flatbuffer)
        index = interpreter.get_input_details()[0]["index"]
        interpreter.resize_tensor_input(index, [1, len(row)])
        interpreter.allocate_tensors()
        interpreter.set_tensor(index, np.asarray([row], np.int32))
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    exported = convert(classifier)
    assert cell_clips(exported) == [0.0]
    expected = np.asarray(classifier(np.asarray([row]), training=False))
    assert expected[0, 0] > 0.99  # h = tanh(3): class 0
    np.testing.assert_allclose(run(exported), expected, atol=1e-5)
    # The converter's own model, clip restored: the other class.
    clipped = _with_clip(exported, CELL_CLIP)
    assert cell_clips(clipped) == [CELL_CLIP]
    assert run(clipped)[0, 0] < 0.01  # h = tanh(-2): class 1
    assert unclipped(clipped) == exported


def _with_clip(flatbuffer: bytes, clip: float) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils

    from textlstm.export.litert import _fused_lstm_options

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    for options in _fused_lstm_options(model):
        options.cellClip = clip
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def test_litert_options_that_do_not_apply_are_one_line_errors(lstm_run, tmp_path):
    runner = CliRunner()
    for args, message in [
        (
            ["--target", "litert", "--xla"],
            "Error: --xla applies to the SavedModel targets, not litert\n",
        ),
        (
            ["--target", "cpu", "--quantize", "dynamic"],
            "Error: --quantize applies to --target litert, not cpu\n",
        ),
    ]:
        result = runner.invoke(
            cli, ["export", str(lstm_run), "--out", str(tmp_path / "x"), *args]
        )
        assert result.exit_code == 2
        assert result.output == message
    assert not (tmp_path / "x").exists()
    with pytest.raises(ExportError, match="quantize: 'int4' is not one of dynamic"):
        export_saved_model(lstm_run, tmp_path / "y", target="litert", quantize="int4")


def test_a_broken_litert_export_fails_its_check(lstm_export, tmp_path):
    import shutil

    copy = tmp_path / "1"
    shutil.copytree(lstm_export.path, copy)
    vocabulary = (copy / "vocab.txt").read_text().split("\n")
    # Two tokens swapped: the app side tokenizes wrongly.
    vocabulary[2], vocabulary[3] = vocabulary[3], vocabulary[2]
    (copy / "vocab.txt").write_text("\n".join(vocabulary))
    report = verify_export(copy)
    assert not report.ok
    failed = [check.name for check in report.checks if not check.ok]
    assert failed == ["parity litert"]


def test_quantizing_without_the_test_split_is_a_one_line_error(
    lstm_run, tmp_path, monkeypatch
):
    import textlstm.data
    from textlstm.errors import DataError

    def unreadable(*args, **kwargs):
        raise DataError("data.train: reviews.csv does not exist")

    monkeypatch.setattr(textlstm.data, "load_dataset", unreadable)
    with pytest.raises(ExportError) as caught:
        export_saved_model(
            lstm_run, tmp_path / "q", target="litert", quantize="dynamic"
        )
    assert str(caught.value) == (
        "--quantize dynamic measures the test accuracy, but the run's test split "
        "cannot be read here: data.train: reviews.csv does not exist"
    )
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == []  # nothing published
