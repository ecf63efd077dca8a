"""Tests of the `textlstm` command line, with `CliRunner` and real
subprocesses: exit codes, messages, the run folder, resume after SIGKILL and
deterministic runs."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from textlstm.cli.main import cli
from textlstm.config import list_presets, load_config

# Small enough for seconds per run, large enough that epoch 2 lasts about a
# second, so that a SIGKILL sent just after the epoch-1 checkpoint lands
# inside it.
FIT_ARGS = [
    "--set", "data.size=2500",
    "--set", "data.test_size=100",
    "--set", "text.max_tokens=300",
    "--set", "text.sequence_length=32",
    "--set", "model.units=8",
    "--set", "model.embedding_dim=8",
    "--epochs", "3",
    "--batch-size", "16",
    "--deterministic",
    "--quiet",
]  # fmt: skip


def textlstm(*args, input=None, timeout=300):
    """Run the real command in a fresh Python process."""
    return subprocess.run(
        [sys.executable, "-m", "textlstm.cli.main", *map(str, args)],
        input=input,
        capture_output=True,
        timeout=timeout,
    )


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(arg) for arg in args], input=input)


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    """An uninterrupted deterministic run, in its own process."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    result = textlstm("fit", "--run-dir", run_dir, *FIT_ARGS)
    assert result.returncode == 0, result.stderr.decode()
    assert str(run_dir) in result.stdout.decode()  # the summary names the folder
    return run_dir


# --------------------------------------------------------------------------- #
# Help, presets, config errors (no TensorFlow needed)


@pytest.mark.parametrize("command", ["fit", "evaluate", "predict", "configs", "info"])
def test_every_command_help_has_an_example(command):
    result = invoke(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.output and f"textlstm {command}" in result.output


def test_configs_lists_and_prints_presets():
    result = invoke("configs")
    assert result.exit_code == 0
    for name in list_presets():
        assert name in result.output
    result = invoke("configs", "imdb_gru", "--set", "model.units=7")
    assert result.exit_code == 0
    assert yaml.safe_load(result.output) == load_config("imdb_gru", ["model.units=7"])
    result = invoke("configs", "--keys")
    assert result.exit_code == 0 and "model.cell" in result.output


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--set", "model.cell=lsmt"],
            "Error: model.cell: 'lsmt' is not one of lstm, gru, peephole_lstm, "
            "layernorm_lstm, cifg_lstm, simple_rnn",
        ),
        (
            ["--set", "model.unit=8"],
            "Error: model.unit: unknown key; did you mean model.units?",
        ),
        (
            ["--set", "train.learning_rate=fast"],
            "Error: train.learning_rate: expected a number, got 'fast' (str)",
        ),
        (["--config", "missing.yaml"], "Error: config: file not found: missing.yaml"),
        (
            ["--config", "nope"],
            "Error: config: no preset or file named 'nope' (presets: csv, imdb_bilstm,",
        ),
        (["--set", "model.units"], "Error: --set 'model.units': expected key=value"),
    ],
)
def test_config_errors_exit_2_with_one_line(args, message):
    result = invoke("fit", *args)
    assert result.exit_code == 2
    assert result.output.startswith(message)
    assert len(result.output.strip().splitlines()) == 1


