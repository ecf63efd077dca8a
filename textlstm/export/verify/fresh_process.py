"""Run the probe (`textlstm/export/probe.py`) in a fresh `python -I`.

The probe dies with the process that runs it: this process holds the
probe's stdin open and the probe exits when it reaches end of file (and on
Linux asks the kernel for SIGKILL when its parent dies). Its temporary
files go to `scratch/tmp` (`TMPDIR`), its output to `scratch/probe.*`, so
an export killed mid-verification leaves nothing outside its workspace.
This module imports no TensorFlow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["PROBE", "run_probe"]

PROBE = Path(__file__).parents[1] / "probe.py"


def run_probe(path: Path, samples: Path, scratch: Path) -> dict:
    """The probe's report on the export `path` and the `samples` file.

    Args:
        path: The export version folder.
        samples: Its `verification_samples.json` (or a recomputed one).
        scratch: A folder for the report, the output and `TMPDIR`.

    Returns:
        The report (see `probe.py`); `{"errors": [...]}` with the probe's
        last lines of output if it wrote none.
    """
    report = scratch / "probe.json"
    report.unlink(missing_ok=True)  # a previous run's must not stand in
    tmp = scratch / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(tmp)}
    command = [sys.executable, "-I", str(PROBE), str(path), str(samples), str(report)]
    command += ["--parent", str(os.getpid())]
    stdout, stderr = scratch / "probe.stdout", scratch / "probe.stderr"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=out, stderr=err, env=env
        )
        try:
            returncode = process.wait()
        finally:
            process.stdin.close()  # a probe still running exits at end of file
            if process.poll() is None:  # interrupted here (Ctrl-C)
                process.kill()
                process.wait()
    if not report.is_file():
        output = _read(stderr) or _read(stdout)
        tail = output.strip().splitlines()[-5:]
        return {"errors": [f"probe exited with {returncode}: " + " | ".join(tail)]}
    return json.loads(report.read_text(encoding="utf-8"))


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")
