"""A pretrained encoder into a classifier: `model.init_from: RUN_DIR`.

`textlstm pretrain` leaves in its run folder `encoder.npz` (the weights of
the embedding and recurrent layers, by layer name: `embedding/0`,
`lstm_1/0`, ...), `vectorizer.json` (how its vectorizer reads texts) and
`vocab.txt`. A classifier config naming that folder in `model.init_from`
reads its texts with the same vocabulary (`pretrained_vectorizer`, called
where the vectorizer would be adapted) and starts its layers of the same
names from those weights (`init_encoder`, right after the model is built).
Both first check that the two configs describe the same encoder and the
same tokens; a mismatch is a one-line `RunError` naming the key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import keras
import numpy as np

from textlstm import text
from textlstm.runs import RunError, atomic_path, read_config_file

__all__ = [
    "ENCODER_FILE",
    "VECTORIZER_FILE",
    "encoder_layer_names",
    "init_encoder",
    "pretrained_vectorizer",
    "save_encoder",
]

#: The encoder's weights in a pretrain run folder, by layer name.
ENCODER_FILE = "encoder.npz"
#: The pretrain vectorizer's settings (its vocabulary is `vocab.txt`).
VECTORIZER_FILE = "vectorizer.json"
# The keys that fix the encoder's weights: shapes and what they compute.
_ENCODER_KEYS = ("cell", "embedding_dim", "units", "layers", "bidirectional")
# The keys that fix the tokens the embedding rows stand for.
_TOKEN_KEYS = (
    "max_tokens",
    "level",
    "ngrams",
    "lowercase",
    "strip_html",
    "strip_punctuation",
)
# Per-text settings the classifier keeps its own of.
_OWN_TEXT_KEYS = ("sequence_length", "padding", "truncation")


def encoder_layer_names(model: Mapping) -> list[str]:
    """The names of the layers an encoder shares with a classifier.

    >>> encoder_layer_names({"cell": "gru", "layers": 2})
    ['embedding', 'gru_1', 'gru_2']
    """
    return ["embedding"] + [f"{model['cell']}_{i + 1}" for i in range(model["layers"])]


def save_encoder(layers: Mapping[str, keras.layers.Layer], path) -> Path:
    """Write the weights of `layers` (name -> layer) to an `.npz`, atomically.

    The arrays are named `<layer name>/<weight index>`, in the order of
    `layer.get_weights()`.
    """
    arrays = {
        f"{name}/{index}": np.asarray(weight)
        for name, layer in layers.items()
        for index, weight in enumerate(layer.get_weights())
    }
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as file:
            np.savez(file, **arrays)
    return Path(path)


def pretrained_vectorizer(
    config: Mapping, text_section: Mapping | None = None
) -> keras.layers.Layer | None:
    """The vectorizer of `model.init_from`'s run, or None when it is null.

    It has the pretrain run's vocabulary and standardization, and the
    classifier's own `text.sequence_length`, `padding` and `truncation`.

    Args:
        config: The classifier's config (as given: `auto` sizes are not
            compared).
        text_section: Its `text` section with `auto` sizes resolved
            (default `config["text"]`).

    Raises:
        RunError: the folder is no pretrain run, or its config differs in
            a key that fixes the encoder or the tokens.
    """
    run_dir = config["model"]["init_from"]
    if run_dir is None:
        return None
    run_dir = _check_run(config, run_dir)
    settings = json.loads((run_dir / VECTORIZER_FILE).read_text(encoding="utf-8"))
    vocabulary = text.read_vocabulary(run_dir / "vocab.txt")
    own = text_section or config["text"]
    settings.update({key: own[key] for key in _OWN_TEXT_KEYS})
    settings["vocabulary"] = vocabulary[2:]  # without padding and [UNK]
    vectorizer = text.TextVectorizer.from_config(settings)
    if vectorizer.get_vocabulary(include_special_tokens=True) != vocabulary:
        raise RunError(
            f"model.init_from: {run_dir / 'vocab.txt'} is not a vocabulary of "
            "textlstm pretrain (padding and [UNK] first)"
        )
    return vectorizer


def init_encoder(model: keras.Model, config: Mapping) -> bool:
    """Load `model.init_from`'s encoder weights into `model`'s layers.

    The embedding and recurrent layers are matched by name (see
    `encoder_layer_names`) and every weight by shape. Does nothing when
    `model.init_from` is null.

    Returns:
        Whether weights were loaded.

    Raises:
        RunError: the folder is no pretrain run, or the encoders differ.
    """
    run_dir = config["model"]["init_from"]
    if run_dir is None:
        return False
    run_dir = _check_run(config, run_dir)
    file = run_dir / ENCODER_FILE
    with np.load(file) as arrays:
        saved = {name: arrays[name] for name in arrays.files}
    for name in encoder_layer_names(config["model"]):
        layer = model.get_layer(name)
        own = layer.get_weights()
        values = [saved.get(f"{name}/{index}") for index in range(len(own))]
        for index, (value, mine) in enumerate(zip(values, own)):
            if value is None or value.shape != mine.shape:
                found = "nothing" if value is None else f"shape {value.shape}"
                raise RunError(
                    f"model.init_from: {file} has {found} for {name}/{index}, "
                    f"the classifier's weight has shape {mine.shape}"
                )
        layer.set_weights(values)
    return True


def _check_run(config: Mapping, run_dir) -> Path:
    """The pretrain run folder, checked against `config` (one-line errors)."""
    run_dir = Path(run_dir)
    if not all((run_dir / name).is_file() for name in (ENCODER_FILE, VECTORIZER_FILE)):
        raise RunError(
            f"model.init_from: {run_dir} is not a pretrain run folder "
            "(encoder weights missing)"
        )
    pretrained = read_config_file(run_dir / "config.yaml")
    keys = [("model", key) for key in _ENCODER_KEYS]
    keys += [("text", key) for key in _TOKEN_KEYS]
    for section, key in keys:
        mine, theirs = config[section][key], pretrained[section][key]
        if mine != theirs and mine != "auto":
            raise RunError(
                f"model.init_from: {section}.{key} is {_show(mine)}, "
                f"the pretrained encoder has {_show(theirs)} ({run_dir})"
            )
    return run_dir


def _show(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
