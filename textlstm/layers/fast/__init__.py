"""The fast path of the textlstm sequence layers on the TensorFlow backend.

Why it is faster than the generic `keras.layers.RNN` loop:

- The input projection `x W + b` of every timestep is one large matmul
  before the loop; only `h U` is left inside it.
- The recurrence is a `tf.while_loop` compiled with XLA
  (`jit_compile=True`): one fused kernel per step instead of a dozen
  TensorFlow ops, which is what dominates at small batch sizes.
- The backward pass is written by hand (`tf.custom_gradient`): a reverse
  loop computes the gate gradients, and the weight gradients are then large
  matmuls over all timesteps at once, instead of one small matmul per step.
- On a CPU, a large batch is split into one shard per core, each with its
  own input projection and loop: TensorFlow runs them concurrently, where
  one XLA loop's small per-step matmul would keep a single core busy
  (`sharding.sharded`, `sharding.batch_shards`).
- Under XLA, a step reads each gate's per-step inputs from an array of its
  own where the gates are computed separately (GRU, peephole LSTM): XLA
  does not vectorize a fused step that reads one wide input at several
  column offsets (the GRU loop ran 2x slower that way).

The math is exactly the cells' (`LSTMCell` and its peephole, CIFG and
layer-norm variants, `GRUCell` with `reset_after=True`, `SimpleRNNCell`,
default `tanh`/`sigmoid` activations); the layers fall back to the
step-by-step cell whenever this package does not apply.
Inputs here are time-major: `(time, batch, features)`.

The modules, from the bottom up:

- `compile`: XLA or plain TensorFlow (`fast_path_options`), and the
  shape-agnostic tracing of every loop (`compiled`).
- `loops`: the unrolled `tf.while_loop` and the tensor helpers the loops
  share.
- `sharding`: splitting a large batch into concurrent shards.
- `lstm`, `gru`, `simple_rnn`: each recurrence, forward and backward, and
  its public entry point (`lstm.lstm`, `gru.gru`, `simple_rnn.simple_rnn`).

The entry points are imported from their modules, not from this package:
a function re-exported here would hide the module of the same name.
"""
