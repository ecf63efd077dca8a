"""Benchmark: textlstm.layers.LSTM/GRU against keras.layers.LSTM/GRU (and PyTorch).

For each shape (batch, time, embed, units) and each implementation it times
(for the peephole, CIFG and layer-norm variants, the baseline is
`keras.layers.RNN` over the textlstm cell: Keras ships no such layer)

- `train`: one training step, forward + backward + Adam update, in a
  `tf.function` (a `torch` step for PyTorch);
- `infer`: the layer called inside a `tf.function` (`torch.no_grad` for
  PyTorch).

Everything runs in one process with the same thread settings; each number is
the median of several repeats after warm-up. Ratios (`speedup` = built-in
time / textlstm time) are what to compare across machines; the quartiles of
the ratio taken round by round (both timed in the same round) show how much
it moves on a shared machine. Prints one JSON
line per measurement, then a table, and writes
`benchmarks/results/layers.json`.

    python benchmarks/layers.py                 # all shapes and layers
    python benchmarks/layers.py --quick         # fewer repeats
    python benchmarks/layers.py --shapes 1,200,128,128 --kinds lstm
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from textlstm import layers as tl  # noqa: E402

SHAPES = [(64, 200, 128, 128), (128, 100, 128, 256), (1, 200, 128, 128)]
# kind: (the Keras baseline, the textlstm layer), each built from `units`.
# The variants have no Keras layer: their baseline is `keras.layers.RNN`
# over the cell, the step-by-step loop they would run without a fast path.
LAYERS = {
    "lstm": (keras.layers.LSTM, tl.LSTM),
    "gru": (keras.layers.GRU, tl.GRU),
    "peephole": (
        lambda units: keras.layers.RNN(tl.PeepholeLSTMCell(units)),
        tl.PeepholeLSTM,
    ),
    "cifg": (lambda units: keras.layers.RNN(tl.CIFGLSTMCell(units)), tl.CIFGLSTM),
    "layernorm": (
        lambda units: keras.layers.RNN(tl.LayerNormLSTMCell(units)),
        tl.LayerNormLSTM,
    ),
}
RESULTS = Path(__file__).parent / "results" / "layers.json"


def interleaved_samples(fns, repeats, warmup=3):
    """Wall times in ms of each function in `fns` (a dict), one per round.

    The functions are timed in turns, one sample of each per round, so that
    load from other processes hits them alike (the machines are shared).
    """
    inner = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        start = time.perf_counter()
        fn()
        # Enough calls per sample for about 50 ms.
        inner[name] = max(1, int(0.05 / max(time.perf_counter() - start, 1e-6)))
    samples = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(inner[name]):
                fn()
            samples[name].append((time.perf_counter() - start) / inner[name] * 1000)
    return samples


def round_ratios(samples, slow, fast):
    """Quartiles of `slow / fast` per round (both timed in the same round)."""
    ratios = [a / b for a, b in zip(samples[slow], samples[fast], strict=True)]
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return [q1, q3]


def keras_functions(layer, x):
    optimizer = keras.optimizers.Adam(1e-3)
    layer(x)
    optimizer.build(layer.trainable_variables)

    @tf.function
    def train():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(x, training=True)))
        grads = tape.gradient(loss, layer.trainable_variables)
        optimizer.apply(grads, layer.trainable_variables)
        return loss

    @tf.function
    def infer():
        return layer(x)

    return lambda: train().numpy(), lambda: infer().numpy()


def torch_functions(kind, shape):
    import torch

    batch, steps, embed, units = shape
    module = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(
        embed, units, batch_first=True
    )
    x = torch.from_numpy(np.random.rand(batch, steps, embed).astype("float32"))
    optimizer = torch.optim.Adam(module.parameters(), 1e-3)

    def train():
        optimizer.zero_grad()
        out, _ = module(x)
        loss = out[:, -1].square().mean()
        loss.backward()
        optimizer.step()
        return loss.item()

    def infer():
        with torch.no_grad():
            return module(x)[0][:, -1].numpy()

    return train, infer


def gemm_peak_gflops(size=2048, repeats=5):
    """What one large float32 `tf.matmul` reaches here: a ceiling for the layers."""
    a = tf.random.normal((size, size))

    @tf.function
    def matmul():
        return tf.reduce_sum(tf.matmul(a, a))

    times = interleaved_samples({"matmul": lambda: matmul().numpy()}, repeats)
    return 2 * size**3 / statistics.median(times["matmul"]) / 1e6


def call_floor_ms(repeats=7):
    """The latency of calling a `tf.function` that does nothing: every TF
    number here includes it (PyTorch's eager call costs far less)."""
    nothing = tf.function(lambda: tf.constant(0.0))
    times = interleaved_samples({"nothing": lambda: nothing().numpy()}, repeats)
    return statistics.median(times["nothing"])


def flops(kind, shape):
    """Multiply-adds x 2 of the matmuls of inference and of a training step.

    Inference: the input projection and the recurrent matmul. Training adds
    the backward matmuls: the recurrent one, and the gradients of the
    recurrent and input kernels (the inputs are constants, so no gradient
    flows to them).
    """
    batch, steps, embed, units = shape
    gates = {"gru": 3, "cifg": 3}.get(kind, 4) * units
    rows = batch * steps
    infer = 2 * rows * gates * (embed + units)
    return infer, infer + 2 * rows * gates * (2 * units + embed)


def run(kinds, shapes, repeats):
    try:
        import torch

        # The same number of threads as TensorFlow's intra-op pool.
        torch.set_num_threads(os.cpu_count())
    except ImportError:
        torch = None
    rows = []
    for kind in kinds:
        builtin_cls, ours_cls = LAYERS[kind]
        for shape in shapes:
            batch, steps, embed, units = shape
            x = tf.constant(np.random.rand(batch, steps, embed).astype("float32"))
            impls = {"keras": builtin_cls(units), "textlstm": ours_cls(units)}
            fns = {}
            for name, layer in impls.items():
                fns[f"{name}_train_ms"], fns[f"{name}_infer_ms"] = keras_functions(
                    layer, x
                )
            if torch is not None and kind in ("lstm", "gru"):
                fns["torch_train_ms"], fns["torch_infer_ms"] = torch_functions(
                    kind, shape
                )
            samples = interleaved_samples(fns, repeats)
            medians = {k: statistics.median(v) for k, v in samples.items()}
            row = {
                "kind": kind,
                "layer": ours_cls.__name__,
                "shape": list(shape),
                **medians,
                "textlstm_kernel_path": impls["textlstm"].kernel_path,
                # Achieved matmul throughput, to compare with the GEMM peak.
                **{
                    f"{impl}_{mode}_gflops": work / medians[f"{impl}_{mode}_ms"] / 1e6
                    for impl in ("keras", "textlstm")
                    for mode, work in zip(("infer", "train"), flops(kind, shape))
                },
                "train_speedup": medians["keras_train_ms"]
                / medians["textlstm_train_ms"],
                "infer_speedup": medians["keras_infer_ms"]
                / medians["textlstm_infer_ms"],
                # How much the ratio moves between rounds of this run.
                "train_speedup_round_quartiles": round_ratios(
                    samples, "keras_train_ms", "textlstm_train_ms"
                ),
                "infer_speedup_round_quartiles": round_ratios(
                    samples, "keras_infer_ms", "textlstm_infer_ms"
                ),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def table(rows):
    has_torch = any("torch_train_ms" in r for r in rows)
    head = (
        "| layer | (batch, time, embed, units) | keras train / infer ms "
        "| textlstm train / infer ms | speedup train / infer "
        "| per-round speedup quartiles train; infer "
        "| GFLOP/s keras / textlstm train; infer |"
    )
    sep = "| --- | --- | --- | --- | --- | --- | --- |"
    if has_torch:
        head += " PyTorch train / infer ms |"
        sep += " --- |"
    lines = [head, sep]
    for r in rows:
        line = (
            f"| {r['layer']} | {tuple(r['shape'])} "
            f"| {r['keras_train_ms']:.1f} / {r['keras_infer_ms']:.2f} "
            f"| {r['textlstm_train_ms']:.1f} / {r['textlstm_infer_ms']:.2f} "
            f"| {r['train_speedup']:.2f}× / {r['infer_speedup']:.2f}× "
            "| {:.2f}-{:.2f}; {:.2f}-{:.2f} |".format(
                *r["train_speedup_round_quartiles"], *r["infer_speedup_round_quartiles"]
            )
            + " {:.0f} / {:.0f}; {:.0f} / {:.0f} |".format(
                r["keras_train_gflops"],
                r["textlstm_train_gflops"],
                r["keras_infer_gflops"],
                r["textlstm_infer_gflops"],
            )
        )
        if has_torch and "torch_train_ms" in r:
            line += f" {r['torch_train_ms']:.1f} / {r['torch_infer_ms']:.2f} |"
        elif has_torch:
            line += " no such module |"
        lines.append(line)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--kinds", default=",".join(LAYERS), help=f"some of {', '.join(LAYERS)}"
    )
    parser.add_argument("--shapes", nargs="*", help="e.g. 64,200,128,128")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 repeats")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    shapes = (
        [tuple(int(v) for v in s.split(",")) for s in args.shapes]
        if args.shapes
        else SHAPES
    )
    peak, floor = gemm_peak_gflops(), call_floor_ms()
    print(json.dumps({"gemm_peak_gflops": peak, "call_floor_ms": floor}), flush=True)
    rows = run(args.kinds.split(","), shapes, 3 if args.quick else args.repeats)
    print(table(rows))
    print(f"GEMM peak here: {peak:.0f} GFLOP/s (one 2048x2048 float32 tf.matmul)")
    print(f"Calling an empty tf.function here: {floor:.3f} ms")
    result = {
        "benchmark": "layers",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": {
            "gemm_peak_gflops": peak,
            "tf_function_call_floor_ms": floor,
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpu_count": os.cpu_count(),
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
        },
        "rows": rows,
        "table": table(rows),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
