"""The text pipeline: standardization, the vectorizer layer, `auto` sizes,
batching and bucketing, and dataset summaries.

`standardization.py` cleans strings with stock `tf.strings` ops;
`vectorizer.py` holds `TextVectorizer`, the Keras layer that turns strings
into token ids and is saved with the model; `sizing.py` chooses
`text.max_tokens: auto` and `text.sequence_length: auto` from the training
split; `batching.py` pads, buckets and batches token ids; `summary.py`
describes a dataset as the model will see it.

What it may import: `textlstm.errors`, `textlstm.config`, `textlstm.runs`.
The model, training and export packages build on it, never the reverse.
"""

from textlstm.text.batching import (
    bucket_boundaries,
    make_batches,
)
from textlstm.text.standardization import (
    STANDARDIZER_VERSION,
    STANDARDIZER_VERSIONS,
    TEXT_DEFAULTS,
    standardize,
    standardize_text,
    text_config,
)
from textlstm.text.summary import (
    format_summary,
    summarize,
)
from textlstm.text.vectorizer import (
    TextVectorizer,
    build_vectorizer,
    pad_ragged,
    read_vocabulary,
    write_vocabulary,
)

__all__ = [
    "STANDARDIZER_VERSION",
    "STANDARDIZER_VERSIONS",
    "TEXT_DEFAULTS",
    "TextVectorizer",
    "bucket_boundaries",
    "build_vectorizer",
    "format_summary",
    "make_batches",
    "pad_ragged",
    "read_vocabulary",
    "standardize",
    "standardize_text",
    "summarize",
    "text_config",
    "write_vocabulary",
]
