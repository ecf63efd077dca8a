"""The classifier a config describes: token ids (or raw strings) to class
probabilities.

`classifier.py` builds and loads the classifier (embedding, recurrent
layers, pooling, head); `embeddings.py` reads pretrained word vectors;
`ngrams.py` is the bag-of-n-grams model averaged with the network;
`forward.py` runs the network from its embedding outputs on (adversarial
training, attributions); `transfer.py` starts a classifier from a
pretrained encoder (`model.init_from`).

What it may import: `textlstm.errors`, `textlstm.config`, `textlstm.runs`,
`textlstm.layers` and `textlstm.text`. Training, evaluation, export and
explain build on it, never the reverse.
"""

from textlstm.model.classifier import (
    AttentionPooling,
    MaskedPooling,
    build_classifier,
    build_text_classifier,
    load_text_classifier,
    recurrent_layer,
)

__all__ = [
    "AttentionPooling",
    "MaskedPooling",
    "build_classifier",
    "build_text_classifier",
    "load_text_classifier",
    "recurrent_layer",
]
