"""Data prepared for a model: the splits, the vectorizer adapted to the
training texts (with `auto` sizes chosen), pretrained vectors, and batches.

`prepare_data(config)` is the data phase that `textlstm.training.fit` runs
(and language-model pretraining can share): it reads the dataset of the
`data` section, resolves `text.max_tokens: auto` / `text.sequence_length:
auto` from the training split (`textlstm.text.sizing`), adapts a
`TextVectorizer`, and reads `model.embeddings` when set.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping

import keras

from textlstm import data as data_lib
from textlstm import text
from textlstm.config import explicit_values
from textlstm.model import embeddings
from textlstm.model.transfer import pretrained_vectorizer
from textlstm.robustness.augment import augment_training
from textlstm.robustness.pairs import PairSet
from textlstm.text.sizing import resolve_text_sizes

__all__ = ["PreparedData", "prepare_data"]


@dataclasses.dataclass
class PreparedData:
    """What `prepare_data` returns: splits, vectorizer and how to batch.

    Attributes:
        bundle: The dataset's splits and class names.
        vectorizer: The `TextVectorizer`, adapted to the training texts.
        text: The `text` section with every `auto` size resolved.
        seconds: How long preparing took.
        batch_size: Examples per batch of `batches`.
        bucketing: Whether `batches` buckets texts by length.
        pretrained: The `model.embeddings` vectors for the vocabulary.
        sizing: What each `auto` size chose, and why.
        static: Static batch shapes for XLA and TPUs: no bucketing, and the
            last partial training batch dropped.
        reading: What `data.pairs` and `data.counterfactuals` added to the
            training split (`textlstm.robustness.augment`), or None.
        pairs: Those pairs (human, then automatic), for `train.pair_loss`.
    """

    bundle: data_lib.DatasetBundle
    vectorizer: keras.layers.Layer
    text: dict
    seconds: float
    batch_size: int
    bucketing: bool
    pretrained: embeddings.PretrainedEmbeddings | None = None
    sizing: dict = dataclasses.field(default_factory=dict)
    static: bool = False
    reading: dict | None = None
    pairs: PairSet | None = None

    @property
    def class_names(self) -> list[str]:
        return list(self.bundle.class_names)

    def batches(self, dataset, *, shuffle: bool = False, seed: int = 0):
        """Vectorized, cached batches of a split (`textlstm.text.batching`); with
        `static`, training batches (`shuffle`) drop the last partial one."""
        return text.make_batches(
            dataset,
            self.vectorizer,
            self.batch_size,
            shuffle=shuffle,
            seed=seed,
            bucketing=self.bucketing and not self.static,
            drop_remainder=self.static and shuffle,
        )


def prepare_data(
    config: Mapping,
    *,
    standardizer_version: int = text.STANDARDIZER_VERSION,
    log: Callable[[str], None] | None = None,
) -> PreparedData:
    """Load the dataset of `config` and adapt a vectorizer to its training split.

    Args:
        config: A resolved config.
        standardizer_version: The standardization rules (a resumed run
            keeps its own).
        log: Called with one-line progress messages.

    Returns:
        A `PreparedData`; its `text` is `config["text"]` with `auto` sizes
        replaced by the numbers chosen.
    """
    log = log or (lambda message: None)
    log(f"Loading data ({config['data']['source']})")
    started = time.perf_counter()
    bundle = data_lib.load_dataset(
        explicit_values(config, "data"), seed=config["train"]["seed"]
    )
    bundle, reading, pairs = augment_training(
        bundle, config["data"], seed=config["train"]["seed"], log=log
    )
    train_texts = bundle.train.map(lambda text_, label: text_)
    text_section, sizing = resolve_text_sizes(config["text"], train_texts)
    for key, report in sizing.items():
        log(f"text.{key}: auto -> {report['value']} ({_why(report)})")
    vectorizer = pretrained_vectorizer(config, text_section)  # model.init_from
    if vectorizer is None:
        vectorizer = text.build_vectorizer(
            text_section, train_texts, standardizer_version
        )
    resolved = {**config, "text": text_section}
    return PreparedData(
        bundle=bundle,
        vectorizer=vectorizer,
        text=text_section,
        seconds=time.perf_counter() - started,
        batch_size=config["train"]["batch_size"],
        bucketing=text_section["bucketing"],
        pretrained=embeddings.embeddings_for_config(resolved, vectorizer, log=log),
        sizing=sizing,
        reading=reading,
        pairs=pairs,
    )


def _why(report: Mapping) -> str:
    items = [(k.replace("_", " "), v) for k, v in report.items() if k != "value"]
    return ", ".join(f"{name} {value}" for name, value in items)
