"""Recurrent cells and layers written with `keras.ops`, drop-in compatible
with the Keras built-ins, plus variants Keras does not ship, and the
mask-aware pooling layers that follow them in a classifier.

>>> from textlstm.layers import LSTM, GRU, LSTMCell, GRUCell
>>> from textlstm.layers import SimpleRNN, SimpleRNNCell
>>> from textlstm.layers import AttentionPooling, MaskedPooling
"""

from textlstm.layers.base import RecurrentCell, RecurrentLayer
from textlstm.layers.fast.compile import fast_path_options
from textlstm.layers.gates import gate_activations
from textlstm.layers.gru import GRU, GRUCell
from textlstm.layers.lstm import LSTM, LSTMCell
from textlstm.layers.pooling import AttentionPooling, MaskedPooling
from textlstm.layers.simple_rnn import SimpleRNN, SimpleRNNCell
from textlstm.layers.variants import (
    CIFGLSTM,
    CIFGLSTMCell,
    LayerNormLSTM,
    LayerNormLSTMCell,
    PeepholeLSTM,
    PeepholeLSTMCell,
)

__all__ = [
    "AttentionPooling",
    "CIFGLSTM",
    "CIFGLSTMCell",
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "LayerNormLSTM",
    "LayerNormLSTMCell",
    "MaskedPooling",
    "PeepholeLSTM",
    "PeepholeLSTMCell",
    "RecurrentCell",
    "RecurrentLayer",
    "SimpleRNN",
    "SimpleRNNCell",
    "available_kernel_paths",
    "fast_path_options",
    "gate_activations",
]


def available_kernel_paths() -> dict:
    """The loop implementations each sequence layer can run.

    `"step"` is the generic `keras.layers.RNN` loop over the cell; `"fast"`
    is the layer's own fused implementation, when it has one.
    """
    return {
        cls.__name__: ["fast", "step"]
        if cls.fast_loop is not RecurrentLayer.fast_loop
        else ["step"]
        for cls in (LSTM, GRU, PeepholeLSTM, CIFGLSTM, LayerNormLSTM, SimpleRNN)
    }
