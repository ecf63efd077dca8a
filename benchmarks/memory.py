"""Benchmark: how far back SimpleRNN, LSTM and GRU remember (SPEC §10).

Three measurements of the seeds' central claim, that gates let a recurrent
network carry information across many steps where a vanilla RNN forgets:

- `lag`: test accuracy on the synthetic reviews (`textlstm.data.synthetic`)
  when `lag` to `2 * lag` neutral words follow the deciding (last) opinion
  (`distance=lag, min_distance=lag`), for each cell and seed, plus a
  bag-of-words logistic regression per lag. The models train on the corpus
  at `distance=lag` (0 to `2 * lag` words after the verdict, the corpus
  default); `--train-lags fixed` trains on `lag` to `2 * lag` only, which
  none of the cells can learn from lag 50 on within this budget. Every
  cell sees the same data, tokenizer, units, embedding and training
  budget. Texts are pre-padded
  to the longest review at that lag, so no verdict is ever cut.
- `adding`: the adding problem (Hochreiter & Schmidhuber 1997, in the form
  of Le et al. 2015 and Arjovsky et al. 2016): `T` steps of two channels,
  values uniform in [0, 1] and a marker channel with one 1 in each half;
  the target is the sum of the two marked values. Test MSE per cell against
  always answering 1 (MSE 1/6 = 0.167 in expectation; measured on the same
  test set too).
- `gradients`: the norm of the gradient of the loss with respect to the
  input at step t (the embedding output on the reviews), against the
  distance from the end `T - 1 - t`, averaged over a batch of unpadded,
  equal-length sequences, at initialization and after training (the models
  of the two studies at `gradient_lag` and `gradient_adding_steps`, first
  seed).

Prints progress (with the elapsed time) and one JSON line per measurement,
then summary tables; writes `benchmarks/results/memory.json` (`--quick`:
`memory_quick.json`) and the plots `memory_lag.png`, `memory_adding.png` and
`memory_gradients.png` (`memory_quick_*.png`). `--only` re-runs one part and
merges it into the existing results.

    python benchmarks/memory.py --estimate      # predicted duration, 2-3 min
    python benchmarks/memory.py --quick         # under 5 minutes
    python benchmarks/memory.py                 # the full study
    python benchmarks/memory.py --only adding --seeds 0,1
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# The plots, beside this file (the script's folder is on sys.path).
from memory_plots import LABELS, plot_adding, plot_gradients, plot_lag  # noqa: E402

from textlstm import layers as tl  # noqa: E402
from textlstm.data.synthetic import generate_reviews  # noqa: E402
from textlstm.text import TextVectorizer, pad_ragged  # noqa: E402

RESULTS = Path(__file__).parent / "results"
CELLS = ("simple_rnn", "lstm", "gru")
# textlstm.layers.SimpleRNN is being written; until it lands the vanilla RNN
# is the Keras built-in (same equations and weights, no fast path).
SIMPLE_RNN = getattr(tl, "SimpleRNN", keras.layers.SimpleRNN)
LAYERS = {"simple_rnn": SIMPLE_RNN, "lstm": tl.LSTM, "gru": tl.GRU}
LOSSES = {
    "lag": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    "adding": keras.losses.MeanSquaredError(),
}

FULL = {
    "lags": [0, 10, 25, 50, 100, 200],
    "seeds": [0, 1, 2],
    "data_seed": 0,
    # "from_zero": train on the corpus at `distance=lag` (0 to 2 * lag words
    # after the verdict, what `textlstm fit --set data.distance=lag` sees);
    # "fixed": only on the test's lags, lag to 2 * lag.
    "train_lags": "from_zero",
    # Multiples of batch_size: a smaller last batch would retrace the step.
    "train_size": 3072,
    "test_size": 1024,
    "epochs": 10,
    "batch_size": 64,
    "units": 64,
    "embedding_dim": 32,
    "learning_rate": 3e-3,
    "clipnorm": 1.0,
    "adding_steps": [50, 100, 200, 400],
    "adding_seeds": [0],
    "adding_train_size": 8192,
    "adding_test_size": 1024,
    "adding_epochs": 8,
    "adding_learning_rate": 3e-3,
    "gradient_lag": 50,
    "gradient_length": 150,
    "gradient_adding_steps": 200,
    "gradient_batch": 128,
}
QUICK = {
    **FULL,
    "lags": [0, 10, 50],
    "seeds": [0],
    "train_size": 2048,
    "test_size": 512,
    "epochs": 3,
    "adding_steps": [50, 200],
    "adding_train_size": 2048,
    "adding_test_size": 512,
    "adding_epochs": 3,
    "gradient_lag": 10,
    "gradient_length": 100,
    "gradient_batch": 64,
}


def log(start: float, message: str) -> None:
    print(f"# [{time.perf_counter() - start:7.1f}s] {message}", flush=True)


def emit(start: float, row: dict) -> dict:
    """Print one measurement as a JSON line (with the elapsed time)."""
    row = {**row, "elapsed_s": round(time.perf_counter() - start, 1)}
    print(json.dumps(row), flush=True)
    return row


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each training epoch."""

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def recurrent(cell: str, units: int) -> keras.layers.Layer:
    return LAYERS[cell](units)


