"""SavedModel export for TensorFlow Serving (CPU, GPU) and TPUs, verified.

`export_saved_model(run_dir, out, target=...)` turns the `model.keras` of a
run folder into the TensorFlow Serving layout

```
OUT/<version>/
  saved_model.pb
  variables/
  assets/vocab.txt          token ids of `serve_tokens` (line i = id i)
  assets.extra/             class_names.json, config.yaml, run.json,
                            export.json, verification_samples.json,
                            verification.json
```

with two signatures on every target:

- `serving_default`: input `text` string `[None]`; outputs `probabilities`
  float32 `[None, C]`, `label_id` int64 `[None]`, `label` string `[None]`.
- `serve_tokens`: input `token_ids` int64 `[None, None]`; the same outputs.

Targets:

- `cpu`: portable graph. The recurrent fast path is traced as plain
  TensorFlow ops (`textlstm.layers.fast_path_options(xla=False)`): no
  `CudnnRNN*` op, no function that must be compiled with XLA.
- `gpu`: as `cpu`, plus a cuDNN implementation of every fast-path LSTM/GRU
  registered beside the portable one under a shared `api_implements`
  attribute, as tf.keras 2 did (`textlstm.layers.cudnn`). Grappler's
  implementation selector swaps in the cuDNN function when the layer is
  placed on a GPU; on a CPU the portable function runs, so the same export
  serves on both.
- `tpu`: the signatures run the string processing on the host, then call a
  fixed-shape token function, `tpu_func` (`int32 [batch, sequence_length]`
  from the config), exported as a function alias
  (`tf.saved_model.SaveOptions(function_aliases=...)`) for TPU converters.
- `litert`: not a SavedModel but `model.tflite` on one text's token ids,
  its LSTMs fused into `UNIDIRECTIONAL_SEQUENCE_LSTM`, beside `vocab.txt`
  and `labels.txt` (`litert.py`), verified with the `ai-edge-litert`
  interpreter; `quantize="dynamic"` for int8 weights.

The signatures classify each text's ids without the vectorizer's padding
(`shapes.py`); with `xla=True` the recurrent loops are XLA-compiled
functions on bucketed shapes (TF Serving then needs its XLA flag).

Every export is verified before it appears under its final name: a fresh
interpreter that cannot import Keras or textlstm loads it with
`tf.saved_model.load`, runs both signatures on ~120 sample texts (empty,
100k characters, non-ASCII, control characters, invalid UTF-8), and audits
every op of the MetaGraph; `verify_export(path)` re-runs that check.

The parts:

```
publish.py        export_saved_model: workspace, write, verify, rename
versions.py       the version folders of a model base (also for serving)
workspace.py      OUT/.tmp-<pid>-*: what an export writes before publishing
saved_model.py    the SavedModel writer (TensorFlow)
targets.py        the tpu token function and the gpu cuDNN pairing
shapes.py         the ids the signatures classify: unpadded, or bucketed for XLA
litert.py         the LiteRT conversion (fused LSTMs, constant weights)
litert_writer.py  the LiteRT export's files and measurements
litert_predictor.py  LiteRTPredictor (ai-edge-litert; no TensorFlow import)
extras.py         assets.extra/ and the Keras reference outputs
verify/           verify_export: the fresh process and its checks
probe.py          the script that fresh process runs (TensorFlow alone)
predictor.py      load_export_predictor
report.py         Check, VerificationReport, ExportResult, the constants
```

Importing `textlstm.export` imports no TensorFlow; writing an export does.
"""

from textlstm.errors import ExportError
from textlstm.export.predictor import load_export_predictor
from textlstm.export.publish import (
    ALL,
    export_saved_model,
    export_saved_models,
    target_bases,
)
from textlstm.export.report import (
    SIGNATURES,
    TARGETS,
    TOLERANCE,
    TPU_ALIAS,
    Check,
    ExportResult,
    VerificationError,
    VerificationReport,
)
from textlstm.export.samples import sample_texts
from textlstm.export.verify import verify_export
from textlstm.export.versions import (
    latest_version,
    next_version,
    resolve_export,
    version_numbers,
)

__all__ = [
    "ALL",
    "SIGNATURES",
    "TARGETS",
    "TOLERANCE",
    "TPU_ALIAS",
    "Check",
    "ExportError",
    "ExportResult",
    "VerificationError",
    "VerificationReport",
    "export_saved_model",
    "export_saved_models",
    "latest_version",
    "load_export_predictor",
    "next_version",
    "resolve_export",
    "sample_texts",
    "target_bases",
    "verify_export",
    "version_numbers",
]
