"""The training step under tf.distribute and XLA: equal to the plain step.

- `train.jit_compile: true` compiles the training step with XLA; for every
  cell type its first step equals the uncompiled one (to 1e-5);
- `train.strategy: mirrored` on two logical CPUs: the first step's
  gradients and updated weights equal a single-device step on the same
  global batch (to 1e-5).
"""

import json
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.test_training import TINY
from textlstm import model as models
from textlstm.config import load_config
from textlstm.training import distributed
from textlstm.training.optimizers import build_optimizer

VARIANTS = [
    ("lstm", False),
    ("gru", False),
    ("simple_rnn", False),
    ("peephole_lstm", False),
    ("layernorm_lstm", False),
    ("cifg_lstm", False),
    ("lstm", True),
]


def tiny_config(cell, bidirectional, jit_compile=False, strategy="default"):
    return load_config(
        "quickstart",
        [
            f"model.cell={cell}",
            f"model.bidirectional={str(bidirectional).lower()}",
            "model.units=6",
            "model.embedding_dim=5",
            "model.embedding_dropout=0.0",
            "text.max_tokens=40",
            "text.sequence_length=12",
            "train.batch_size=8",
            f"train.jit_compile={str(jit_compile).lower()}",
            f"train.strategy={strategy}",
        ],
    )


def batch():
    ids = np.random.default_rng(0).integers(1, 40, size=(8, 12))
    ids[:3, 9:] = 0  # padded texts too
    return ids, np.array([0, 1, 1, 0, 1, 0, 0, 1])


def one_keras_step(config, jit_compile):
    keras.utils.set_random_seed(7)
    model = models.build_classifier(config, num_classes=2)
    model.compile(
        optimizer=build_optimizer(config["train"], steps_per_epoch=10),
        loss="sparse_categorical_crossentropy",
        jit_compile=jit_compile,
    )
    ids, labels = batch()
    loss = model.train_on_batch(ids, labels)
    return float(loss), model.get_weights()


@pytest.mark.parametrize("cell, bidirectional", VARIANTS)
def test_jit_compile_step_equals_the_plain_step(cell, bidirectional):
    config = tiny_config(cell, bidirectional, jit_compile=True)
    plain_loss, plain = one_keras_step(config, jit_compile=False)
    xla_loss, xla = one_keras_step(config, jit_compile=True)
    assert abs(plain_loss - xla_loss) < 1e-5
    assert len(plain) == len(xla)
    for a, b in zip(plain, xla):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def test_distributed_trainer_jit_step_equals_keras_step():
    # The trainer's own XLA path (its compiled forward and backward pass),
    # on the default strategy, against Keras' uncompiled step.
    config = tiny_config("lstm", False, jit_compile=True)
    plain_loss, plain = one_keras_step(config, jit_compile=False)
    keras.utils.set_random_seed(7)
    model = models.build_classifier(config, num_classes=2)
    train = {**config["train"], "clipnorm": None}
    model.compile(optimizer=build_optimizer(train, steps_per_epoch=10))
    model.optimizer.build(model.trainable_variables)
    trainer = distributed.DistributedTrainer(
        tf.distribute.get_strategy(), model, config["train"]
    )
    ids, labels = batch()
    dataset = tf.data.Dataset.from_tensors((ids, labels))
    scores = trainer.train_epoch(lambda context: dataset)
    assert abs(scores["loss"] - plain_loss) < 1e-5
    for a, b in zip(plain, model.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)


def test_static_shapes_pipeline():
    from textlstm.text import build_vectorizer
    from textlstm.text.batching import make_batches

    texts = tf.data.Dataset.from_tensor_slices(
        ([f"word{i} " * (i % 5 + 1) for i in range(10)], [i % 2 for i in range(10)])
    )
    vectorizer = build_vectorizer({"sequence_length": 7}, texts)
    shapes = [
        tuple(ids.shape)
        for ids, _ in make_batches(
            texts, vectorizer, 4, shuffle=True, seed=0, drop_remainder=True
        )
    ]
    assert shapes == [(4, 7), (4, 7)]  # 10 texts: the last 2 dropped
    assert distributed.static_shapes({"jit_compile": False, "strategy": "tpu"})
    assert not distributed.static_shapes({"jit_compile": False, "strategy": "mirrored"})


# One process for both mirrored tests: logical devices must be set before
# TensorFlow starts, and a fresh TensorFlow process costs seconds.
MIRRORED = """
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from textlstm.config import load_config
from textlstm.model import load_text_classifier
from textlstm.training import fit
root, tiny = sys.argv[1], json.loads(sys.argv[2])
base = ["data.size=100", "data.test_size=20", "train.epochs=1",
        "text.max_tokens=300", "text.sequence_length=32", "model.units=8",
        "model.embedding_dim=8",
        "train.batch_size=128", "text.bucketing=false", "train.clipnorm=0.05",
        "model.embedding_dropout=0.0", "model.head_dropout=0.0",
        "train.optimizer=sgd", "train.momentum=0.0", "train.learning_rate=0.5"]
runs = {"mirrored": ["train.strategy=mirrored"], "one": [],
        "start": ["train.learning_rate=0.0"]}
weights = {}
for name, extra in runs.items():
    result = fit(load_config("quickstart", base + extra), f"{root}/{name}", verbose=0)
    weights[name] = load_text_classifier(f"{root}/{name}").get_weights()
replicas = json.load(open(f"{root}/mirrored/run.json"))["environment"]["replicas"]
# SGD without momentum: gradient = (start - after) / learning rate.
grads = {name: [(s - w) / 0.5 for s, w in zip(weights["start"], weights[name])]
         for name in ("mirrored", "one")}
# The quickstart preset made tiny, as test_training trains it, mirrored.
tiny_run = fit(load_config("quickstart", tiny), f"{root}/tiny", verbose=0)
tiny_info = json.load(open(f"{root}/tiny/run.json"))
print(json.dumps({
    "replicas": replicas,
    "weights": max(float(np.abs(a - b).max())
                   for a, b in zip(weights["mirrored"], weights["one"])),
    "gradients": max(float(np.abs(a - b).max())
                     for a, b in zip(grads["mirrored"], grads["one"])),
    "moved": max(float(np.abs(g).max()) for g in grads["one"]),
    "tiny": [tiny_info["environment"]["replicas"],
             tiny_run.metrics["num_examples"]],
}))
"""


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory) -> dict:
    """What the mirrored runs on two logical CPUs found (`MIRRORED`)."""
    tiny = [*TINY, "train.strategy=mirrored", "train.epochs=1"]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            MIRRORED,
            str(tmp_path_factory.mktemp("mirrored")),
            json.dumps(tiny),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_mirrored_first_step_equals_single_device_step(mirrored):
    assert mirrored["replicas"] == 2
    assert mirrored["moved"] > 1e-3  # the step changed the weights
    assert mirrored["weights"] < 1e-5
    assert mirrored["gradients"] < 1e-5


def test_mirrored_strategy_on_two_logical_cpus(mirrored):
    """The tiny quickstart run of test_training.py, under `mirrored`: two
    replicas, and the test split evaluated whole."""
    assert mirrored["tiny"] == [2, 60]