def test_config_error_in_a_real_process_exits_2_before_importing_tensorflow():
    script = (
        "import sys\n"
        "from textlstm.cli.main import cli\n"
        "try:\n"
        "    cli(['fit', '--set', 'model.cell=lsmt'], prog_name='textlstm')\n"
        "except SystemExit as exit:\n"
        "    print('tensorflow' in sys.modules, exit.code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split() == ["False", "2"]
    assert result.stderr.strip() == (
        "Error: model.cell: 'lsmt' is not one of lstm, gru, peephole_lstm, "
        "layernorm_lstm, cifg_lstm, simple_rnn"
    )
    result = textlstm("fit", "--config", "missing.yaml")
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr


def test_usage_errors_exit_2(tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "something").write_text("x")
    result = invoke("fit", "--run-dir", used)
    assert result.exit_code == 2 and "add --resume to continue it" in result.output
    result = invoke("evaluate", tmp_path)
    assert result.exit_code == 2
    assert "is not a textlstm run folder (config.yaml missing)" in result.output
    result = invoke("predict", tmp_path, "text")
    assert result.exit_code == 2 and "has no model.keras" in result.output
    result = invoke("evaluate", tmp_path / "absent")
    assert result.exit_code == 2 and "does not exist" in result.output


# --------------------------------------------------------------------------- #
# A real run: evaluate, predict, resume, determinism


def test_evaluate_prints_the_documented_json(reference_run):
    result = invoke("evaluate", reference_run, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    for key in ("split", "num_examples", "loss", "accuracy", "macro_f1"):
        assert key in metrics
    assert metrics["split"] == "test" and metrics["num_examples"] == 100
    stored = json.loads((reference_run / "metrics.json").read_text())
    assert metrics["confusion_matrix"] == stored["confusion_matrix"]
    assert metrics["per_class"] == stored["per_class"]
    assert metrics["accuracy"] == stored["accuracy"]

    result = invoke("evaluate", reference_run, "--split", "validation", "--json")
    assert json.loads(result.output)["split"] == "validation"
    # Another dataset: longer distances, fewer test reviews.
    result = invoke(
        "evaluate", reference_run, "--set", "data.distance=25", "--set",
        "data.test_size=40", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["num_examples"] == 40
    result = invoke("evaluate", reference_run)
    assert result.exit_code == 0 and "confusion matrix" in result.output


def test_predict_any_text_from_stdin_as_json_lines(reference_run):
    lines = [
        b"at first i found it dull . but by the end , i found it brilliant .",
        b"",
        b"x" * 100_000,
        "ctrl \x01\x02\x1b[31m bell\x07 tab\t end \u200b".encode(),
        "émigré 日本語 🎬 <br /> &amp;".encode(),
        b"invalid utf-8 \xff\xfe",
    ]
    result = textlstm(
        "predict", reference_run, "--json", input=b"\n".join(lines) + b"\n"
    )
    assert result.returncode == 0, result.stderr.decode()
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(records) == len(lines)
    for record in records:
        assert set(record) == {"text", "label", "probabilities"}
        assert record["label"] in ("neg", "pos")
        assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert records[1]["text"] == "" and len(records[2]["text"]) == 100_000
    assert records[5]["text"] == "invalid utf-8 \ufffd\ufffd"


def test_predict_arguments_and_file(reference_run, tmp_path):
    result = invoke("predict", reference_run, "one review", "", "--json")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["text"] for line in result.output.splitlines()] == [
        "one review",
        "",
    ]
    texts = tmp_path / "texts.txt"
    texts.write_text("first\nsecond \x1b[2J\n")
    result = invoke("predict", reference_run, "--input", texts)
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 2
    assert "\x1b" not in result.output  # control characters never reach the terminal
    result = invoke("predict", reference_run, "a", "--input", texts)
    assert result.exit_code == 2 and "not both" in result.output


def test_other_failures_exit_1_with_one_line(reference_run, tmp_path):
    import zipfile

    broken = tmp_path / "broken"
    shutil.copytree(reference_run, broken)
    # A zip archive that is no Keras model: Keras' own failure, not a bad
    # input we can name (a file that is no zip at all exits 2, see below).
    with zipfile.ZipFile(broken / "model.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    result = invoke("predict", broken, "text")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert len(result.output.strip().splitlines()) == 1


def test_sigkill_after_epoch_1_then_resume_matches_the_uninterrupted_run(
    reference_run, tmp_path
):
    run_dir = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "textlstm.cli.main", "fit", "--run-dir", str(run_dir)]
        + FIT_ARGS,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = run_dir / "checkpoints" / "epoch-0001" / "state.json"
    deadline = time.monotonic() + 240
    while not first.exists():
        assert process.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline, "no epoch-1 checkpoint after 240 s"
        time.sleep(0.005)
    # Freeze it at once (no timing guess: a fast machine finishes an epoch in
    # a fraction of a second), check where it stands, then kill it.
    os.kill(process.pid, signal.SIGSTOP)
    assert not (run_dir / "checkpoints" / "epoch-0002").exists(), "stopped too late"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (run_dir / "metrics.json").exists()
    json.loads((run_dir / "run.json").read_text())  # never half-written
    assert json.loads((run_dir / "run.json").read_text())["status"] == "running"

    # The resume in this process (the kill needed a real one).
    result = invoke("fit", "--run-dir", run_dir, "--resume", "--quiet")
    assert result.exit_code == 0, result.output
    assert "resumed after epoch 1" in result.stdout
    assert (run_dir / "metrics.json").read_text() == (
        reference_run / "metrics.json"
    ).read_text()
    final = "checkpoints/epoch-0003/variables.npz"
    with np.load(run_dir / final) as resumed, np.load(reference_run / final) as full:
        assert resumed.files == full.files
        for name in full.files:
            np.testing.assert_array_equal(resumed[name], full[name])


def test_resume_accepts_the_original_command_and_refuses_a_change(
    reference_run, tmp_path
):
    run_dir = tmp_path / "again"
    shutil.copytree(reference_run, run_dir)
    # Repeating every option of the original command is fine ...
    result = invoke("fit", "--run-dir", run_dir, "--resume", *FIT_ARGS)
    assert result.exit_code == 0, result.output
    assert (run_dir / "metrics.json").read_text() == (
        reference_run / "metrics.json"
    ).read_text()
    # ... a different value is refused, naming the key and both values.
    result = invoke("fit", "--run-dir", run_dir, "--resume", "--seed", "7")
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: cannot resume with train.seed=7: the run has train.seed=42 "
        f"({run_dir / 'config.yaml'}); a resumed run keeps its config, only "
        "train.epochs and train.deterministic may change"
    )
    result = invoke("fit", "--run-dir", run_dir, "--resume", "--config", "imdb_gru")
    assert result.exit_code == 2
    assert "cannot resume with name='imdb_gru': the run has name='quickstart'" in (
        result.output
    )


def test_a_run_killed_before_its_config_resumes_with_the_options_given(tmp_path):
    run_dir = tmp_path / "early"
    run_dir.mkdir()  # killed before config.yaml was written
    result = invoke(
        "fit", "--run-dir", run_dir, "--resume", "--seed", "7",
        "--set", "data.size=200", "--set", "data.test_size=50",
        "--set", "model.units=4", "--epochs", "1", "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (config["train"]["seed"], config["model"]["units"]) == (7, 4)
    assert json.loads((run_dir / "run.json").read_text())["seed"] == 7


def test_two_deterministic_runs_give_identical_metrics(reference_run, tmp_path):
    result = invoke("fit", "--run-dir", tmp_path / "again", *FIT_ARGS)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again" / "metrics.json").read_text() == (
        reference_run / "metrics.json"
    ).read_text()
    history = [
        {k: v for k, v in row.items() if k != "seconds"}
        for row in json.loads(
            (
                tmp_path / "again" / "checkpoints" / "epoch-0003" / "state.json"
            ).read_text()
        )["history"]
    ]
    reference = json.loads(
        (reference_run / "checkpoints" / "epoch-0003" / "state.json").read_text()
    )["history"]
    assert history == [
        {k: v for k, v in r.items() if k != "seconds"} for r in reference
    ]


def test_resume_without_run_dir_picks_the_latest_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke("fit", "--resume")
    assert result.exit_code == 2
    assert "no run of config 'quickstart' under runs/" in result.output
    Path("runs/quickstart-20250101-000000").mkdir(parents=True)
    result = invoke("fit", "--resume", "--set", "model.units=3")
    assert result.exit_code == 2
    assert "give --run-dir" in result.output or "config.yaml" in result.output


@pytest.mark.parametrize(
    "name, damage, problem",
    [
        ("run.json", b"", "the file is empty"),
        (
            "config.yaml",
            b"name: quickstart\nmodel: [",
            "damaged YAML at line 2 "
            "(expected the node content, but found '<stream end>')",
        ),
        ("model.keras", None, "damaged model file (not a .keras zip archive)"),
    ],
)
def test_a_damaged_run_folder_file_exits_2_naming_it(
    reference_run, tmp_path, name, damage, problem
):
    run_dir = tmp_path / "damaged"
    shutil.copytree(reference_run, run_dir)
    path = run_dir / name
    path.write_bytes(path.read_bytes()[:1000] if damage is None else damage)
    for command in (["evaluate", run_dir], ["predict", run_dir, "a text"]):
        result = invoke(*command)
        assert result.exit_code == 2, result.output
        (line,) = result.output.strip().splitlines()
        assert line == f"Error: {path}: {problem}", line


@pytest.mark.parametrize("key", ["model.units", "train.epochs", "text.max_tokens"])
def test_evaluate_refuses_keys_it_cannot_apply(reference_run, key):
    result = invoke("evaluate", reference_run, "--set", f"{key}=8")
    assert result.exit_code == 2, result.output
    assert result.output.strip() == (
        f"Error: {key}: evaluate can only override data keys "
        "(the trained model fixes the others)"
    )


def test_fit_data_file_uses_the_text_classifier_preset_with_auto_sizes(tmp_path):
    rows = ["text,label"] + [
        f"{'a fine film' if i % 2 else 'a dull film'} number {i % 7},"
        f"{'pos' if i % 2 else 'neg'}"
        for i in range(60)
    ]
    (tmp_path / "mine.csv").write_text("\n".join(rows) + "\n")
    run_dir = tmp_path / "run"
    result = invoke(
        "fit", "--data", tmp_path / "mine.csv", "--epochs", "1",
        "--set", "model.units=4", "--set", "model.embedding_dim=4",
        "--run-dir", run_dir, "--quiet",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert config["name"] == "text_classifier"
    assert config["data"]["source"] == "csv"
    assert config["data"]["train"] == str((tmp_path / "mine.csv").resolve())
    # Tokens seen twice: a, fine, dull, film, number, 0..6 (12) + padding, [UNK].
    assert config["text"]["max_tokens"] == 14
    assert config["text"]["sequence_length"] == 8
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["num_examples"] == 12  # test_fraction 0.2 of 60
    result = invoke("fit", "--data", tmp_path / "notes.txt")
    assert result.exit_code == 2 and "does not exist" in result.output
    (tmp_path / "notes.txt").write_text("x\n")
    result = invoke("fit", "--data", tmp_path / "notes.txt")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: --data {tmp_path / 'notes.txt'}: cannot tell the format from the "
        "extension (.csv, .tsv, .jsonl, optionally .gz; or use --set data.source=...)"
    )
