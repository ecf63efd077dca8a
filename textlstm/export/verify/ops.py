"""Checks of the op audit (every op of the MetaGraph) and of each target:
stock ops only, predict method names, no cuDNN op or must-compile XLA
function where none may be, the cuDNN pairs of `gpu`, the `tpu_func` alias
and its XLA compilation (TensorFlow-free)."""

from __future__ import annotations

from textlstm.export.report import SIGNATURES, TPU_ALIAS, CheckList

__all__ = ["check_ops"]


def check_ops(checks: CheckList, probe: dict, samples: dict, info: dict) -> None:
    """The op audit's checks, then the target's (none if it did not run)."""
    ops = probe.get("ops")
    if ops is None:
        checks.add("op audit", False, "not run")
        return
    checks.add(
        "stock ops",
        not ops["unregistered"],
        f"{len(ops['op_types'])} op types in {ops['num_functions']} functions, all "
        "registered in stock TensorFlow"
        if not ops["unregistered"]
        else f"not stock TensorFlow: {ops['unregistered']}",
    )
    methods = ops.get("method_names", {})
    checks.add(
        "predict method",
        all(methods.get(n) == "tensorflow/serving/predict" for n in SIGNATURES),
        "both signatures are tensorflow/serving/predict",
    )
    cudnn, must_compile = ops["cudnn"], ops["xla_must_compile"]
    target = info["target"]
    if target in ("cpu", "tpu"):
        checks.add(
            "no cuDNN ops", not cudnn, "no CudnnRNN* op" if not cudnn else str(cudnn)
        )
    if info.get("xla"):
        checks.add(
            "XLA loops",
            bool(must_compile),
            f"{len(must_compile)} _XlaMustCompile functions (the recurrent loops)"
            if must_compile
            else "no _XlaMustCompile function in an --xla export",
        )
    else:
        checks.add(
            "no must-compile XLA",
            not must_compile,
            "no _XlaMustCompile function"
            if not must_compile
            else str(must_compile[:3]),
        )
    if target == "gpu":
        _check_cudnn_selection(checks, ops, info)
    if target == "tpu":
        _check_tpu_func(checks, probe, ops, samples)


def _check_cudnn_selection(checks: CheckList, ops: dict, info: dict) -> None:
    groups, cudnn = ops["api_implements"], ops["cudnn"]
    if info.get("cudnn_layers") == 0:
        ok = not groups and not cudnn
        found = (
            "none needed: no textlstm LSTM or GRU layer to pair with cuDNN; "
            "the portable loops run on GPUs as they are"
        )
    else:
        pairs = all(set(g) == {"CPU", "GPU"} for g in groups.values())
        ok = bool(groups and pairs and cudnn)
        found = (
            f"{len(groups)} implementation pairs (CPU portable / GPU cuDNN), "
            f"CudnnRNNV3 in {len(cudnn)} functions"
        )
    checks.add(
        "cuDNN selection",
        ok,
        found
        if ok
        else f"api_implements groups {groups}, cuDNN functions {sorted(cudnn)}",
    )


def _check_tpu_func(checks: CheckList, probe: dict, ops: dict, samples: dict) -> None:
    aliases = ops.get("function_aliases", {})
    checks.add(
        "tpu_func alias",
        any(alias == TPU_ALIAS for alias in aliases.values()),
        f"function_aliases {sorted(set(aliases.values()))}",
    )
    tpu = probe.get("tpu_func")
    if not tpu:
        checks.add("tpu_func XLA", False, "not run")
        return
    checks.add(
        "tpu_func XLA",
        tpu["hlo_chars"] > 0,
        f"compiled with jit_compile=True on CPU ({tpu['input']['dtype']} "
        f"{tpu['input']['shape']}, {tpu['hlo_chars']} chars of HLO)",
    )
    checks.parity("tpu_func", tpu["probabilities"], samples["tpu_probabilities"])
