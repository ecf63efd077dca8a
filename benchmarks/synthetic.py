"""How much memory the synthetic reviews need: bag of words vs recurrent nets.

Two measurements, printed as one JSON line each and written to
`benchmarks/results/synthetic.json`:

* `fit_like`: the shape of a default `textlstm fit` run (synthetic data with
  its defaults, vocabulary 20000, sequence length 200, embedding 64, one
  `keras.layers.LSTM(64)`, batch 64, 3 epochs, Adam 1e-3): test accuracy and
  wall time from process start (imports included) to the test score.
* `distance`: for each distance between the deciding verdict and the end of
  the review, test accuracy of a bag-of-words logistic regression and of
  SimpleRNN, LSTM and GRU (Keras built-ins, 64 units) trained alike.

Run: `python benchmarks/synthetic.py [--distances 5 20 50 100] [--epochs 6]`
(about 15 minutes on a 2-core CPU for the default sweep).
"""

from __future__ import annotations

import time

START = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from textlstm.data import load_dataset  # noqa: E402
from textlstm.text import build_vectorizer, make_batches  # noqa: E402

RESULTS = Path(__file__).parent / "results" / "synthetic.json"
RNNS = {
    "simple_rnn": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


def bag_of_words_accuracy(bundle, seed: int) -> float:
    """Test accuracy of logistic regression on word counts."""
    counts = keras.layers.TextVectorization(max_tokens=20000, output_mode="count")
    counts.adapt(bundle.train.map(lambda text, label: text).batch(1024))

    def arrays(ds):
        texts, labels = ds.batch(1_000_000).get_single_element()
        return np.asarray(counts(texts)), labels.numpy()

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((counts.vocabulary_size(),)), keras.layers.Dense(2)]
    )
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(*arrays(bundle.train), epochs=30, batch_size=256, verbose=0)
    return float(model.evaluate(*arrays(bundle.test), verbose=0)[1])


def rnn_accuracy(
    bundle,
    rnn: str,
    *,
    sequence_length: int,
    units: int,
    embedding: int,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
) -> tuple[float, float]:
    """(test accuracy, training seconds) of Embedding -> RNN -> Dense."""
    vectorizer = build_vectorizer(
        {"max_tokens": 20000, "sequence_length": sequence_length}, bundle.train
    )
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((sequence_length,), dtype="int64"),
            keras.layers.Embedding(20000, embedding, mask_zero=True),
            RNNS[rnn](units),
            keras.layers.Dense(2),
        ]
    )
    model.compile(
        keras.optimizers.Adam(learning_rate),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    train = make_batches(bundle.train, vectorizer, batch_size, shuffle=True, seed=seed)
    validation = make_batches(bundle.validation, vectorizer, 256, shuffle=False, seed=0)
    test = make_batches(bundle.test, vectorizer, 256, shuffle=False, seed=0)
    started = time.perf_counter()
    model.fit(train, validation_data=validation, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - started
    return float(model.evaluate(test, verbose=0)[1]), seconds


def fit_like(seed: int) -> dict:
    bundle = load_dataset({"source": "synthetic"}, seed=seed)
    accuracy, seconds = rnn_accuracy(
        bundle,
        "lstm",
        sequence_length=200,
        units=64,
        embedding=64,
        epochs=3,
        batch_size=64,
        learning_rate=1e-3,
        seed=seed,
    )
    return {
        "benchmark": "fit_like",
        "seed": seed,
        "test_accuracy": round(accuracy, 4),
        "train_seconds": round(seconds, 1),
        "total_seconds_from_start": round(time.perf_counter() - START, 1),
    }


def sweep(distances: list[int], epochs: int, size: int, seed: int) -> list[dict]:
    rows = []
    for distance in distances:
        bundle = load_dataset(
            {"size": size, "test_size": 1000, "distance": distance}, seed=seed
        )
        # Long enough for the longest review at this distance.
        sequence_length = 2 * distance + 120
        row = {
            "benchmark": "distance",
            "distance": distance,
            "sequence_length": sequence_length,
            "bag_of_words": round(bag_of_words_accuracy(bundle, seed), 4),
        }
        for rnn in RNNS:
            accuracy, _ = rnn_accuracy(
                bundle,
                rnn,
                sequence_length=sequence_length,
                units=64,
                embedding=64,
                epochs=epochs,
                batch_size=64,
                learning_rate=3e-3,
                seed=seed,
            )
            row[rnn] = round(accuracy, 4)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| distance | bag of words | SimpleRNN | LSTM | GRU |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        cells = [row["bag_of_words"], row["simple_rnn"], row["lstm"], row["gru"]]
        lines.append(
            f"| {row['distance']} | " + " | ".join(f"{c:.1%}" for c in cells) + " |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distances", type=int, nargs="+", default=[5, 20, 50, 100])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--skip-fit-like", action="store_true")
    args = parser.parse_args()
    results: dict = {"config": vars(args)}
    if not args.skip_fit_like:
        results["fit_like"] = fit_like(args.seed)
        print(json.dumps(results["fit_like"]), flush=True)
    results["distance"] = sweep(args.distances, args.epochs, args.size, args.seed)
    results["versions"] = {"keras": keras.__version__}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    temporary = RESULTS.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(temporary, RESULTS)
    print("\n".join(table(results["distance"])))


if __name__ == "__main__":
    main()