def fit(model, x, y, settings, *, epochs, learning_rate, loss, seed) -> list[float]:
    """Train with Adam (gradient norm clipped); returns each epoch's seconds."""
    model.compile(
        keras.optimizers.Adam(learning_rate, clipnorm=settings["clipnorm"]), loss
    )
    timer = EpochTimer()
    keras.utils.set_random_seed(seed)  # the batch order
    model.fit(
        x,
        y,
        batch_size=settings["batch_size"],
        epochs=epochs,
        verbose=0,
        callbacks=[timer],
    )
    return timer.seconds


# -- the synthetic reviews ---------------------------------------------------


def corpus(settings: dict, lags: list[int]) -> tuple[TextVectorizer, dict]:
    """One tokenizer for the whole study and the texts of each lag.

    The test reviews carry their verdict across `lag` to `2 * lag` words.
    So do the training reviews with `train_lags: "fixed"`; with
    `"from_zero"` theirs is 0 to `2 * lag` words (the corpus default,
    `min_distance=0`), so short lags can show the task before long ones.
    """
    shortest = {"fixed": lambda lag: lag, "from_zero": lambda lag: 0}[
        settings["train_lags"]
    ]
    texts = {
        lag: {
            split: generate_reviews(
                settings[f"{split}_size"],
                distance=lag,
                min_distance=lag if split == "test" else shortest(lag),
                seed=settings["data_seed"],
                split=split,
            )
            for split in ("train", "test")
        }
        for lag in lags
    }
    vectorizer = TextVectorizer(padding="pre", truncation="pre")
    vectorizer.adapt([t for lag in lags for t in texts[lag]["train"][0]])
    return vectorizer, texts


def token_arrays(vectorizer, texts: dict) -> dict:
    """Pre-padded ids of one lag, as long as its longest review (no cut)."""
    ids = {s: vectorizer.token_ids(tf.constant(t)) for s, (t, _) in texts.items()}
    lengths = {s: ids[s].row_lengths().numpy() for s in ids}
    length = int(max(v.max() for v in lengths.values()))
    arrays = {
        s: (pad_ragged(ids[s], length, "pre", "pre").numpy(), np.array(texts[s][1]))
        for s in ids
    }
    return {
        "arrays": arrays,
        "sequence_length": length,
        "mean_length": float(np.mean(lengths["train"])),
    }


def classifier(cell: str, vocabulary: int, length: int, settings, seed: int):
    keras.utils.set_random_seed(seed)  # the initial weights
    return keras.Sequential(
        [
            keras.Input((length,), dtype="int64"),
            keras.layers.Embedding(
                vocabulary, settings["embedding_dim"], mask_zero=True
            ),
            recurrent(cell, settings["units"]),
            keras.layers.Dense(2),
        ]
    )


