"""textlstm: LSTM/GRU text classification with Keras 3.

Importing `textlstm` is cheap: TensorFlow and Keras are imported only by the
submodules that need them (`textlstm.layers`, `textlstm.data`, ...), so the
command line starts quickly.
"""

__version__ = "0.1.0"
