"""What an export and its verification produce: the constants every part of
`textlstm.export` shares, the checks and their report, the result.

This module imports no TensorFlow (a report is read and printed without it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

__all__ = [
    "EXTRA",
    "JSON_INDENT",
    "LITERT",
    "SIGNATURES",
    "TARGETS",
    "TOLERANCE",
    "TPU_ALIAS",
    "Check",
    "CheckList",
    "ExportResult",
    "VerificationError",
    "VerificationReport",
]

#: The SavedModel targets of `textlstm export --target` (those of `all`).
TARGETS = ("cpu", "gpu", "tpu")
#: The TensorFlow Lite target (`model.tflite`, verified with ai-edge-litert).
LITERT = "litert"
#: The signatures every export has.
SIGNATURES = ("serving_default", "serve_tokens")
#: The function alias of the fixed-shape, XLA-compilable token function.
TPU_ALIAS = "tpu_func"
#: Largest difference allowed between the export and the Keras model.
TOLERANCE = 1e-5
#: The folder of an export's own files, beside `assets/` (TF Serving's name).
EXTRA = "assets.extra"
#: Indentation of the JSON files of an export.
JSON_INDENT = 1


@dataclasses.dataclass
class Check:
    """One verification check: its name, outcome and a one-line detail."""

    name: str
    ok: bool
    detail: str = ""


class CheckList:
    """The checks of one verification, in order, and the parity differences.

    >>> checks = CheckList()
    >>> checks.parity("serve_tokens", [[0.25, 0.75]], [[0.25, 0.75]])
    >>> checks.add("labels", True, "label_id = argmax")
    >>> [(c.name, c.ok) for c in checks.checks], checks.max_abs_diff
    ([('parity serve_tokens', True), ('labels', True)], {'serve_tokens': 0.0})
    """

    def __init__(self):
        self.checks: list[Check] = []
        self.max_abs_diff: dict[str, float] = {}

    def add(self, name: str, ok, detail: str = "") -> None:
        self.checks.append(Check(name, bool(ok), detail))

    def parity(self, name: str, got, expected) -> None:
        """Check `parity <name>`: `got` equals `expected` within TOLERANCE."""
        if not got:
            self.add(f"parity {name}", False, "no output")
            return
        got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
        if got.shape != expected.shape:
            self.add(f"parity {name}", False, f"shape {got.shape} != {expected.shape}")
            return
        diff = float(np.max(np.abs(got - expected))) if got.size else 0.0
        self.max_abs_diff[name] = diff
        self.add(
            f"parity {name}",
            diff <= TOLERANCE and np.all(np.isfinite(got)),
            f"max |export - keras| = {diff:.2e} on {len(got)} inputs "
            f"(<= {TOLERANCE:g})",
        )


@dataclasses.dataclass
class VerificationReport:
    """What `verify_export` found.

    Attributes:
        path: The export version folder.
        target: The export's target, from `assets.extra/export.json`.
        checks: Every check, in order.
        max_abs_diff: Largest |export - Keras| probability difference per
            function (`serving_default`, `serve_tokens`, `tpu_func`).
        probe: The raw report of the fresh process.
    """

    path: Path
    target: str
    checks: list[Check]
    max_abs_diff: dict[str, float]
    probe: dict = dataclasses.field(repr=False, default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def format(self) -> str:
        """A short human-readable report, one line per check."""
        lines = [f"Verification of {self.path} (target {self.target}):"]
        for check in self.checks:
            mark = "ok  " if check.ok else "FAIL"
            lines.append(f"  {mark} {check.name}: {check.detail}")
        lines.append("  => " + ("passed" if self.ok else "FAILED"))
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "path": str(self.path),
            "target": self.target,
            "ok": self.ok,
            "max_abs_diff": self.max_abs_diff,
            "checks": [dataclasses.asdict(check) for check in self.checks],
        }


class VerificationError(RuntimeError):
    """An export failed its verification; `report` says which checks."""

    def __init__(self, report: VerificationReport):
        failed = ", ".join(c.name for c in report.checks if not c.ok)
        super().__init__(f"{report.path}: verification failed ({failed})")
        self.report = report


@dataclasses.dataclass
class ExportResult:
    """One written export: its folder, target, version and verification."""

    path: Path
    target: str
    version: int
    report: VerificationReport | None