def classifier_score(model, arrays: dict) -> dict:
    return {
        "test_accuracy": accuracy(model, *arrays["test"]),
        "train_accuracy": accuracy(model, *arrays["train"]),
    }


def accuracy(model, x, y) -> float:
    logits = model.predict(x, batch_size=256, verbose=0)
    return float(np.mean(np.argmax(logits, -1) == y))


def bag_of_words_accuracy(arrays: dict, vocabulary: int, seed: int) -> float:
    """Logistic regression on word counts (padding id 0 not counted)."""

    def counts(ids):
        return tf.math.bincount(ids, minlength=vocabulary, axis=-1).numpy()[:, 1:]

    (x, y), (x_test, y_test) = arrays["train"], arrays["test"]
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((vocabulary - 1,)), keras.layers.Dense(2)])
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(counts(x), y, batch_size=256, epochs=50, verbose=0)
    return accuracy(model, counts(x_test), y_test)


def classifier_gradients(model, ids, labels) -> list[float]:
    """Mean over the batch of |d loss / d embedding output at step t|, by T-1-t.

    `ids` hold no padding, so the mask is all ones and may be left out.
    """
    embedding, rnn, head = model.layers
    inputs = embedding(ids)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        logits = head(rnn(inputs))
        # The sum of per-example losses: each example's own gradient.
        loss = tf.reduce_sum(
            keras.losses.sparse_categorical_crossentropy(labels, logits, True)
        )
    return step_norms(tape.gradient(loss, inputs))


def step_norms(gradients) -> list[float]:
    """`(batch, time, features)` -> mean norm per step, last step first."""
    norms = tf.reduce_mean(tf.norm(gradients, axis=-1), axis=0).numpy()
    return [float(v) for v in norms[::-1]]


def gradient_batch(vectorizer, lag: int, settings: dict):
    """Unpadded reviews of equal length: the last `gradient_length` tokens.

    Only reviews at least that long are kept, so no step is padding; the
    verdict lies within the last `2 * lag + 30` tokens, so it is kept too
    (earlier opinions may be cut, which does not change the label).
    """
    length, wanted = settings["gradient_length"], settings["gradient_batch"]
    if 2 * lag + 30 > length:
        raise ValueError(f"gradient_length {length} is too short for lag {lag}")
    texts, labels = generate_reviews(
        20 * wanted,
        distance=lag,
        min_distance=lag,
        seed=settings["data_seed"],
        split="gradients",
    )
    ids = vectorizer.token_ids(tf.constant(texts))
    keep = np.flatnonzero(ids.row_lengths().numpy() >= length)[:wanted]
    if len(keep) < wanted:
        raise ValueError(f"only {len(keep)} reviews of {length}+ tokens at lag {lag}")
    dense = pad_ragged(tf.gather(ids, keep), length, "pre", "pre").numpy()
    return dense, np.array(labels)[keep]


def train_and_score(model, train, settings, *, part, seed, score, gradients=None):
    """Train `model` on the budget of `part` ("lag" or "adding"), then score it.

    Returns the measurement's fields (`score(model)`, the kernel path, the
    wall times) and, when `gradients` is given, the gradient curves measured
    by `gradients(model)` at initialization and after training.
    """
    initial = gradients(model) if gradients else None
    prefix = "" if part == "lag" else "adding_"
    started = time.perf_counter()
    epochs = fit(
        model,
        *train,
        settings,
        epochs=settings[f"{prefix}epochs"],
        learning_rate=settings[f"{prefix}learning_rate"],
        loss=LOSSES[part],
        seed=seed,
    )
    seconds = time.perf_counter() - started
    scores = score(model)
    row = {
        **scores,
        "kernel_path": next(
            getattr(layer, "kernel_path", "keras")
            for layer in model.layers
            if isinstance(layer, tuple(LAYERS.values()))
        ),
        "train_seconds": round(seconds, 2),
        "epoch_seconds": [round(s, 2) for s in epochs],
    }
    if gradients is None:
        return row, None
    return row, {"initial": initial, "trained": gradients(model), **scores}


