"""Run configuration: schema, YAML presets, `--set` overrides, validation.

A config is a plain nested dict with five parts: `name`, and the sections
`data`, `text`, `model` and `train`. Every key has a type, a default and a
documented meaning in `SCHEMA`, a declarative table that other modules extend
by adding rows (see `Option`). This module never imports TensorFlow or Keras,
so a bad config is rejected in milliseconds, before any heavy import or data
loading.

Example:

>>> config = load_config("quickstart", overrides=["model.units=16"])
>>> config["model"]["units"], config["data"]["source"]
(16, 'synthetic')
>>> load_config("quickstart", overrides=["model.cell=lsmt"])
Traceback (most recent call last):
...
textlstm.config.ConfigError: model.cell: 'lsmt' is not one of lstm, gru, ...
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from textlstm.errors import ConfigError

__all__ = [
    "ConfigError",
    "Option",
    "SCHEMA",
    "SECTIONS",
    "apply_overrides",
    "default_config",
    "describe_schema",
    "dump_config",
    "explicit_values",
    "list_presets",
    "load_config",
    "preset_path",
    "validate_config",
]

#: The sections of a config, in the order they are written.
SECTIONS = ("data", "text", "model", "train")


@dataclasses.dataclass(frozen=True)
class Option:
    """One config key: its type, default, allowed values and meaning.

    Args:
        type: `int`, `float`, `bool`, `str`, or `list` (of strings).
        default: The value used when a config does not set the key.
        doc: One line a user reads in `textlstm configs --keys`.
        choices: The allowed values, or `None` for any value of `type`.
        nullable: Whether `null` (None) is allowed.
        minimum: Smallest allowed number (inclusive), or `None`.
        maximum: Largest allowed number (inclusive), or `None`.
        path: The data sources for which the key is a filesystem path
            (`True`: all). A relative path in a config file resolves
            against the file's folder; one given with `--set`, against the
            current directory.
    """

    type: type
    default: Any
    doc: str
    choices: tuple | None = None
    nullable: bool = False
    minimum: float | None = None
    maximum: float | None = None
    path: bool | tuple[str, ...] = False


_O = Option
_FILE_SOURCES = ("csv", "tsv", "jsonl")
CELLS = ("lstm", "gru", "peephole_lstm", "layernorm_lstm", "cifg_lstm", "simple_rnn")
#: The cells Keras ships too, for `model.impl: keras`.
KERAS_CELLS = ("lstm", "gru", "simple_rnn")

#: Every config key, by section. Add rows here to add keys: defaults, type
#: checks, `--set`, `textlstm configs --keys` and the README table follow.
SCHEMA: dict[str, dict[str, Option]] = {
    "data": {
        "source": _O(
            str,
            "synthetic",
            "Where examples come from.",
            choices=("synthetic", "tfds", "directory", "csv", "tsv", "jsonl"),
        ),
        "name": _O(str, "imdb_reviews", "TensorFlow Datasets name (tfds only)."),
        "data_dir": _O(
            str,
            None,
            "TFDS data folder (tfds only); null: TFDS_DATA_DIR or the TFDS default.",
            nullable=True,
            path=("tfds",),
        ),
        "path": _O(
            str,
            None,
            "Root of the aclImdb layout root/<split>/<class>/*.txt (directory).",
            nullable=True,
            path=("directory",),
        ),
        "train": _O(
            str,
            None,
            "Training file (csv, tsv, jsonl) or tfds split name (tfds).",
            nullable=True,
            path=_FILE_SOURCES,
        ),
        "validation": _O(
            str,
            None,
            "Validation file or tfds split; null: held out of train.",
            nullable=True,
            path=_FILE_SOURCES,
        ),
        "test": _O(
            str,
            None,
            "Test file or tfds split; null: held out of train.",
            nullable=True,
            path=_FILE_SOURCES,
        ),
        "text_column": _O(str, "text", "Column or field holding the text."),
        "label_column": _O(str, "label", "Column or field holding the label."),
        "class_names": _O(
            list,
            None,
            "Class names in label-id order; null: sorted labels found in train.",
            nullable=True,
        ),
        "delimiter": _O(
            str,
            None,
            "Field separator of csv/tsv files; null: comma (csv) or tab (tsv).",
            nullable=True,
        ),
        "validation_fraction": _O(
            float,
            0.1,
            "Share of train held out for validation when the source has none.",
            minimum=0.0,
            maximum=0.9,
        ),
        "test_fraction": _O(
            float,
            0.2,
            "Share of train held out for test when the source has none.",
            minimum=0.0,
            maximum=0.9,
        ),
        "size": _O(int, 5000, "Training reviews (synthetic only).", minimum=1),
        "test_size": _O(int, 1000, "Test reviews (synthetic only).", minimum=1),
        "distance": _O(
            int,
            10,
            "Neutral words after the deciding opinion: each review draws "
            "from [min_distance, 2 * distance] (synthetic only).",
            minimum=0,
        ),
        "min_distance": _O(
            int,
            0,
            "Fewest neutral words after the deciding opinion (synthetic only; "
            "at most 2 * distance).",
            minimum=0,
        ),
    },
    "text": {
        "max_tokens": _O(
            int,
            20000,
            "Vocabulary size, padding and out-of-vocabulary included.",
            minimum=3,
        ),
        "sequence_length": _O(
            int, 200, "Tokens per text after padding or truncation.", minimum=1
        ),
        "level": _O(str, "word", "Token unit.", choices=("word", "character")),
        "ngrams": _O(int, 1, "Largest n-gram added to the tokens.", choices=(1, 2)),
        "padding": _O(
            str, "post", "Where padding goes in short texts.", choices=("post", "pre")
        ),
        "truncation": _O(
            str,
            "post",
            "Which end of a long text is cut.",
            choices=("post", "pre"),
        ),
        "lowercase": _O(bool, True, "Lowercase texts (Unicode-aware)."),
        "strip_html": _O(bool, True, "Replace HTML tags and entities by spaces."),
        "strip_punctuation": _O(
            bool, True, "Drop apostrophes and replace punctuation by spaces."
        ),
        "bucketing": _O(
            bool, False, "Batch texts of similar length together (long texts)."
        ),
    },
    "model": {
        "embedding_dim": _O(int, 64, "Size of the token embedding.", minimum=1),
        "cell": _O(
            str,
            "lstm",
            "Recurrent cell; with impl textlstm each runs its fused fast path "
            "on TensorFlow (see layer.kernel_path).",
            choices=CELLS,
        ),
        "impl": _O(
            str,
            "textlstm",
            "textlstm: this package's layers; keras: keras.layers.LSTM/GRU/"
            "SimpleRNN (lstm, gru and simple_rnn only, for comparison).",
            choices=("textlstm", "keras"),
        ),
        "units": _O(
            int, 64, "Units of each recurrent layer (per direction).", minimum=1
        ),
        "layers": _O(int, 1, "Number of stacked recurrent layers.", minimum=1),
        "bidirectional": _O(bool, False, "Read each text in both directions."),
        "embedding_dropout": _O(
            float, 0.0, "Dropout on the embeddings.", minimum=0.0, maximum=0.95
        ),
        "dropout": _O(
            float,
            0.0,
            "Dropout on the inputs of the recurrent cells.",
            minimum=0.0,
            maximum=0.95,
        ),
        "recurrent_dropout": _O(
            float,
            0.0,
            "Dropout on the recurrent state (disables the fast kernels: slower).",
            minimum=0.0,
            maximum=0.95,
        ),
        "recurrent_l2": _O(
            float,
            0.0,
            "L2 penalty on the recurrent kernels (weight decay of h U).",
            minimum=0.0,
        ),
        "pooling": _O(
            str,
            "last",
            "How the sequence becomes one vector (all mask-aware).",
            choices=("last", "max", "mean", "max_mean", "attention"),
        ),
        "attention_units": _O(
            int,
            64,
            "Hidden size of the attention scorer (pooling: attention).",
            minimum=1,
        ),
        "head_units": _O(
            int, 0, "Hidden Dense layer before the softmax; 0: none.", minimum=0
        ),
        "head_activation": _O(
            str,
            "relu",
            "Activation of the hidden head layer.",
            choices=("relu", "gelu", "tanh", "swish"),
        ),
        "head_dropout": _O(
            float, 0.0, "Dropout before the output layer.", minimum=0.0, maximum=0.95
        ),
    },
    "train": {
        "optimizer": _O(
            str, "adam", "Optimizer.", choices=("adam", "adamw", "rmsprop", "sgd")
        ),
        "learning_rate": _O(float, 1e-3, "Initial learning rate.", minimum=0.0),
        "lr_schedule": _O(
            str,
            "constant",
            "constant; cosine: decays to 0 over the run; exponential: times "
            "lr_decay_rate every epoch.",
            choices=("constant", "cosine", "exponential"),
        ),
        "lr_decay_rate": _O(
            float,
            0.5,
            "Factor per epoch (lr_schedule: exponential).",
            minimum=0.0,
            maximum=1.0,
        ),
        "warmup_epochs": _O(
            float, 0.0, "Linear learning-rate warm-up, in epochs.", minimum=0.0
        ),
        "weight_decay": _O(float, 0.0, "Decoupled weight decay (adamw).", minimum=0.0),
        "momentum": _O(
            float, 0.9, "Momentum (sgd, rmsprop).", minimum=0.0, maximum=1.0
        ),
        "clipnorm": _O(
            float,
            None,
            "Clip each gradient to this L2 norm; null: no clipping.",
            nullable=True,
            minimum=0.0,
        ),
        "epochs": _O(int, 3, "Passes over the training set.", minimum=1),
        "batch_size": _O(int, 64, "Examples per batch.", minimum=1),
        "early_stopping_patience": _O(
            int,
            0,
            "Stop after this many epochs without improvement; 0: off.",
            minimum=0,
        ),
        "early_stopping_monitor": _O(
            str,
            "val_loss",
            "Quantity watched by early stopping.",
            choices=("val_loss", "val_accuracy"),
        ),
        "restore_best_weights": _O(
            bool,
            False,
            "End with the weights of the best epoch of early_stopping_monitor.",
        ),
        "mixed_precision": _O(
            bool, False, "Compute in float16 (mixed_float16 policy; GPUs)."
        ),
        "seed": _O(int, 42, "Seed of data splits, shuffling and initialization."),
        "deterministic": _O(
            bool,
            False,
            "Deterministic ops: same seed, same metrics and weights (slower).",
        ),
        "strategy": _O(
            str,
            "default",
            "tf.distribute strategy.",
            choices=("default", "mirrored", "multi_worker", "tpu"),
        ),
    },
}

_TOP_LEVEL = {
    "name": _O(str, "custom", "Name of the config; run folders are named after it."),
    "description": _O(str, "", "One line about what this config is for."),
}


# --------------------------------------------------------------------------- #
# Presets


def _presets_dir():
    return resources.files("textlstm.configs")


def list_presets() -> list[str]:
    """Names of the presets shipped in `textlstm/configs`, sorted.

    >>> "quickstart" in list_presets()
    True
    """
    return sorted(
        entry.name[: -len(".yaml")]
        for entry in _presets_dir().iterdir()
        if entry.name.endswith(".yaml")
    )


def preset_path(name: str) -> Path:
    """Path of the preset `name` (e.g. `"quickstart"`).

    Raises:
        ConfigError: no preset has that name.
    """
    entry = _presets_dir() / f"{name}.yaml"
    if not entry.is_file():
        raise ConfigError(
            f"config: no preset or file named {name!r} "
            f"(presets: {', '.join(list_presets())})"
        )
    return Path(str(entry))


# --------------------------------------------------------------------------- #
# Loading


def default_config() -> dict:
    """A config holding the default of every key.

    >>> default_config()["model"]["cell"]
    'lstm'
    """
    config = {key: option.default for key, option in _TOP_LEVEL.items()}
    for section, options in SCHEMA.items():
        config[section] = {key: option.default for key, option in options.items()}
    return config


def load_config(
    name_or_path: str | os.PathLike | None = "quickstart",
    overrides: Iterable[str] = (),
) -> dict:
    """Load a preset or YAML file, apply `--set` overrides and validate.

    Keys the file leaves out take their defaults; relative paths in the file
    (`data.train`, ...) resolve against the file's folder, so a preset can
    ship its data beside it. Relative paths given in `overrides` resolve
    against the current directory.

    Args:
        name_or_path: A preset name (see `list_presets()`), a path to a YAML
            file, or `None` for the defaults.
        overrides: `"section.key=value"` strings; values are parsed as YAML
            (`true`, `3`, `1e-3`, `null`) and type-checked.

    Returns:
        The resolved config: a nested dict with every key.

    Raises:
        ConfigError: missing file, bad YAML, unknown key, bad type or value.
    """
    raw, base = {}, Path.cwd()
    if name_or_path is not None:
        path = _locate(name_or_path)
        raw, base = _read_yaml(path), path.parent
        raw.setdefault("name", path.stem)
    config = _merge(default_config(), raw)
    bases = {key: base for key in _path_keys() if _get(raw, key) is not None}
    overrides = list(overrides)
    config = apply_overrides(config, overrides)
    for override in overrides:
        key = override.partition("=")[0].strip()
        if key in _path_keys():
            bases[key] = Path.cwd()
    config = _resolve_paths(config, bases)
    return validate_config(config)


def _locate(name_or_path) -> Path:
    text = str(name_or_path)
    looks_like_path = os.sep in text or "/" in text or text.endswith((".yaml", ".yml"))
    path = Path(text).expanduser()
    if path.is_file():
        return Path(os.path.abspath(path))
    if looks_like_path:
        raise ConfigError(f"config: file not found: {text}")
    return preset_path(text)


def _read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as file:
            raw = yaml.safe_load(file)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise ConfigError(f"config: {path}{where}: {problem}") from None
    except OSError as error:
        raise ConfigError(f"config: cannot read {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config: {path} is not UTF-8 text") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"config: {path} must hold a mapping of sections, got {type(raw).__name__}"
        )
    return raw


def _merge(config: dict, raw: Mapping) -> dict:
    """Copy `raw` over `config`, rejecting unknown sections and keys."""
    config = copy.deepcopy(config)
    for key, value in raw.items():
        if key in _TOP_LEVEL:
            config[key] = value
            continue
        if key not in SCHEMA:
            raise ConfigError(_unknown(str(key), [*_TOP_LEVEL, *SCHEMA]))
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping of keys, got {_show(value)}")
        for sub, sub_value in value.items():
            if sub not in SCHEMA[key]:
                raise ConfigError(
                    _unknown(f"{key}.{sub}", [f"{key}.{k}" for k in SCHEMA[key]])
                )
            config[key][sub] = sub_value
    return config


def _path_keys() -> dict[str, Option]:
    return {
        f"{section}.{key}": option
        for section, options in SCHEMA.items()
        for key, option in options.items()
        if option.path
    }


def _get(raw: Mapping, dotted: str):
    section, _, key = dotted.partition(".")
    values = raw.get(section)
    return values.get(key) if isinstance(values, Mapping) else None


def _resolve_paths(config: dict, bases: Mapping[str, Path]) -> dict:
    """Make relative paths absolute, each against the folder it came from."""
    source = config["data"].get("source")
    for dotted, option in _path_keys().items():
        section, _, key = dotted.partition(".")
        value = config[section][key]
        applies = option.path is True or source in option.path
        if applies and dotted in bases and isinstance(value, str) and value:
            config[section][key] = _absolute(value, bases[dotted])
    return config


def _absolute(value: str, base: Path) -> str:
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = base / path
    return os.path.normpath(path)


# --------------------------------------------------------------------------- #
# Overrides and validation


def apply_overrides(config: dict, overrides: Iterable[str]) -> dict:
    """Apply `"section.key=value"` overrides to a copy of `config`.

    >>> apply_overrides(default_config(), ["train.epochs=5"])["train"]["epochs"]
    5
    """
    config = copy.deepcopy(config)
    for override in overrides:
        key, sep, text = override.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {override!r}: expected key=value")
        value = _parse_value(text)
        if key in _TOP_LEVEL:
            config[key] = text if value is None else str(value)
            continue
        section, dot, sub = key.partition(".")
        every_key = [*_TOP_LEVEL, *(f"{s}.{k}" for s in SCHEMA for k in SCHEMA[s])]
        if not dot or section not in SCHEMA or sub not in SCHEMA[section]:
            raise ConfigError(_unknown(key, every_key))
        option = SCHEMA[section][sub]
        if option.type is str and value is not None and not isinstance(value, str):
            value = text.strip()  # `--set data.name=123` means the string "123"
        config[section][sub] = value
    return config


def _parse_value(text: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def validate_config(config: Mapping) -> dict:
    """Check every key of a full config; return a normalized copy.

    Numbers are normalized (an int given for a float key becomes a float),
    and cross-key rules are checked (for example `model.impl: keras` needs
    `model.cell` lstm, gru or simple_rnn).

    Raises:
        ConfigError: naming the first bad key, its value and what is allowed.
    """
    config = copy.deepcopy(dict(config))
    for key, option in _TOP_LEVEL.items():
        config[key] = _check(key, config.get(key, option.default), option)
    for section, options in SCHEMA.items():
        values = config.get(section)
        if not isinstance(values, Mapping):
            raise ConfigError(f"{section}: expected a mapping of keys")
        unknown = set(values) - set(options)
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(
                _unknown(f"{section}.{key}", [f"{section}.{k}" for k in options])
            )
        config[section] = {
            key: _check(f"{section}.{key}", values.get(key, option.default), option)
            for key, option in options.items()
        }
    extra = set(config) - set(_TOP_LEVEL) - set(SCHEMA)
    if extra:
        raise ConfigError(_unknown(sorted(extra)[0], [*_TOP_LEVEL, *SCHEMA]))
    _check_rules(config)
    return config


def _check(key: str, value, option: Option):
    if value is None:
        if option.nullable:
            return None
        raise ConfigError(f"{key}: null is not allowed (expected {_type_name(option)})")
    if option.type is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_show(value)}")
    elif option.type is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {_show(value)}")
    elif option.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {_show(value)}")
        value = float(value)
    elif option.type is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {_show(value)}")
    elif option.type is list:
        if not isinstance(value, list) or not all(
            isinstance(item, (str, int)) and not isinstance(item, bool)
            for item in value
        ):
            raise ConfigError(f"{key}: expected a list of names, got {_show(value)}")
        value = [str(item) for item in value]
    if option.choices is not None and value not in option.choices:
        allowed = ", ".join(str(choice) for choice in option.choices)
        raise ConfigError(f"{key}: {value!r} is not one of {allowed}")
    if option.minimum is not None and value < option.minimum:
        raise ConfigError(f"{key}: {value!r} is below the minimum {option.minimum}")
    if option.maximum is not None and value > option.maximum:
        raise ConfigError(f"{key}: {value!r} is above the maximum {option.maximum}")
    return value


def _check_rules(config: dict) -> None:
    model, data, train = config["model"], config["data"], config["train"]
    if model["impl"] == "keras" and model["cell"] not in KERAS_CELLS:
        allowed = f"{', '.join(KERAS_CELLS[:-1])} or {KERAS_CELLS[-1]}"
        raise ConfigError(
            f"model.impl: 'keras' needs model.cell {allowed} "
            f"(keras ships no {model['cell']!r}); use model.impl=textlstm"
        )
    if data["min_distance"] > 2 * data["distance"]:
        raise ConfigError(
            f"data.min_distance: {data['min_distance']} is more than "
            f"2 * data.distance = {2 * data['distance']}"
        )
    needs = {"directory": "path", "csv": "train", "tsv": "train", "jsonl": "train"}
    key = needs.get(data["source"])
    if key and not data[key]:
        raise ConfigError(
            f"data.{key}: required when data.source is {data['source']!r}"
        )
    if train["strategy"] in ("multi_worker", "tpu"):
        raise ConfigError(
            f"train.strategy: {train['strategy']!r} is not supported yet "
            "(supported: default, mirrored)"
        )


def _unknown(key: str, known: list[str]) -> str:
    section, dot, sub = key.partition(".")
    if dot and section in SCHEMA:
        # Match within the section: a shared "model." prefix is no evidence.
        keys = list(SCHEMA[section])
        close = difflib.get_close_matches(sub, keys, n=1, cutoff=0.6)
        if close:
            return f"{key}: unknown key; did you mean {section}.{close[0]}?"
        return f"{key}: unknown key; keys of {section}: {', '.join(keys)}"
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"{key}: unknown key{hint}"


def _show(value) -> str:
    return f"{value!r} ({type(value).__name__})"


def _type_name(option: Option) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number"}
    names[list] = "a list of names"
    return names.get(option.type, "a string")


def explicit_values(config: Mapping, section: str) -> dict:
    """The keys of `section` whose value differs from the default.

    Loaders that treat "not set" differently from "set to the default"
    (e.g. tfds feature names) get only what the user chose.

    >>> explicit_values(load_config(None, ["data.size=100"]), "data")
    {'size': 100}
    """
    return {
        key: value
        for key, value in config[section].items()
        if value != SCHEMA[section][key].default
    }


# --------------------------------------------------------------------------- #
# Writing and documentation


def dump_config(config: Mapping) -> str:
    """The config as YAML, sections in schema order (what `config.yaml` holds).

    >>> print(dump_config(default_config()).splitlines()[0])
    name: custom
    """
    ordered = {key: config.get(key) for key in _TOP_LEVEL}
    for section in SECTIONS:
        ordered[section] = dict(config[section])
    return yaml.safe_dump(ordered, sort_keys=False, default_flow_style=False)


def describe_schema() -> list[tuple[str, str, str, str]]:
    """Rows `(key, type, default, meaning)` of every key, for docs and `--keys`."""
    rows = []
    items = [(key, option) for key, option in _TOP_LEVEL.items()]
    items += [
        (f"{s}.{k}", o) for s, options in SCHEMA.items() for k, o in options.items()
    ]
    for key, option in items:
        if option.choices is not None:
            kind = " | ".join(str(choice) for choice in option.choices)
        else:
            kind = option.type.__name__ + (" or null" if option.nullable else "")
        default = yaml.safe_dump(option.default).strip().removesuffix("...").strip()
        rows.append((key, kind, default, option.doc))
    return rows
