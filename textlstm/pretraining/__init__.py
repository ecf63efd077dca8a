"""Language-model pretraining of the encoder (Dai & Le 2015; ULMFiT).

`pretrain(config)` trains the embedding and recurrent layers of the
classifier a config describes as a next-token language model, on the
training split's texts (labels ignored) and any unlabeled texts of
`pretrain.unlabeled`, and writes a run folder (`textlstm pretrain`):

```
config.yaml        the resolved config
run.json           status ("kind": "pretrain"), seeds, texts, wall times
vocab.txt          the vocabulary, one token per line
vectorizer.json    how texts become tokens (standardization, n-grams)
checkpoints/       epoch-NNNN/ (variables.npz, state.json)
history.csv        one row per epoch: loss (sampled), val_loss, val_perplexity
                   (empty where pretrain.validate_every skipped it)
metrics.json       held-out loss and perplexity (full softmax)
encoder.npz        the encoder's weights by layer name
```

A classifier starts from it with `model.init_from: <run folder>`
(`textlstm fit --set model.init_from=runs/...`): it reads texts with the
pretrain run's vocabulary and loads the weights into its layers of the same
names (`textlstm.model.transfer`), after checking the encoders match.

The sampled softmax keeps the cost of a large vocabulary down while
training; it needs the TensorFlow backend.

Example:

>>> from textlstm.config import load_config
>>> config = load_config("quickstart", ["data.size=60", "data.test_size=10",
...     "model.units=4", "model.embedding_dim=4", "text.sequence_length=16",
...     "pretrain.epochs=1"])
>>> import tempfile, pathlib
>>> result = pretrain(config, pathlib.Path(tempfile.mkdtemp()) / "lm", verbose=0)
>>> result.metrics["perplexity"] < result.metrics["uniform_perplexity"]
True
"""

from __future__ import annotations

from textlstm.pretraining.language_model import (
    LanguageModel,
    build_language_model,
    log_uniform_candidates,
)
from textlstm.pretraining.runner import (
    PretrainResult,
    check_pretrain_config,
    pretrain,
)
from textlstm.pretraining.texts import (
    PretrainTexts,
    load_pretraining_texts,
    read_unlabeled,
)

__all__ = [
    "LanguageModel",
    "PretrainResult",
    "PretrainTexts",
    "build_language_model",
    "check_pretrain_config",
    "load_pretraining_texts",
    "log_uniform_candidates",
    "pretrain",
    "read_unlabeled",
]