def lag_study(settings: dict, lags: list[int], seeds: list[int], start: float):
    """Rows of test accuracy per (lag, cell, seed), bag of words per lag, and
    the gradient curves at `gradient_lag` (first seed)."""
    vectorizer, texts = corpus(settings, lags)
    vocabulary = vectorizer.vocabulary_size()
    rows, baselines, curves = [], [], {}
    for lag in lags:
        data = token_arrays(vectorizer, texts[lag])
        arrays, length = data["arrays"], data["sequence_length"]
        log(start, f"lag {lag}: {length} steps (train mean {data['mean_length']:.0f})")
        bow = bag_of_words_accuracy(arrays, vocabulary, seeds[0])
        baselines.append(
            emit(
                start,
                {"measurement": "lag_bag_of_words", "lag": lag, "test_accuracy": bow},
            )
        )
        score = functools.partial(classifier_score, arrays=arrays)
        probe = None
        if lag == settings["gradient_lag"]:
            ids, labels = gradient_batch(vectorizer, lag, settings)
            probe = functools.partial(classifier_gradients, ids=ids, labels=labels)
        for cell in CELLS:
            for seed in seeds:
                row, curve = train_and_score(
                    classifier(cell, vocabulary, length, settings, seed),
                    arrays["train"],
                    settings,
                    part="lag",
                    seed=seed,
                    score=score,
                    gradients=probe if seed == seeds[0] else None,
                )
                head = {
                    "measurement": "lag",
                    "cell": cell,
                    "lag": lag,
                    "seed": seed,
                    "sequence_length": length,
                }
                rows.append(emit(start, {**head, **row}))
                if curve:
                    curves[cell] = curve
    return rows, baselines, {"lag": settings["gradient_lag"], "cells": curves}


# -- the adding problem ------------------------------------------------------


def adding_problem(size: int, steps: int, seed: int):
    """`(x, y)`: x `(size, steps, 2)` float32 (values, markers), y the sums."""
    rng = np.random.default_rng(seed)
    values = rng.random((size, steps))
    rows, half = np.arange(size), steps // 2
    first = rng.integers(0, half, size)
    second = rng.integers(half, steps, size)
    markers = np.zeros((size, steps))
    markers[rows, first] = markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype("float32")
    return x, (values[rows, first] + values[rows, second]).astype("float32")


def regressor(cell: str, steps: int, settings: dict, seed: int):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((steps, 2)),
            recurrent(cell, settings["units"]),
            keras.layers.Dense(1),
        ]
    )


def regressor_score(model, x, y) -> dict:
    predictions = model.predict(x, batch_size=256, verbose=0)[:, 0]
    return {"test_mse": float(np.mean((predictions - y) ** 2))}


def regressor_gradients(model, x, y) -> list[float]:
    """Mean over the batch of |d loss / d x_t|, by distance from the end."""
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.square(model(x)[:, 0] - y))
    return step_norms(tape.gradient(loss, x))


