"""Verification of an export in a fresh process that can import only
TensorFlow: `verify_export(path)`.

The probe (`textlstm/export/probe.py`, run by `fresh_process`) loads the
export with `tf.saved_model.load`, runs both signatures on the samples of
`assets.extra/verification_samples.json` and audits every op; `outputs` and
`ops` turn its report into checks. This package imports no TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from textlstm.errors import ExportError
from textlstm.export.report import (
    EXTRA,
    JSON_INDENT,
    LITERT,
    CheckList,
    VerificationReport,
)
from textlstm.export.verify.fresh_process import run_probe
from textlstm.export.verify.litert import check_litert
from textlstm.export.verify.ops import check_ops
from textlstm.export.verify.outputs import (
    check_outputs,
    check_process,
    check_signatures,
)
from textlstm.export.versions import resolve_export
from textlstm.runs import write_json

__all__ = ["checks_of", "verify_export"]


def verify_export(
    path: str | os.PathLike,
    *,
    run_dir: str | os.PathLike | None = None,
    scratch: str | os.PathLike | None = None,
) -> VerificationReport:
    """Verify an export in a fresh process that can import only TensorFlow.

    Checks: the signatures (names, dtypes, shapes), parity with the Keras
    model within 1e-5 on the sample texts and token ids of
    `assets.extra/verification_samples.json`, label consistency, that Keras
    and textlstm were not imported, that every op is a stock TensorFlow op,
    and per target: no `CudnnRNN*` or must-compile XLA function (`cpu`),
    cuDNN functions paired with portable ones (`gpu`), `tpu_func` alias
    compiled with XLA on this host's CPU and matching Keras (`tpu`).

    Args:
        path: An export version folder, or a model base (its latest version).
        run_dir: Recompute the Keras reference from this run folder's
            `model.keras` instead of using the one stored at export time.
        scratch: A folder for the probe's files (its report, output and
            temporary files); default a temporary folder, removed after.

    Returns:
        A `VerificationReport` (check `.ok`).

    Raises:
        ExportError: `path` holds no export of `textlstm export`.
    """
    path = resolve_export(path)
    info = _export_info(path)
    if info["target"] == LITERT:
        return _verify_litert(path, info, run_dir)
    with _scratch_folder(scratch) as folder:
        samples_path = path / EXTRA / "verification_samples.json"
        if run_dir is not None:
            # Heavy (TensorFlow, Keras): only to recompute the reference.
            from textlstm.export.extras import run_reference

            samples_path = folder / "samples.json"
            write_json(samples_path, run_reference(run_dir), JSON_INDENT)
        samples = json.loads(samples_path.read_text(encoding="utf-8"))
        probe = run_probe(path, samples_path, folder)
    checks = checks_of(probe, samples, info)
    return VerificationReport(
        path=path,
        target=info["target"],
        checks=checks.checks,
        max_abs_diff=checks.max_abs_diff,
        probe=probe,
    )


def checks_of(probe: dict, samples: dict, info: dict) -> CheckList:
    """Every check of a probe report, in order.

    Args:
        probe: The fresh process's report.
        samples: The samples it ran and the Keras model's outputs on them.
        info: The export's `export.json`.
    """
    checks = CheckList()
    check_process(checks, probe)
    check_signatures(checks, probe, len(info["class_names"]))
    check_outputs(checks, probe, samples, info["class_names"])
    check_ops(checks, probe, samples, info)
    return checks


def _verify_litert(path: Path, info: dict, run_dir) -> VerificationReport:
    """A LiteRT export's checks (`verify.litert`), in this process."""
    if run_dir is not None:
        from textlstm.export.extras import run_reference  # heavy: Keras

        samples = run_reference(run_dir)
    else:
        samples_path = path / EXTRA / "verification_samples.json"
        samples = json.loads(samples_path.read_text(encoding="utf-8"))
    checks = check_litert(path, samples, info)
    return VerificationReport(
        path=path,
        target=LITERT,
        checks=checks.checks,
        max_abs_diff=checks.max_abs_diff,
    )


def _export_info(path: Path) -> dict:
    info_path = path / EXTRA / "export.json"
    if not info_path.is_file():
        raise ExportError(
            f"{path} was not written by textlstm export ({info_path} missing)"
        )
    return json.loads(info_path.read_text(encoding="utf-8"))


@contextlib.contextmanager
def _scratch_folder(scratch: str | os.PathLike | None) -> Iterator[Path]:
    if scratch is not None:
        Path(scratch).mkdir(parents=True, exist_ok=True)
        yield Path(scratch)
        return
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)
