"""How the layers package is put together: what it imports, and the names
`textlstm.layers.fast_tf` still re-exports."""

import json
import subprocess
import sys

from textlstm.layers import fast_tf
from textlstm.layers.fast import compile as fast_compile
from textlstm.layers.fast import gru, lstm, sharding, simple_rnn

PROBE = """
import json, sys
import textlstm.layers
print(json.dumps(sorted(name for name in sys.modules if name.startswith("textlstm"))))
"""


def test_layers_import_neither_info_nor_models():
    """`textlstm.training.environment` and `textlstm.model` sit above the
    layers; the layers importing either would close a cycle."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert "textlstm.layers.fast.sharding" in loaded
    assert "textlstm.training.environment" not in loaded
    assert "textlstm.model" not in loaded


def test_fast_tf_reexports_the_fast_package():
    assert fast_tf.lstm is lstm.lstm
    assert fast_tf.block_norm is lstm.block_norm
    assert fast_tf.VARIANTS is lstm.VARIANTS
    assert fast_tf.gru is gru.gru
    assert fast_tf.simple_rnn is simple_rnn.simple_rnn
    assert fast_tf.sharded is sharding.sharded
    assert fast_tf.batch_shards is sharding.batch_shards
    assert fast_tf.fast_path_options is fast_compile.fast_path_options