def adding_study(settings: dict, steps_list: list[int], seeds: list[int], start):
    """Rows of test MSE per (steps, cell, seed), the always-1 baseline per
    `steps`, and the gradient curves at `gradient_adding_steps` (first seed)."""
    rows, baselines, curves = [], [], {}
    for steps in steps_list:
        # Different streams for train and test; the same for every cell.
        train = adding_problem(settings["adding_train_size"], steps, 1000 + steps)
        x_test, y_test = adding_problem(settings["adding_test_size"], steps, steps)
        baselines.append(
            emit(
                start,
                {
                    "measurement": "adding_baseline",
                    "steps": steps,
                    "test_mse": float(np.mean((y_test - 1.0) ** 2)),
                },
            )
        )
        score = functools.partial(regressor_score, x=x_test, y=y_test)
        probe = None
        if steps == settings["gradient_adding_steps"]:
            size = settings["gradient_batch"]
            probe = functools.partial(
                regressor_gradients, x=x_test[:size], y=y_test[:size]
            )
        for cell in CELLS:
            for seed in seeds:
                row, curve = train_and_score(
                    regressor(cell, steps, settings, seed),
                    train,
                    settings,
                    part="adding",
                    seed=seed,
                    score=score,
                    gradients=probe if seed == seeds[0] else None,
                )
                head = {
                    "measurement": "adding",
                    "cell": cell,
                    "steps": steps,
                    "seed": seed,
                }
                rows.append(emit(start, {**head, **row}))
                if curve:
                    curves[cell] = curve
    return (
        rows,
        baselines,
        {"steps": settings["gradient_adding_steps"], "cells": curves},
    )


# -- summaries and tables ---------------------------------------------------


def summarize(rows: list[dict], key: str, metric: str) -> list[dict]:
    """Mean, min and max of `metric` over seeds, per (cell, `key`)."""
    groups: dict = {}
    for row in rows:
        groups.setdefault((row["cell"], row[key]), []).append(row[metric])
    return [
        {
            "cell": cell,
            key: value,
            "seeds": len(v),
            "mean": statistics.fmean(v),
            "min": min(v),
            "max": max(v),
        }
        for (cell, value), v in sorted(groups.items(), key=lambda kv: kv[0][1])
    ]


def table(summary, baselines, key, metric, baseline_name, fmt) -> str:
    values = sorted({s[key] for s in summary} | {b[key] for b in baselines})
    cells = [c for c in CELLS if any(s["cell"] == c for s in summary)]
    head = f"| {key} | {baseline_name} | " + " | ".join(
        f"{LABELS[c]} mean (min-max)" for c in cells
    )
    lines = [head + " |", "| ---: " * (len(cells) + 2) + "|"]
    by = {(s["cell"], s[key]): s for s in summary}
    base = {b[key]: b[metric] for b in baselines}
    for value in values:
        parts = [str(value), fmt(base[value]) if value in base else "-"]
        for cell in cells:
            s = by.get((cell, value))
            parts.append(
                f"{fmt(s['mean'])} ({fmt(s['min'])}-{fmt(s['max'])})" if s else "-"
            )
        lines.append("| " + " | ".join(parts) + " |")
    return "\n".join(lines)


# -- the budget estimate -----------------------------------------------------


def epoch_cost(model, x, y, loss, settings, sample: int = 1024) -> tuple[float, float]:
    """(seconds per training example, seconds of the first epoch's tracing)."""
    model.compile(keras.optimizers.Adam(1e-3), loss)
    batch = settings["batch_size"]
    started = time.perf_counter()
    model.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0)
    trace = time.perf_counter() - started
    started = time.perf_counter()
    model.fit(x[:sample], y[:sample], batch_size=batch, epochs=1, verbose=0)
    per_example = (time.perf_counter() - started) / sample
    return per_example, max(trace - per_example * batch, 0.0)


