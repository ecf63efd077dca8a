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

The keys of the `data` section, with their defaults, allowed values and
meanings: `textlstm configs --keys` (the `data.*` rows, from
`textlstm.config.schema`); a partial section takes the defaults (`data_config`).
How the sources read some of them:

- `train`, `validation`, `test`: directory: a sub-folder of `path` (by
  default `train`, `validation` if it exists, `test`); tfds: a split name
  (by default `train`, and `validation` / `test` when the dataset has them;
  `train[:10%]` works too).
- `text_column`, `label_column`: tfds: when the key is not set and the
  dataset has no such feature, its supervised keys are used (e.g.
  `description` / `label` for `ag_news_subset`).
- `class_names`: when null, the sorted training labels (numerically for
  integer labels); directory: the class folders present in every split (so
  aclImdb's `train/unsup` is left out). Given names are matched first; an
  integer label that is not a name is taken as an index into them (labels
  0/1, names `[neg, pos]`).

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

from textlstm.data import sources
from textlstm.data.core import DATA_DEFAULTS, DataError, DatasetBundle, data_config

__all__ = [
    "DATA_DEFAULTS",
    "DataError",
    "DatasetBundle",
    "data_config",
    "load_dataset",
]


def load_dataset(data: dict, seed: int = 42) -> DatasetBundle:
    """Load the dataset described by the `data` config section.

    Args:
        data: The `data` config (partial dicts take the defaults; every
            key: `textlstm configs --keys`).
        seed: Seed of the held-out splits, the train order and the
            synthetic generator.

    Returns:
        A `DatasetBundle` of unbatched `(text tf.string, label tf.int64)`
        datasets, the class names and a fingerprint of source and params.

    Raises:
        DataError: one line naming the file/key and the problem.
    """
    config = data_config(data)
    source = config["source"]
    if source == "synthetic":
        return sources.load_synthetic(config, seed)
    if source == "tfds":
        return sources.load_tfds(config, seed, dict(data or {}))
    if source == "directory":
        return sources.load_directory(config, seed)
    return sources.load_file_source(config, seed)
