"""textlstm: LSTM/GRU text classification with Keras 3.

The package is cut by role, one package per role, as Keras' own source is:

| package | role |
| --- | --- |
| `layers` | recurrent cells and sequence layers (`keras.ops` only) |
| `config` | the schema of every key, presets, overrides, validation |
| `runs` | the run folder: atomic files, run.json, checkpoint files, resume |
| `cluster` | `TF_CONFIG`, workers, the local launcher, listening sockets |
| `data` | dataset sources -> `(text, label)`; the synthetic corpus |
| `text` | standardization, the vectorizer, `auto` sizes, batching |
| `model` | the classifier from a config, embeddings, n-grams, transfer |
| `export` | SavedModel and LiteRT exports, their verification |
| `explain` | attributions, gates, retention |
| `evaluation` | metrics, plots, evaluation and prediction |
| `serving` | the local server in TF Serving's REST and gRPC formats |
| `training` | `fit` in phases, strategies, the training levers |
| `pretraining` | language-model pretraining of an encoder |

A package imports only the packages above it in this table (the arrows are
listed in `tests/test_structure.py`, which checks them), so the packages
form no cycle. The one module beside them is `errors.py`: every package
raises the user errors it defines and the command line maps them to exit
code 2, so it must sit below all of them, and it imports nothing.

Importing `textlstm` is cheap: TensorFlow and Keras are imported only by the
packages that need them (`textlstm.layers`, `textlstm.data`, ...), so the
command line starts quickly; `config`, `runs`, `cluster` and `errors` never
import TensorFlow.
"""

__version__ = "0.1.0"