def estimate(settings: dict, start: float) -> dict:
    """Predicted training seconds of each part, from one timed epoch each.

    One epoch of 1024 examples per cell and lag (or T), after a warm-up
    batch that pays the tracing: a rough figure on a shared machine, where
    the load of other processes can move it by 2x either way.
    """
    vectorizer, texts = corpus({**settings, "train_size": 1024}, settings["lags"])
    vocabulary, predicted = vectorizer.vocabulary_size(), {"lag": 0.0, "adding": 0.0}
    for part, values, size, epochs, seeds in (
        (
            "lag",
            settings["lags"],
            settings["train_size"],
            settings["epochs"],
            settings["seeds"],
        ),
        (
            "adding",
            settings["adding_steps"],
            settings["adding_train_size"],
            settings["adding_epochs"],
            settings["adding_seeds"],
        ),
    ):
        for value in values:
            if part == "lag":
                data = token_arrays(vectorizer, texts[value])
                x, y = data["arrays"]["train"]
                length = data["sequence_length"]
            else:
                x, y = adding_problem(1024, value, 0)
                length = value
            for cell in CELLS:
                if part == "lag":
                    model = classifier(cell, vocabulary, length, settings, 0)
                else:
                    model = regressor(cell, value, settings, 0)
                per_example, trace = epoch_cost(model, x, y, LOSSES[part], settings)
                seconds = (per_example * size * epochs + trace) * len(seeds)
                predicted[part] += seconds
                emit(
                    start,
                    {
                        "measurement": "estimate",
                        "part": part,
                        "cell": cell,
                        "value": value,
                        "steps": length,
                        "epoch_seconds": round(per_example * size, 2),
                        "trace_seconds": round(trace, 2),
                        "predicted_seconds": round(seconds, 1),
                    },
                )
    return predicted


# -- the run -----------------------------------------------------------------


def environment() -> dict:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if "model name" in ln]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
        # 0: TensorFlow's default, one thread per core.
        "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
        "git_commit": commit,
    }


def merge(old: list[dict], new: list[dict], keys: tuple) -> list[dict]:
    """`old` rows with those measured again in `new` replaced by them."""
    fresh = {tuple(r.get(k) for k in keys) for r in new}
    return [r for r in old if tuple(r.get(k) for k in keys) not in fresh] + new


def run_parts(settings: dict, parts: set, start: float, results: dict) -> None:
    """Measure `parts` and merge them into `results` (in place)."""
    lag, adding = results.setdefault("lag", {}), results.setdefault("adding", {})
    gradients = results.setdefault("gradients", {})
    walls = results.setdefault("wall_seconds", {})
    if parts & {"lag", "gradients"}:
        started = time.perf_counter()
        # Gradients alone: only the models they are measured on.
        lags = settings["lags"] if "lag" in parts else [settings["gradient_lag"]]
        seeds = settings["seeds"] if "lag" in parts else settings["seeds"][:1]
        rows, bow, curves = lag_study(settings, lags, seeds, start)
        lag["rows"] = merge(lag.get("rows", []), rows, ("cell", "lag", "seed"))
        lag["bag_of_words"] = merge(lag.get("bag_of_words", []), bow, ("lag",))
        lag["summary"] = summarize(lag["rows"], "lag", "test_accuracy")
        if curves["cells"]:
            gradients["corpus"] = curves
        wall = "lag" if "lag" in parts else "gradient_lag_models"
        walls[wall] = round(time.perf_counter() - started, 1)
    if parts & {"adding", "gradients"}:
        started = time.perf_counter()
        steps = (
            settings["adding_steps"]
            if "adding" in parts
            else [settings["gradient_adding_steps"]]
        )
        seeds = (
            settings["adding_seeds"]
            if "adding" in parts
            else settings["adding_seeds"][:1]
        )
        rows, base, curves = adding_study(settings, steps, seeds, start)
        adding["rows"] = merge(adding.get("rows", []), rows, ("cell", "steps", "seed"))
        adding["baseline"] = merge(adding.get("baseline", []), base, ("steps",))
        adding["summary"] = summarize(adding["rows"], "steps", "test_mse")
        if curves["cells"]:
            gradients["adding"] = curves
        wall = "adding" if "adding" in parts else "gradient_adding_models"
        walls[wall] = round(time.perf_counter() - started, 1)


