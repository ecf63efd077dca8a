"""Checks of config values against `textlstm.config.schema`: types, choices,
ranges and the rules across keys of one section.

Every message names the key, the bad value and what is allowed. Like the
schema, this module imports no TensorFlow.

>>> from textlstm.config.schema import KERAS_CELLS, SCHEMA
>>> check_value("text.ngrams", 3, SCHEMA["text"]["ngrams"])
Traceback (most recent call last):
...
textlstm.errors.ConfigError: text.ngrams: 3 is not one of 1, 2
"""

from __future__ import annotations

from collections.abc import Mapping

from textlstm.config.options import Option
from textlstm.config.schema import KERAS_CELLS, SCHEMA
from textlstm.errors import ConfigError

__all__ = ["check_keys", "check_rules", "check_value", "show_value"]


def check_value(key: str, value, option: Option):
    """Check one value against its option; return it normalized.

    An integral float given for an `int` key becomes an int, a number given
    for a `float` key a float, and list items strings.

    Args:
        key: The dotted key, for the message (`"text.ngrams"`).
        value: The value to check.
        option: The key's row of `SCHEMA`.

    Raises:
        ConfigError: naming the key, the bad value and what is allowed.
    """
    if value is None:
        if option.nullable:
            return None
        raise ConfigError(f"{key}: null is not allowed (expected {_type_name(option)})")
    if option.auto and value == "auto":
        return value
    if option.type is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {show_value(value)}")
    elif option.type is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(
                f"{key}: expected {_expected(option)}, got {show_value(value)}"
            )
    elif option.type is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(
                f"{key}: expected {_expected(option)}, got {show_value(value)}"
            )
        value = float(value)
    elif option.type is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {show_value(value)}")
    elif option.type is list:
        if not isinstance(value, list) or not all(
            isinstance(item, (str, int)) and not isinstance(item, bool)
            for item in value
        ):
            raise ConfigError(
                f"{key}: expected a list of names, got {show_value(value)}"
            )
        value = [str(item) for item in value]
    if option.choices is not None and value not in option.choices:
        allowed = ", ".join(str(choice) for choice in option.choices)
        raise ConfigError(f"{key}: {value!r} is not one of {allowed}")
    if option.minimum is not None and value < option.minimum:
        raise ConfigError(f"{key}: {value!r} is below the minimum {option.minimum}")
    if option.maximum is not None and value > option.maximum:
        raise ConfigError(f"{key}: {value!r} is above the maximum {option.maximum}")
    return value


def show_value(value) -> str:
    """A value and its type, as error messages show it: `'abc' (str)`."""
    return f"{value!r} ({type(value).__name__})"


def _expected(option: Option) -> str:
    """What a value of `option` must be: `"a number"`, `"a number or auto"`."""
    return _type_name(option) + (" or auto" if option.auto else "")


def _type_name(option: Option) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number"}
    names[list] = "a list of names"
    return names.get(option.type, "a string")


def check_keys(section: str, values: Mapping) -> dict:
    """Every key of `section` checked, missing ones taking their defaults.

    Keys the schema does not know are left out (the caller decides whether
    they are an error).

    >>> check_keys("text", {"ngrams": 2.0})["ngrams"]
    2
    """
    return {
        key: check_value(f"{section}.{key}", values.get(key, option.default), option)
        for key, option in SCHEMA[section].items()
    }


def check_rules(section: str, values: Mapping) -> None:
    """The rules of `section` that involve several keys (of checked values).

    >>> from textlstm.config.schema import defaults
    >>> check_rules("data", {**defaults("data"), "source": "csv"})
    Traceback (most recent call last):
    ...
    textlstm.errors.ConfigError: data.train: required when data.source is 'csv'
    """
    rules = _RULES.get(section)
    if rules is not None:
        rules(values)


def _model_rules(model: Mapping) -> None:
    if model["impl"] == "keras" and model["cell"] not in KERAS_CELLS:
        allowed = f"{', '.join(KERAS_CELLS[:-1])} or {KERAS_CELLS[-1]}"
        raise ConfigError(
            f"model.impl: 'keras' needs model.cell {allowed} "
            f"(keras ships no {model['cell']!r}); use model.impl=textlstm"
        )
    if model.get("embeddings") and model.get("init_from"):
        raise ConfigError(
            "model.embeddings: give it or model.init_from, not both (a "
            "pretrained encoder brings its own embeddings)"
        )


def _data_rules(data: Mapping) -> None:
    if data["min_distance"] > 2 * data["distance"]:
        raise ConfigError(
            f"data.min_distance: {data['min_distance']} is more than "
            f"2 * data.distance = {2 * data['distance']}"
        )
    if data["pair_edits"] and not data["pairs"]:
        raise ConfigError(
            "data.pair_edits: needs data.pairs (the originals, row by row)"
        )
    needs = {"directory": "path", "csv": "train", "tsv": "train", "jsonl": "train"}
    key = needs.get(data["source"])
    if key and not data[key]:
        raise ConfigError(
            f"data.{key}: required when data.source is {data['source']!r}"
        )


def _train_rules(train: Mapping) -> None:
    for key in ("adversarial", "gradual_unfreezing", "pair_loss"):
        if train[key] and train["strategy"] != "default":
            raise ConfigError(
                f"train.{key}: needs train.strategy default (one device), "
                f"not {train['strategy']!r}"
            )
    if train["pair_loss"] and train["adversarial"]:
        raise ConfigError(
            "train.pair_loss: cannot be combined with train.adversarial "
            "(each replaces the training step)"
        )


_RULES = {"model": _model_rules, "data": _data_rules, "train": _train_rules}
