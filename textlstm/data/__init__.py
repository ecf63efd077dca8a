"""Dataset sources -> unbatched `(text, label)` tf.data pipelines.

`load_dataset(config["data"], seed)` reads the source named by
`data.source` and returns a `DatasetBundle` with train, validation and test
splits and the class names. A source without a validation (or test) split
gets one held out of train: stratified by class and seeded, so the same seed
always gives the same split. Nothing is ever downloaded.

| source | reads |
| --- | --- |
| `synthetic` | the embedded generator (`textlstm.data.synthetic`), offline |
| `tfds` | a prepared TensorFlow Datasets set, `download=False` |
| `directory` | the aclImdb layout `path/<split>/<class_name>/*.txt` |
| `csv`, `tsv`, `jsonl` | files with a text and a label column (`.gz` too) |

The `data` section of the config (missing keys take the defaults):

| key | default | meaning |
| --- | --- | --- |
| `source` | `"synthetic"` | one of the sources above |
| `name` | `"imdb_reviews"` | tfds dataset, optionally `name/config:version` |
| `data_dir` | `None` | tfds data folder (else `TFDS_DATA_DIR`, else tfds' own) |
| `path` | `None` | root folder (directory) |
| `train` | `None` | file (csv/tsv/jsonl, required) or split name (1) |
| `validation` | `None` | file or split name (1); absent: held out of train |
| `test` | `None` | file or split name (1); absent: held out of train |
| `text_column` | `"text"` | column, JSON key or tfds feature (2) |
| `label_column` | `"label"` | column, JSON key or tfds feature (2) |
| `class_names` | `None` | class order and names (3) |
| `validation_fraction` | `0.1` | share of train held out for validation |
| `test_fraction` | `0.2` | share of train held out for test |
| `delimiter` | `None` | csv/tsv field separator (default `,` / tab) |
| `size` | `5000` | synthetic: train examples (validation held out of them) |
| `test_size` | `1000` | synthetic: test examples |
| `distance` | `10` | synthetic: at most `2 * distance` words after the verdict |
| `min_distance` | `0` | synthetic: at least this many of them |

(1) directory: sub-folder of `path` (default `train`, `validation` if it
exists, `test`); tfds: split name (default `train`, and `validation` /
`test` when the dataset has them, e.g. `train[:10%]` works too).
(2) tfds: when the key is not set and the dataset has no such feature, its
supervised keys are used (e.g. `description`/`label` for `ag_news_subset`).
(3) default: the sorted training labels (numerically for integer labels);
directory: the class folders present in every split (so aclImdb's
`train/unsup` is left out). Given names are matched first; an integer label
that is not a name is taken as an index into them (labels 0/1, names
`[neg, pos]`).

Problems raise `DataError` (a `ValueError`) with a one-line message naming
the file (and line) or config key and the problem.

Example:

>>> bundle = load_dataset({"source": "synthetic", "size": 100, "test_size": 20})
>>> bundle.class_names, int(bundle.test.cardinality())
(['neg', 'pos'], 20)
>>> text, label = next(iter(bundle.train))
>>> text.dtype.name, label.dtype.name
('string', 'int64')
"""

from __future__ import annotations

from textlstm.data.core import DATA_DEFAULTS, DataError, DatasetBundle, data_config
from textlstm.data.summary import format_summary, summarize

__all__ = [
    "DATA_DEFAULTS",
    "DataError",
    "DatasetBundle",
    "data_config",
    "format_summary",
    "load_dataset",
    "summarize",
]


def load_dataset(data: dict, seed: int = 42) -> DatasetBundle:
    """Load the dataset described by the `data` config section.

    Args:
        data: The `data` config (partial dicts take the defaults; see the
            module docstring for every key).
        seed: Seed of the held-out splits, the train order and the
            synthetic generator.

    Returns:
        A `DatasetBundle` of unbatched `(text tf.string, label tf.int64)`
        datasets, the class names and a fingerprint of source and params.

    Raises:
        DataError: one line naming the file/key and the problem.
    """
    from textlstm.data import sources

    config = data_config(data)
    source = config["source"]
    if source == "synthetic":
        return sources.load_synthetic(config, seed)
    if source == "tfds":
        return sources.load_tfds(config, seed, dict(data or {}))
    if source == "directory":
        return sources.load_directory(config, seed)
    return sources.load_file_source(config, seed)