def tables(results: dict) -> dict:
    out = {}
    if results["lag"].get("summary"):
        out["lag"] = table(
            results["lag"]["summary"],
            results["lag"]["bag_of_words"],
            "lag",
            "test_accuracy",
            "bag of words",
            "{:.3f}".format,
        )
    if results["adding"].get("summary"):
        out["adding"] = table(
            results["adding"]["summary"],
            results["adding"]["baseline"],
            "steps",
            "test_mse",
            "always 1",
            "{:.4f}".format,
        )
    return out


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer lags, seeds, examples and epochs (< 5 minutes)",
    )
    parser.add_argument(
        "--only",
        choices=("lag", "adding", "gradients"),
        help="re-run one part and merge it into the results file",
    )
    parser.add_argument("--seeds", help="model seeds, e.g. 0,1,2 (both studies)")
    parser.add_argument(
        "--train-lags",
        choices=("from_zero", "fixed"),
        default="from_zero",
        help="training reviews carry the verdict across 0 to 2 x lag words, "
        "the corpus at distance=lag (from_zero, the default), or lag to "
        "2 x lag like the test ones (fixed; results go to memory_fixed*.json)",
    )
    parser.add_argument(
        "--estimate",
        action="store_true",
        help="time one epoch of every cell at every lag and T, "
        "print the predicted duration, train nothing",
    )
    parser.add_argument(
        "--out",
        help="results file (default: results/memory.json, "
        "memory_quick.json with --quick)",
    )
    return parser.parse_args(argv)


def write_plots(results: dict, out: Path) -> None:
    """`<out stem>_lag.png`, `_adding.png`, `_gradients.png`, for the parts
    that have results."""
    for part, plot in (
        ("lag", plot_lag),
        ("adding", plot_adding),
        ("gradients", plot_gradients),
    ):
        measured = results[part] if part == "gradients" else results[part].get("rows")
        if measured:
            plot(results, out.with_name(f"{out.stem}_{part}.png"))


def main(argv=None) -> None:
    args = parse_args(argv)
    start = time.perf_counter()
    machine = environment()
    settings = dict(QUICK if args.quick else FULL, train_lags=args.train_lags)
    if args.seeds:
        seeds = [int(s) for s in args.seeds.split(",")]
        settings["seeds"] = settings["adding_seeds"] = seeds
    if args.estimate:
        predicted = estimate(settings, start)
        total = sum(predicted.values())
        print(
            json.dumps(
                {
                    "predicted_training_seconds": predicted,
                    "predicted_total_minutes": round(total / 60, 1),
                    "estimate_seconds": round(time.perf_counter() - start, 1),
                }
            )
        )
        return
    name = (
        "memory"
        + ("_quick" if args.quick else "")
        + ("_fixed" if args.train_lags == "fixed" else "")
    )
    out = Path(args.out) if args.out else RESULTS / f"{name}.json"
    results = {}
    if args.only and out.exists():
        results = json.loads(out.read_text())
    parts = {args.only} if args.only else {"lag", "adding", "gradients"}
    log(
        start,
        f"{name}: {', '.join(sorted(parts))}; SimpleRNN is "
        f"{SIMPLE_RNN.__module__}.{SIMPLE_RNN.__name__}",
    )
    run_parts(settings, parts, start, results)
    results.update(
        benchmark="memory",
        mode="quick" if args.quick else "full",
        date=time.strftime("%Y-%m-%d %H:%M"),
        environment={
            **machine,
            "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        },
        settings=settings,
        layers={
            cell: f"{cls.__module__}.{cls.__name__}" for cell, cls in LAYERS.items()
        },
        note=""
        if hasattr(tl, "SimpleRNN")
        else (
            "textlstm.layers.SimpleRNN does not exist yet: SimpleRNN is "
            "keras.layers.SimpleRNN (same equations, no fast path)"
        ),
    )
    results["wall_seconds"]["total_this_run"] = round(time.perf_counter() - start, 1)
    results["tables"] = tables(results)
    write_json(out, results)
    write_plots(results, out)
    for title, text in results["tables"].items():
        print(f"\n{title}\n{text}")
    log(start, f"wrote {out}")


if __name__ == "__main__":
    main()
