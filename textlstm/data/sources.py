"""One loader per `data.source`, each returning a `DatasetBundle`.

Each takes a `data` section already checked by `core.data_config` (required
keys present, numbers in range) and raises `DataError` for what only the
data can show.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import logging as absl_logging

from textlstm.data import files, synthetic
from textlstm.data.core import (
    DataError,
    DatasetBundle,
    LabelMap,
    Table,
    check_classes,
    fingerprint,
    salt,
    shuffled,
    split_table,
    stratified_holdout,
    to_dataset,
)

# Keys that only say where the data lives: the content digest replaces them
# in the fingerprint, so moving a folder keeps the fingerprint.
_LOCATION_KEYS = ("data_dir", "path", "train", "validation", "test")


def load_synthetic(config: dict, seed: int) -> DatasetBundle:
    """The embedded synthetic reviews (`data.size`, `test_size`, `distance`,
    `min_distance`)."""
    tables = {}
    for split, size in (("train", config["size"]), ("test", config["test_size"])):
        texts, labels = synthetic.generate_reviews(
            size,
            distance=config["distance"],
            min_distance=config["min_distance"],
            seed=seed,
            split=split,
        )
        where = [f"synthetic {split} example {i}" for i in range(size)]
        tables[split] = Table(texts, np.array(labels, dtype=np.int64), where)
    keys = ("source", "size", "test_size", "distance", "min_distance")
    params = {k: config[k] for k in keys}
    params["validation_fraction"] = config["validation_fraction"]
    content = f"generator-v{synthetic.GENERATOR_VERSION}"
    return _bundle(
        tables["train"],
        None,
        tables["test"],
        synthetic.CLASS_NAMES,
        config,
        seed,
        params,
        content,
        where="synthetic",
    )


def load_file_source(config: dict, seed: int) -> DatasetBundle:
    """csv / tsv / jsonl files: `data.train` (required), `validation`, `test`."""
    source = config["source"]
    read = {}
    digests = []
    for split in ("train", "validation", "test"):
        if config[split]:
            rows, digest = files.read_table_file(
                Path(config[split]),
                source,
                config["text_column"],
                config["label_column"],
                f"data.{split}",
                config["delimiter"],
            )
            read[split] = rows
            digests.append(f"{split}:{digest}")
    labels = LabelMap.fit([row[1] for row in read["train"]], config["class_names"])
    tables = {split: _table(rows, labels) for split, rows in read.items()}
    return _bundle(
        tables["train"],
        tables.get("validation"),
        tables.get("test"),
        labels.class_names,
        config,
        seed,
        _params(config),
        ";".join(digests),
        where=str(config["train"]),
    )


def load_directory(config: dict, seed: int) -> DatasetBundle:
    """The aclImdb layout `path/<split>/<class_name>/*.txt`."""
    root = Path(config["path"])
    if not root.is_dir():
        raise DataError(f"{root}: folder not found (data.path)")
    folders = {}
    for split in ("train", "validation", "test"):
        folder = root / (config[split] or split)
        if folder.is_dir():
            folders[split] = folder
        elif config[split] or split == "train":
            raise DataError(f"{folder}: folder not found (data.{split})")
    class_names = config["class_names"] or files.class_folders(
        root, list(folders.values())
    )
    labels = LabelMap([str(name) for name in class_names])
    digest = hashlib.sha256()
    tables = {}
    for split, folder in folders.items():
        rows, split_digest = files.read_class_folders(folder, labels.class_names)
        digest.update(split_digest.digest())
        tables[split] = _table(rows, labels)
    return _bundle(
        tables["train"],
        tables.get("validation"),
        tables.get("test"),
        labels.class_names,
        config,
        seed,
        _params(config),
        digest.hexdigest(),
        where=str(folders["train"]),
    )


def _table(rows: list[files.Row], labels: LabelMap) -> Table:
    where = [row[2] for row in rows]
    return Table(
        [row[0] for row in rows], labels.ids([r[1] for r in rows], where), where
    )


def _params(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in _LOCATION_KEYS}


def _bundle(
    train: Table,
    validation: Table | None,
    test: Table | None,
    class_names: list[str],
    config: dict,
    seed: int,
    params: dict,
    content: str,
    where: str,
) -> DatasetBundle:
    """Split what the source lacks from train, shuffle train, wrap in tf.data."""
    check_classes(train.labels, class_names, where, config["label_column"])
    if test is None:
        train, test = split_table(train, config["test_fraction"], seed, "test")
    if validation is None:
        train, validation = split_table(
            train, config["validation_fraction"], seed, "validation"
        )
    return DatasetBundle(
        train=to_dataset(shuffled(train, seed)),
        validation=to_dataset(validation),
        test=to_dataset(test),
        class_names=list(class_names),
        fingerprint=fingerprint(params, seed, content),
    )


def load_tfds(config: dict, seed: int, explicit: dict) -> DatasetBundle:
    """A TensorFlow Datasets text-classification set, never downloaded.

    `data.train` / `validation` / `test` name tfds splits (default `train`,
    `validation` if the dataset has one, `test` if it has one); a missing
    validation or test split is held out of train, stratified and seeded.
    """
    name = config["name"]
    data_dir = config["data_dir"] or None
    builder = _tfds_builder(name, data_dir)
    info = builder.info
    text_column, label_column = _tfds_columns(info, config, explicit, name)
    class_names = _tfds_class_names(info, label_column, name)
    splits = _tfds_split_names(config, list(info.splits.keys()))
    loaded = {
        split: _tfds_split(builder, name, split_name, data_dir, split)
        for split, split_name in splits.items()
        if split_name is not None
    }

    def pairs(ds):
        return ds.map(
            lambda ex: (ex[text_column], tf.cast(ex[label_column], tf.int64)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )

    train = pairs(loaded["train"])
    held = {}
    missing = [split for split in ("test", "validation") if split not in loaded]
    if missing:
        labels = _labels(train)
        where = f"tfds {name} {splits['train']}"
        check_classes(labels, class_names, where, label_column)
        held = _holdout_masks(labels, missing, config, seed)
    bundle = {
        split: _select(train, held[split]) if split in held else pairs(loaded[split])
        for split in ("train", "validation", "test")
    }
    params = _params(config)
    params.update(name=name, splits=splits, columns=[text_column, label_column])
    return DatasetBundle(
        train=bundle["train"],
        validation=bundle["validation"],
        test=bundle["test"],
        class_names=class_names,
        fingerprint=fingerprint(params, seed, _tfds_content(info)),
    )


def _tfds_builder(name: str, data_dir: str | None):
    """The dataset's tfds builder; `DataError` for an unknown or bad name."""
    import tensorflow_datasets as tfds  # slow to import: tfds sources only

    try:
        with _quiet_absl():
            return tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(f"data.name: unknown tfds dataset {name!r}") from None
    except (ValueError, AssertionError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise DataError(f"data.name: tfds dataset {name!r}: {first}") from None


def _tfds_class_names(info, label_column: str, name: str) -> list[str]:
    """The names of the label feature; `DataError` unless it is a ClassLabel."""
    label_feature = info.features[label_column]
    if not hasattr(label_feature, "names"):
        raise DataError(
            f"data.label_column: {label_column!r} of tfds dataset {name!r} "
            "is not a ClassLabel"
        )
    return list(label_feature.names)


def _tfds_split_names(config: dict, available: list[str]) -> dict[str, str | None]:
    """The tfds split read for each of ours; `None`: hold it out of train."""
    return {
        "train": config["train"] or "train",
        "validation": config["validation"]
        or ("validation" if "validation" in available else None),
        "test": config["test"] or ("test" if "test" in available else None),
    }


def _holdout_masks(
    labels: np.ndarray, missing: list[str], config: dict, seed: int
) -> dict[str, np.ndarray]:
    """Row masks of the `missing` splits held out of train, and of train's rest.

    Test is held out first, then validation from the rows left, each
    stratified with its `data.<split>_fraction` and a seed of its own.
    """
    keep = np.ones(len(labels), dtype=bool)
    held = {}
    for split in ("test", "validation"):
        if split not in missing:
            continue
        rows = np.flatnonzero(keep)
        mask = stratified_holdout(
            labels[rows], config[f"{split}_fraction"], [seed, salt(split)]
        )
        held[split] = np.zeros(len(labels), dtype=bool)
        held[split][rows[mask]] = True
        keep[rows[mask]] = False
    held["train"] = keep
    return held


def _tfds_content(info) -> str:
    """What identifies the prepared data: its full name and split sizes."""
    sizes = ",".join(
        f"{key}={info.splits[key].num_examples}" for key in info.splits.keys()
    )
    return f"{info.full_name}:{sizes}"


def _tfds_columns(info, config: dict, explicit: dict, name: str) -> tuple[str, str]:
    """Text and label feature names; the supervised keys when not configured."""
    features = list(info.features.keys())
    columns = []
    for index, key in enumerate(("text_column", "label_column")):
        column = config[key]
        if column not in features and not explicit.get(key) and info.supervised_keys:
            column = info.supervised_keys[index]
        if column not in features:
            raise DataError(
                f"data.{key}: tfds dataset {name!r} has no feature {column!r}; "
                f"features: {', '.join(features)}"
            )
        columns.append(column)
    return columns[0], columns[1]


@contextlib.contextmanager
def _quiet_absl():
    """Hide tfds' absl warnings (an unprepared folder is reported in one line)."""
    previous = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(previous)


def _tfds_split(builder, name: str, split: str, data_dir, key: str) -> tf.data.Dataset:
    import tensorflow_datasets as tfds  # slow to import: tfds sources only

    root = data_dir or os.environ.get("TFDS_DATA_DIR") or "~/tensorflow_datasets"
    try:
        with _quiet_absl():
            return tfds.load(
                name,
                split=split,
                data_dir=data_dir,
                download=False,
                shuffle_files=False,
            )
    except AssertionError:
        raise DataError(
            f"tfds dataset {name!r} is not prepared in {root} and textlstm never "
            "downloads; set data.data_dir (or TFDS_DATA_DIR) to a folder with a "
            "prepared copy, e.g. ../shared/data/tfds"
        ) from None
    except ValueError as error:
        first = str(error).strip().splitlines()[0]
        raise DataError(f"data.{key}: tfds dataset {name!r}: {first}") from None


def _labels(ds: tf.data.Dataset) -> np.ndarray:
    """All labels of a `(text, label)` dataset in one pass."""
    batches = [labels.numpy() for _, labels in ds.batch(8192)]
    if not batches:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(batches)


def _select(ds: tf.data.Dataset, mask: np.ndarray) -> tf.data.Dataset:
    """The examples of `ds` whose position is `True` in `mask`, streaming."""
    chosen = tf.constant(mask)
    selected = (
        ds.enumerate()
        .filter(lambda index, example: chosen[index])
        .map(lambda index, example: example)
    )
    return selected.apply(tf.data.experimental.assert_cardinality(int(mask.sum())))
