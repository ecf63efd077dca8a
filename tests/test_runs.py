"""Tests of `textlstm.runs`: atomic files, stale temporaries, the resume
policy, run.json's status changes and checkpoint files (no TensorFlow)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from textlstm.config import dump_config, load_config
from textlstm.runs import (
    RunError,
    RunRecord,
    atomic_path,
    checkpoint_dirs,
    latest_checkpoint,
    load_arrays,
    remove_stale_temporaries,
    resume_config,
    save_checkpoint,
    write_bytes,
    write_history,
    write_json,
)


def test_atomic_path_publishes_only_on_success(tmp_path):
    target = tmp_path / "out.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half")
        raise RuntimeError("killed")
    assert json.loads(target.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_atomic_folders_replace_whole(tmp_path):
    final = tmp_path / "folder"
    with atomic_path(final) as temporary:
        temporary.mkdir()
        write_bytes(temporary / "a.bin", b"\x00\x01")
    assert (final / "a.bin").read_bytes() == b"\x00\x01"


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_stale_temporaries_of_dead_processes_are_removed_live_ones_kept(tmp_path):
    dead = _dead_pid()
    (tmp_path / f".tmp-{dead}-1").mkdir()
    (tmp_path / f".tmp-{dead}-1" / "saved_model.pb").write_bytes(b"x")
    (tmp_path / f".tmp-{dead}-run.json").write_text("{")
    live = tmp_path / f".tmp-{os.getppid()}-2"
    live.mkdir()
    mine = tmp_path / f".tmp-{os.getpid()}-3"
    mine.mkdir()
    (tmp_path / "1").mkdir()
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(p.name for p in removed) == [
        f".tmp-{dead}-1",
        f".tmp-{dead}-run.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["1", live.name, mine.name]
    )
    assert remove_stale_temporaries(tmp_path / "missing") == []


TINY = ["data.size=200", "model.units=8", "train.seed=7", "train.epochs=2"]


@pytest.fixture
def run_dir(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.yaml").write_text(dump_config(load_config("quickstart", TINY)))
    return folder


def test_resume_accepts_the_run_s_own_options_again(run_dir):
    config = resume_config(run_dir, [*TINY, "train.deterministic=true"])
    assert config["train"]["seed"] == 7 and config["train"]["deterministic"]
    assert config["model"]["units"] == 8
    further = resume_config(run_dir, ["train.epochs=5"])
    assert further["train"]["epochs"] == 5
    assert resume_config(run_dir, epochs=4)["train"]["epochs"] == 4


def test_resume_refuses_an_option_that_differs_naming_it(run_dir):
    with pytest.raises(RunError) as caught:
        resume_config(run_dir, ["train.seed=8"])
    assert str(caught.value) == (
        f"cannot resume with train.seed=8: the run has train.seed=7 "
        f"({run_dir / 'config.yaml'}); a resumed run keeps its config, only "
        "train.epochs and train.deterministic may change"
    )


def test_resume_compares_a_named_config_whole(run_dir):
    same = load_config("quickstart", TINY)
    assert resume_config(run_dir, requested=same, compare_all=True) == same
    other = load_config("quickstart", [*TINY, "text.max_tokens=50"])
    with pytest.raises(RunError, match="text.max_tokens=50: the run has"):
        resume_config(run_dir, requested=other, compare_all=True)
    # Without compare_all only the options given count.
    assert resume_config(run_dir, requested=other) == same


def test_a_run_killed_before_its_config_resumes_with_the_options_given(tmp_path):
    requested = load_config("quickstart", TINY)
    (tmp_path / "early").mkdir()
    assert resume_config(tmp_path / "early", TINY, requested=requested) == requested
    with pytest.raises(RunError, match="no config.yaml in it"):
        resume_config(tmp_path / "early")


def test_a_damaged_config_yaml_is_named_when_resuming(run_dir):
    (run_dir / "config.yaml").write_text("model: [\n")
    with pytest.raises(RunError, match=r"config.yaml: damaged YAML at line 2"):
        resume_config(run_dir)


def _checkpoint(run_dir, epoch):
    state = {"epoch": epoch, "history": [{"epoch": e} for e in range(1, epoch + 1)]}
    save_checkpoint(run_dir / "checkpoints", [np.full(3, epoch)], state)


def test_checkpoints_keep_the_latest_two(run_dir):
    for epoch in (1, 2, 3):
        _checkpoint(run_dir, epoch)
    assert [p.name for p in checkpoint_dirs(run_dir / "checkpoints")] == [
        "epoch-0002",
        "epoch-0003",
    ]
    folder, state = latest_checkpoint(run_dir / "checkpoints")
    assert state["epoch"] == 3
    np.testing.assert_array_equal(load_arrays(folder / "variables.npz")[0], [3, 3, 3])


def test_run_json_never_loses_what_the_checkpoints_prove(run_dir):
    record = RunRecord(run_dir)
    record.started(name="quickstart", class_names=["neg", "pos"])
    _checkpoint(run_dir, 1)
    record.epoch_recorded(1)
    _checkpoint(run_dir, 2)  # killed before run.json was written again
    # A resumed session that dies before its first epoch:
    again = RunRecord(run_dir)
    info = again.started(name="quickstart", class_names=["neg", "pos"])
    assert info["epochs_completed"] == 2 and info["status"] == "running"
    again.failed(KeyboardInterrupt("stopped"))
    info = json.loads((run_dir / "run.json").read_text())
    assert (info["status"], info["epochs_completed"]) == ("failed", 2)
    assert info["error"] == "KeyboardInterrupt: stopped"


def test_run_json_status_changes(run_dir):
    record = RunRecord(run_dir)
    created = record.started(name="quickstart")["created"]
    record.resumed(0)
    record.epoch_recorded(1)
    record.completed({"total_s": 1.5}, best_epoch=1)
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "completed" and info["created"] == created
    assert info["resumed"][0]["from_epoch"] == 0
    assert info["wall_times_by_session"] == [{"total_s": 1.5}]
    second = RunRecord(run_dir)
    second.started(name="quickstart")
    second.completed({"total_s": 2.0})
    info = json.loads((run_dir / "run.json").read_text())
    assert info["wall_times_by_session"] == [{"total_s": 1.5}, {"total_s": 2.0}]
    assert info["created"] == created and info["epochs_completed"] == 1


def test_failed_before_run_json_exists_writes_nothing(tmp_path):
    assert RunRecord(tmp_path / "none").failed(ValueError("x")) is None
    assert not (tmp_path / "none").exists()


def test_history_csv_columns_in_order_of_appearance(tmp_path):
    path = write_history(
        tmp_path / "history.csv", [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "acc": 1}]
    )
    assert path.read_text() == "epoch,loss,acc\n1,0.5,\n2,,1\n"
