"""Run configuration: YAML presets, `--set` overrides, validation.

A config is a plain nested dict: `name`, `description` and the sections
`data`, `text`, `model`, `train` and `pretrain`. Every key has a type, a
default and a documented meaning in `SCHEMA` (declared in `textlstm.config.schema`,
printed by `textlstm configs --keys`); this module is the API over it, and
the one place other modules take defaults and checks from
(`section_config`). It never imports TensorFlow or Keras, so a bad config
is rejected in milliseconds, before any heavy import or data loading.

Example:

>>> config = load_config("quickstart", overrides=["model.units=16"])
>>> config["model"]["units"], config["data"]["source"]
(16, 'synthetic')
>>> load_config("quickstart", overrides=["model.cell=lsmt"])
Traceback (most recent call last):
...
textlstm.errors.ConfigError: model.cell: 'lsmt' is not one of lstm, gru, ...
"""

from __future__ import annotations

import copy
import difflib
import os
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

import yaml

from textlstm.config.schema import (
    CELLS,
    KERAS_CELLS,
    SCHEMA,
    SECTIONS,
    TOP_LEVEL,
    Option,
    defaults,
)
from textlstm.config.validation import check_keys, check_rules, check_value, show_value
from textlstm.errors import ConfigError

__all__ = [
    "CELLS",
    "ConfigError",
    "KERAS_CELLS",
    "Option",
    "SCHEMA",
    "SECTIONS",
    "DATA_FILE_PRESET",
    "apply_overrides",
    "data_file_overrides",
    "default_config",
    "describe_schema",
    "dump_config",
    "explicit_values",
    "list_presets",
    "load_config",
    "preset_path",
    "section_config",
    "validate_config",
]

#: The sections with rules across keys, in the order `validate_config`
#: checks them (so a config with two such errors always reports the same).
_RULE_ORDER = ("model", "data", "train")


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
    config = {key: option.default for key, option in TOP_LEVEL.items()}
    for section in SCHEMA:
        config[section] = defaults(section)
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
        if key in TOP_LEVEL:
            config[key] = value
            continue
        if key not in SCHEMA:
            raise ConfigError(_unknown(str(key), [*TOP_LEVEL, *SCHEMA]))
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"{key}: expected a mapping of keys, got {show_value(value)}"
            )
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


#: The preset `textlstm fit --data FILE` uses unless `--config` names one.
DATA_FILE_PRESET = "text_classifier"
_DATA_FILE_SOURCES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl"}


def data_file_overrides(path: str | os.PathLike) -> list[str]:
    """The `--set` overrides that train on one file (`textlstm fit --data`).

    The source comes from the extension (`.csv`, `.tsv`/`.tab`, `.jsonl`,
    each optionally `.gz`); validation and test are held out of the file.

    >>> data_file_overrides("reviews.tsv.gz")[:2]
    ['data.source=tsv', 'data.train=...reviews.tsv.gz']

    Raises:
        ConfigError: the extension names no format.
    """
    file = Path(path)
    suffixes = [s.lower() for s in file.suffixes[-2:]]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    source = _DATA_FILE_SOURCES.get(suffixes[-1] if suffixes else "")
    if source is None:
        raise ConfigError(
            f"--data {path}: cannot tell the format from the extension "
            "(.csv, .tsv, .jsonl, optionally .gz; or use --set data.source=...)"
        )
    return [
        f"data.source={source}",
        f"data.train={file.resolve()}",
        "data.validation=null",
        "data.test=null",
    ]


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
        if key in TOP_LEVEL:
            config[key] = text if value is None else str(value)
            continue
        section, dot, sub = key.partition(".")
        every_key = [*TOP_LEVEL, *(f"{s}.{k}" for s in SCHEMA for k in SCHEMA[s])]
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
    for key, option in TOP_LEVEL.items():
        config[key] = check_value(key, config.get(key, option.default), option)
    for section, options in SCHEMA.items():
        # A section added since a run's config.yaml was written takes its defaults.
        values = config.get(section, {})
        if not isinstance(values, Mapping):
            raise ConfigError(f"{section}: expected a mapping of keys")
        unknown = set(values) - set(options)
        if unknown:
            key = sorted(unknown)[0]
            raise ConfigError(
                _unknown(f"{section}.{key}", [f"{section}.{k}" for k in options])
            )
        config[section] = check_keys(section, values)
    extra = set(config) - set(TOP_LEVEL) - set(SCHEMA)
    if extra:
        raise ConfigError(_unknown(sorted(extra)[0], [*TOP_LEVEL, *SCHEMA]))
    for section in _RULE_ORDER:
        check_rules(section, config[section])
    if config["train"]["pair_loss"] and not config["data"]["pairs"]:
        raise ConfigError(
            "train.pair_loss: needs data.pairs (the pairs whose two texts it "
            "pulls apart)"
        )
    return config


def section_config(section: str, values: Mapping | None = None) -> dict:
    """One section with its defaults filled in and checked as in a config.

    The library's way in for code that holds one section, not a whole
    config (`text.text_config`, `data.data_config`): the same checks and
    messages as `load_config`, from the same schema. Keys the schema does
    not know are kept, unchecked, after the known ones.

    Args:
        section: `"data"`, `"text"`, `"model"` or `"train"`.
        values: A possibly partial dict of the section (or `None`).

    Returns:
        A new dict with every key of the section, normalized.

    Raises:
        ConfigError: naming the key, the bad value and what is allowed.

    Example:

    >>> section_config("text", {"ngrams": 2})["ngrams"]
    2
    >>> section_config("data", {"validation_fraction": 0.95})
    Traceback (most recent call last):
    ...
    textlstm.errors.ConfigError: data.validation_fraction: 0.95 is above the maximum 0.9
    """
    values = dict(values or {})
    config = check_keys(section, values)
    check_rules(section, config)
    config.update((key, value) for key, value in values.items() if key not in config)
    return config


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
    ordered = {key: config.get(key) for key in TOP_LEVEL}
    for section in SECTIONS:
        ordered[section] = dict(config[section])
    return yaml.safe_dump(ordered, sort_keys=False, default_flow_style=False)


def describe_schema() -> list[tuple[str, str, str, str]]:
    """Rows `(key, type, default, meaning)` of every key, for docs and `--keys`."""
    rows = []
    items = [(key, option) for key, option in TOP_LEVEL.items()]
    items += [
        (f"{s}.{k}", o) for s, options in SCHEMA.items() for k, o in options.items()
    ]
    for key, option in items:
        if option.choices is not None:
            kind = " | ".join(str(choice) for choice in option.choices)
        else:
            kind = option.type.__name__ + (" or null" if option.nullable else "")
            kind += " or auto" if option.auto else ""
        default = yaml.safe_dump(option.default).strip().removesuffix("...").strip()
        rows.append((key, kind, default, option.doc))
    return rows
