"""Checks of what the fresh process saw: it loaded the export with
TensorFlow alone, the signatures' specs, and the outputs' parity with the
Keras model (TensorFlow-free)."""

from __future__ import annotations

import numpy as np

from textlstm.export.report import CheckList

__all__ = ["check_outputs", "check_process", "check_signatures"]

_EXPECTED_SIGNATURES = {
    "serving_default": {"text": ("string", [None])},
    "serve_tokens": {"token_ids": ("int64", [None, None])},
}


def check_process(checks: CheckList, probe: dict) -> None:
    """`fresh process` (it loaded the export) and `TensorFlow only`."""
    errors = probe.get("errors", [])
    checks.add(
        "fresh process",
        not errors,
        "loaded with tf.saved_model.load"
        if not errors
        else errors[0].strip().splitlines()[-1],
    )
    modules = probe.get("modules", {})
    tensorflow_only = modules and not any(modules.values())
    checks.add(
        "TensorFlow only",
        tensorflow_only,
        "keras, tf_keras and textlstm never imported"
        if tensorflow_only
        else f"imported: {[k for k, v in modules.items() if v]}",
    )


def check_signatures(checks: CheckList, probe: dict, num_classes: int) -> None:
    """`signatures`: both signatures, their inputs' and outputs' specs."""
    signatures = probe.get("signatures", {})
    expected_outputs = {
        "probabilities": {"dtype": "float32", "shape": [None, num_classes]},
        "label_id": {"dtype": "int64", "shape": [None]},
        "label": {"dtype": "string", "shape": [None]},
    }
    problems = []
    for name, inputs in _EXPECTED_SIGNATURES.items():
        found = signatures.get(name)
        if found is None:
            problems.append(f"{name} missing")
            continue
        for key, (dtype, shape) in inputs.items():
            spec = found["inputs"].get(key)
            if spec != {"dtype": dtype, "shape": shape}:
                problems.append(f"{name} input {key}: {spec}")
        for key, spec in expected_outputs.items():
            if found["outputs"].get(key) != spec:
                problems.append(f"{name} output {key}: {found['outputs'].get(key)}")
    checks.add(
        "signatures",
        signatures and not problems,
        "; ".join(problems)
        or "serving_default(text) and serve_tokens(token_ids) -> "
        f"probabilities [None, {num_classes}], label_id, label",
    )


def check_outputs(
    checks: CheckList, probe: dict, samples: dict, class_names: list
) -> None:
    """`parity serving_default`, `labels` and `parity serve_tokens`."""
    serving = probe.get("serving_default")
    if serving:
        checks.parity(
            "serving_default", serving["probabilities"], samples["probabilities"]
        )
        ids = serving["label_id"]
        labels_ok = ids == np.argmax(serving["probabilities"], -1).tolist()
        labels_ok &= serving["label"] == [class_names[i] for i in ids]
        checks.add(
            "labels", labels_ok, "label_id = argmax, label = class_names[label_id]"
        )
    else:
        checks.add("parity serving_default", False, "not run")
    tokens = probe.get("serve_tokens")
    if tokens:
        got = [row for batch in tokens for row in batch["probabilities"]]
        expected = [row for batch in samples["token_probabilities"] for row in batch]
        checks.parity("serve_tokens", got, expected)
    else:
        checks.add("parity serve_tokens", False, "not run")
