"""Configuration: the schema of every key, YAML presets, `--set` overrides
and validation.

A config is a plain nested dict (`name`, `description` and the sections
`data`, `text`, `model`, `train`, `pretrain`, `export`); `schema.py` declares
each key once (type, default, allowed values, meaning), `validation.py`
checks values against it, and `loading.py` reads presets and files, applies
overrides and resolves paths. Errors name the key, the bad value and the
allowed values (`ConfigError`, exit 2).

What it may import: `textlstm.errors` only. No TensorFlow (a test checks),
so config errors answer at once, before any heavy import.
"""

from textlstm.config.loading import (
    CELLS,
    DATA_FILE_PRESET,
    KERAS_CELLS,
    SCHEMA,
    SECTIONS,
    ConfigError,
    Option,
    apply_overrides,
    data_file_overrides,
    default_config,
    describe_schema,
    dump_config,
    explicit_values,
    list_presets,
    load_config,
    preset_path,
    section_config,
    validate_config,
)

__all__ = [
    "CELLS",
    "ConfigError",
    "DATA_FILE_PRESET",
    "KERAS_CELLS",
    "Option",
    "SCHEMA",
    "SECTIONS",
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
