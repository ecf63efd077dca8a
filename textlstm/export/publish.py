"""`export_saved_model`: write, verify and publish one version, atomically.

The SavedModel is written in the export's workspace (`workspace.py`),
verified there, then renamed to `OUT/<version>`, so TensorFlow Serving
watching `OUT` never sees a half-written or failing version. The workspaces
that killed exports left behind are removed first. This module imports no
TensorFlow until there is a model to write.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from textlstm.errors import ExportError
from textlstm.export.report import (
    EXTRA,
    JSON_INDENT,
    LITERT,
    TARGETS,
    ExportResult,
    VerificationError,
    VerificationReport,
)
from textlstm.export.verify import verify_export
from textlstm.export.versions import next_version
from textlstm.export.workspace import export_workspace
from textlstm.runs import (
    Run,
    RunError,
    read_run,
    remove_stale_temporaries,
    write_json,
)

__all__ = ["ALL", "export_saved_model", "export_saved_models", "target_bases"]

#: The `target` of `export_saved_models` that means every one of TARGETS.
ALL = "all"


def export_saved_model(
    run_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    target: str = "cpu",
    version: int | None = None,
    verify: bool = True,
    tpu_batch_size: int | None = None,
    xla: bool = False,
    quantize: str | None = None,
    log: Callable[[str], None] | None = None,
) -> ExportResult:
    """Export the model of a run folder to `out/<version>/`, atomically.

    The SavedModel is written to a temporary folder beside its final name,
    verified there (unless `verify=False`), then renamed, so TensorFlow
    Serving watching `out` never sees a half-written or failing version.

    Args:
        run_dir: A run folder written by `textlstm fit` (or any folder with
            `model.keras`, `config.yaml` and `run.json`).
        out: The model base folder (created if needed).
        target: `"cpu"`, `"gpu"`, `"tpu"` (see `textlstm.export`) or
            `"litert"` (`model.tflite`, see `textlstm.export.litert`).
        version: The version number; default one more than the largest
            existing version (1 for a new base).
        verify: Verify in a fresh process before publishing.
        tpu_batch_size: Static batch size of `tpu_func` (default the
            config's `train.batch_size`).
        xla: The signatures call XLA-compiled recurrent loops, on inputs
            bucketed to a few shapes (`textlstm.export.shapes`). Faster,
            but TensorFlow Serving runs it only with
            `--xla_cpu_compilation_enabled=true` (CPU) or
            `--xla_gpu_compilation_enabled=true` (GPU). SavedModel
            targets only.
        quantize: `"dynamic"`: dynamic-range quantization (int8 weights) of
            the `litert` model, its test accuracy measured.
        log: Called with one-line progress messages.

    Returns:
        An `ExportResult`.

    Raises:
        ExportError: bad run folder, target or version (the version exists).
        VerificationError: the export failed verification (nothing is
            published).
    """
    log = log or (lambda message: None)
    _check_options(target, version, xla, quantize)
    out = Path(out)
    run = _finished_run(run_dir)
    remove_stale_temporaries(out)
    version = version if version is not None else next_version(out)
    final = out / str(version)
    _refuse_existing(final)
    # Heavy (TensorFlow, Keras): imported once there is a model to export.
    from textlstm.export.extras import write_extras
    from textlstm.export.saved_model import write_saved_model
    from textlstm.model import load_text_classifier

    log(f"Loading {run.path / 'model.keras'}")
    text_model = load_text_classifier(run.path)
    with export_workspace(out, version) as workspace:
        if target == LITERT:
            from textlstm.export.litert_writer import write_litert

            fields = write_litert(
                text_model, run, workspace.export, quantize=quantize, log=log
            )
        else:
            log(f"Writing the {target}{' XLA' if xla else ''} SavedModel")
            fields = write_saved_model(
                text_model,
                run,
                workspace.export,
                target=target,
                tpu_batch_size=tpu_batch_size,
                scratch=workspace.scratch,
                xla=xla,
            )
        write_extras(
            text_model, run, workspace.export, fields, target=target, version=version
        )
        report = None
        if verify:
            log(
                "Verifying with the ai-edge-litert interpreter"
                if target == LITERT
                else "Verifying in a fresh process"
            )
            report = _verified(workspace.export, final, workspace.scratch)
        _publish(workspace.export, final)
    return ExportResult(path=final, target=target, version=version, report=report)


def export_saved_models(
    run_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    target: str = "cpu",
    version: int | None = None,
    **options,
) -> Iterator[ExportResult]:
    """`export_saved_model` to each of `target_bases(out, target, version)`,
    one after the other (the command's `--target all`).

    A `version` that exists for any target is refused at once, before any
    is written; each export runs as the returned iterator reaches it.

    Raises:
        ExportError: as `export_saved_model`.
        VerificationError: as `export_saved_model` (the targets exported
            before it stay published).
    """
    bases = target_bases(out, target, version)
    return (
        export_saved_model(run_dir, base, target=name, version=version, **options)
        for name, base in bases
    )


def target_bases(
    out: str | os.PathLike, target: str, version: int | None = None
) -> list[tuple[str, Path]]:
    """The `(target, model base)` pairs of an export to `target`: `out`
    itself, or for `"all"` `out/cpu`, `out/gpu` and `out/tpu`.

    Raises:
        ExportError: `version` exists already in one of the bases.

    >>> [(name, str(base)) for name, base in target_bases("exports/q", "tpu")]
    [('tpu', 'exports/q')]
    >>> [str(base) for _, base in target_bases("exports/q", "all")]
    ['exports/q/cpu', 'exports/q/gpu', 'exports/q/tpu']
    """
    out = Path(out)
    if target != ALL:
        return [(target, out)]
    bases = [(name, out / name) for name in TARGETS]
    if version is not None:
        for _, base in bases:
            _refuse_existing(base / str(version))
    return bases


def _check_options(target: str, version: int | None, xla: bool, quantize) -> None:
    if target not in (*TARGETS, LITERT):
        raise ExportError(
            f"target: {target!r} is not one of {', '.join((*TARGETS, LITERT))}"
        )
    if xla and target == LITERT:
        raise ExportError("--xla applies to the SavedModel targets, not litert")
    if quantize is not None and target != LITERT:
        raise ExportError(f"--quantize applies to --target litert, not {target}")
    if quantize not in (None, "dynamic"):
        raise ExportError(f"quantize: {quantize!r} is not one of dynamic")
    if version is not None and (isinstance(version, bool) or version < 1):
        raise ExportError(f"version: {version!r} is not an integer >= 1")


def _finished_run(run_dir: str | os.PathLike) -> Run:
    try:
        run = read_run(run_dir)
    except RunError as error:
        raise ExportError(str(error)) from None
    if not (run.path / "model.keras").is_file():
        raise ExportError(f"{run.path} has no model.keras (is the run finished?)")
    return run


def _refuse_existing(final: Path) -> None:
    if final.exists():
        raise ExportError(f"{final} already exists (choose another --version)")


def _verified(folder: Path, final: Path, scratch: Path) -> VerificationReport:
    """Verify `folder`; store the report (named for `final`) in it.

    Raises:
        VerificationError: a check failed.
    """
    report = verify_export(folder, scratch=scratch)
    report.path = final
    write_json(folder / EXTRA / "verification.json", report.to_json(), JSON_INDENT)
    if not report.ok:
        raise VerificationError(report)
    return report


def _publish(folder: Path, final: Path) -> None:
    try:
        os.rename(folder, final)  # fails if `final` appeared meanwhile
    except OSError:
        raise ExportError(f"{final} already exists (written concurrently?)") from None
