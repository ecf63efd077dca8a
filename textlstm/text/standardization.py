"""Text standardization: the cleaning every vectorizer applies first.

`standardize_text` lowercases, strips HTML and punctuation and collapses
every Unicode space with stock `tf.strings` ops only, so the same rules run
in training, inside the exported SavedModel and on TF Serving. The rules are
versioned (`STANDARDIZER_VERSION`): a vectorizer saved with older rules keeps
them. `text_config` fills in the `text` section of a config from
`textlstm.config.schema`.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from textlstm.config import section_config
from textlstm.config.schema import defaults

#: The `text` section's defaults, derived from `textlstm.config.schema`.
TEXT_DEFAULTS: dict[str, Any] = defaults("text")

# RE2 patterns (tf.strings.regex_replace).
_HTML_TAG = r"</?[A-Za-z][^<>]*>"
_HTML_ENTITY = r"&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z]+);"
_APOSTROPHE = r"['\x{2019}]"
# Unicode punctuation plus the ASCII symbols Keras strips; emoji are kept.
_PUNCTUATION = r"[\p{P}$+<=>^`|~]"
#: The standardization rules new vectorizers use. A vectorizer saved before
#: versions existed loads as version 1, so an old run predicts as before.
STANDARDIZER_VERSION = 2
# Word separators of each version. RE2's `\s` is ASCII-only: version 1 kept
# U+00A0, U+2003, U+3000, U+2028... inside words; version 2 adds every
# Unicode separator (`\p{Z}`: Zs spaces, Zl line and Zp paragraph separators).
_SPACES = {
    1: r"[\s\p{Cc}\p{Cf}]+",
    2: r"[\s\p{Z}\p{Cc}\p{Cf}]+",
}
#: Every version of the rules a vectorizer can be saved with.
STANDARDIZER_VERSIONS = tuple(_SPACES)

__all__ = [
    "STANDARDIZER_VERSION",
    "STANDARDIZER_VERSIONS",
    "TEXT_DEFAULTS",
    "standardize",
    "standardize_text",
    "text_config",
]


def text_config(text: dict | None = None) -> dict[str, Any]:
    """Return the `text` config with defaults filled in and values checked.

    The defaults and checks are the schema's (`textlstm.config.schema`), so a
    value is refused here with the message `load_config` gives.

    Args:
        text: A possibly partial `text` config dict (or `None`).

    Returns:
        A new dict with every key of the `text` section.

    Raises:
        ConfigError: (a `ValueError`) naming the key, the bad value and the
            allowed values.

    Example:

    >>> text_config({"padding": "pre"})["padding"], text_config()["max_tokens"]
    ('pre', 20000)
    >>> text_config({"ngrams": 3})
    Traceback (most recent call last):
    ...
    textlstm.errors.ConfigError: text.ngrams: 3 is not one of 1, 2
    """
    return section_config("text", text)


def standardize_text(
    texts: tf.Tensor,
    *,
    lowercase: bool = True,
    strip_html: bool = True,
    strip_punctuation: bool = True,
    version: int = STANDARDIZER_VERSION,
) -> tf.Tensor:
    """Clean a string tensor of any shape with stock `tf.strings` ops.

    Invalid UTF-8 is replaced (U+FFFD), so arbitrary bytes never fail.
    Whitespace, every Unicode space and line or paragraph separator, and
    control and format characters collapse to single spaces (version 2;
    version 1 split on ASCII whitespace only). No NFKC normalization: stock
    TensorFlow has no normalization op (tensorflow-text's is a custom op that
    stock TF Serving cannot load), and the standardization must run
    unchanged inside the SavedModel.

    Args:
        texts: `tf.string` tensor (or anything convertible to one).
        lowercase: Lowercase, Unicode-aware.
        strip_html: Replace HTML tags such as `<br />` and entities by spaces.
        strip_punctuation: Drop apostrophes (`don't` -> `dont`) and replace
            other punctuation by spaces.
        version: The rules' version (`STANDARDIZER_VERSION`, or 1).

    Returns:
        A `tf.string` tensor of the same shape.

    Example:

    >>> standardize_text(["A <b>Great</b> film!"], lowercase=False).numpy()
    array([b'A Great film'], dtype=object)
    >>> standardize_text(["great\u00a0film"]).numpy(), standardize_text(
    ...     ["great\u00a0film"], version=1).numpy()
    (array([b'great film'], dtype=object), array([b'great\xc2\xa0film'], dtype=object))
    """
    if version not in _SPACES:
        raise ValueError(f"standardizer version {version!r} is not one of 1, 2")
    space = _SPACES[version]
    texts = tf.convert_to_tensor(texts, dtype=tf.string)
    texts = tf.strings.unicode_transcode(
        texts, "UTF-8", "UTF-8", errors="replace", replace_control_characters=False
    )
    # Before lower(): its UTF-8 path stops at the first NUL character.
    texts = tf.strings.regex_replace(texts, space, " ")
    if strip_html:
        texts = tf.strings.regex_replace(texts, _HTML_TAG, " ")
        texts = tf.strings.regex_replace(texts, _HTML_ENTITY, " ")
    if lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    if strip_punctuation:
        texts = tf.strings.regex_replace(texts, _APOSTROPHE, "")
        texts = tf.strings.regex_replace(texts, _PUNCTUATION, " ")
    texts = tf.strings.regex_replace(texts, space, " ")
    return tf.strings.strip(texts)


@keras.saving.register_keras_serializable(package="textlstm")
def standardize(texts: tf.Tensor) -> tf.Tensor:
    """The default standardization: lowercase, no HTML, no punctuation.

    Registered with Keras, so it can also be given to a plain
    `keras.layers.TextVectorization(standardize=standardize)` that survives
    `.keras` save and load.

    Args:
        texts: `tf.string` tensor of any shape.

    Returns:
        The standardized `tf.string` tensor, same shape.

    Example:

    >>> standardize(["I <br />didn't LIKE it...  at all!"]).numpy()
    array([b'i didnt like it at all'], dtype=object)
    """
    return standardize_text(texts)
