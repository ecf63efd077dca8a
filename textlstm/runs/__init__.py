"""The run folder: atomic files, run.json, checkpoints, history and resume.

`folder.py` is what a run folder holds and how it is read, created and
resumed; `atomic.py` writes every file under a temporary name and renames it
into place, so a process killed at any moment (even by SIGKILL) never leaves
a half-written file. Training, pretraining, evaluation, export and explain
all read or write run folders through this package, so none of them imports
another to reach one.

What it may import: `textlstm.errors` and `textlstm.config` (a run folder
holds a resolved config). No TensorFlow (a test checks).
"""

from textlstm.runs.folder import (
    KEEP_CHECKPOINTS,
    RESUMABLE_KEYS,
    Run,
    RunError,
    RunRecord,
    Session,
    atomic_path,
    check_same_vocabulary,
    checkpoint_dirs,
    default_run_dir,
    latest_checkpoint,
    latest_run_dir,
    load_arrays,
    new_run_dir,
    read_config_file,
    read_json,
    read_run,
    remove_stale_temporaries,
    resume_config,
    save_arrays,
    save_checkpoint,
    write_bytes,
    write_history,
    write_json,
    write_text,
)

__all__ = [
    "KEEP_CHECKPOINTS",
    "RESUMABLE_KEYS",
    "Run",
    "RunError",
    "RunRecord",
    "Session",
    "atomic_path",
    "check_same_vocabulary",
    "checkpoint_dirs",
    "default_run_dir",
    "latest_checkpoint",
    "latest_run_dir",
    "load_arrays",
    "new_run_dir",
    "read_config_file",
    "read_json",
    "read_run",
    "remove_stale_temporaries",
    "resume_config",
    "save_arrays",
    "save_checkpoint",
    "write_bytes",
    "write_history",
    "write_json",
    "write_text",
]
