"""Training: `fit(config)` in phases, and the levers of the training loop.

`runner.py` is `fit` (data, model, loop, evaluation, saving);
`preparation.py` prepares the data for a model (splits, vectorizer, `auto`
sizes, pretrained vectors, batches); `distributed.py` trains under a
`tf.distribute` strategy; `checkpoints.py` saves and restores the loop's
state; `optimizers.py`, `adversarial.py` and `unfreezing.py` are the
training levers; `progress.py` the progress bar and seeds shared with
pretraining; `environment.py` the versions and devices that `run.json` and
`textlstm info` report.

What it may import: every package below it (`errors`, `config`, `runs`,
`cluster`, `layers`, `data`, `text`, `model`, `evaluation`). Only
`textlstm.pretraining` and the command line import it.
"""

from textlstm.training.runner import (
    FitResult,
    Run,
    RunError,
    Warmup,
    atomic_path,
    build_optimizer,
    default_run_dir,
    fit,
    latest_run_dir,
    read_run,
    resume_config,
    write_json,
    write_text,
)

__all__ = [
    "FitResult",
    "Run",
    "RunError",
    "Warmup",
    "atomic_path",
    "build_optimizer",
    "default_run_dir",
    "fit",
    "latest_run_dir",
    "read_run",
    "resume_config",
    "write_json",
    "write_text",
]
