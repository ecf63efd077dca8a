"""The fast path's entry points under their former module name.

The fast path now lives in `textlstm.layers.fast` (one module per concern:
`compile`, `loops`, `sharding`, `lstm`, `gru`, `simple_rnn`); this module
keeps `from textlstm.layers import fast_tf` working for callers of its
functions. Tunables such as `MIN_SHARD_ROWS` are not re-exported: they are
read in `textlstm.layers.fast.sharding`, so set them there.
"""

from textlstm.layers.fast.compile import fast_path_options
from textlstm.layers.fast.gru import gru
from textlstm.layers.fast.lstm import VARIANTS, block_norm, lstm
from textlstm.layers.fast.sharding import batch_shards, sharded
from textlstm.layers.fast.simple_rnn import simple_rnn

__all__ = [
    "VARIANTS",
    "batch_shards",
    "block_norm",
    "fast_path_options",
    "gru",
    "lstm",
    "sharded",
    "simple_rnn",
]
