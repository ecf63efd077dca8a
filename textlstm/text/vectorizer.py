"""The vectorizer layer: strings to token ids, saved with the model.

Strings become token ids inside a Keras layer, `TextVectorizer`, so the
preprocessing is saved with the model (`.keras`) and exported with it: it is
built only from stock TensorFlow string and ragged ops, no custom ops.
Token id 0 is padding and id 1 the out-of-vocabulary token `[UNK]`; a model
starting with `Embedding(mask_zero=True)` therefore masks the padding, so
padding never changes a prediction, whichever side it is on.

The `text` section of the config, every key with its default, allowed
values and meaning: `textlstm configs --keys` (the `text.*` rows, from
`textlstm.config.schema`). A partial section takes the defaults (`text_config`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from textlstm.runs import write_text
from textlstm.text.standardization import (
    STANDARDIZER_VERSION,
    STANDARDIZER_VERSIONS,
    standardize_text,
    text_config,
)

__all__ = [
    "TextVectorizer",
    "build_vectorizer",
    "pad_ragged",
    "read_vocabulary",
    "write_vocabulary",
]

# The layer's constructor defaults are the config's, read from the schema.
_DEFAULTS = text_config()


@keras.saving.register_keras_serializable(package="textlstm")
class TextVectorizer(keras.layers.TextVectorization):
    """Strings to fixed-length token ids, with pre- or post-padding.

    A `keras.layers.TextVectorization` that standardizes with
    `standardize_text`, pads and truncates on either side, and saves its
    configuration and vocabulary with the model. Id 0 is padding, 1 `[UNK]`.
    Usually built with `build_vectorizer(text_config, train_texts)`.

    Each argument but `vocabulary` defaults to the `text` config key of the
    same name (`textlstm configs --keys`) and is checked like it.

    Args:
        max_tokens: Vocabulary size including padding and `[UNK]`.
        sequence_length: Length of every output row.
        level: `"word"` or `"character"`.
        ngrams: `1` (words only) or `2` (bigrams appended after the words).
        lowercase: Lowercase the text.
        strip_html: Replace HTML tags and entities by spaces.
        strip_punctuation: Drop apostrophes, replace punctuation by spaces.
        padding: `"post"` pads at the end, `"pre"` at the start.
        truncation: `"post"` keeps the first `sequence_length` tokens,
            `"pre"` the last ones.
        vocabulary: Optional list of tokens (no padding or `[UNK]`) instead
            of `adapt()`.
        standardizer_version: The standardization rules
            (`STANDARDIZER_VERSION`; a layer saved before versions existed
            loads as 1, the rules it was trained with).
        **kwargs: Base layer arguments (`name`, ...).

    Call arguments:
        inputs: `tf.string` tensor of shape `[batch]` (or `[batch, 1]`).

    Returns:
        `int64` tensor of shape `[batch, sequence_length]`.

    Example:

    >>> layer = TextVectorizer(sequence_length=4, padding="pre")
    >>> layer.adapt(["good film", "bad film"])
    >>> layer(["a GOOD film!"]).numpy()
    array([[0, 1, 3, 2]])
    """

    def __init__(
        self,
        max_tokens: int = _DEFAULTS["max_tokens"],
        sequence_length: int = _DEFAULTS["sequence_length"],
        level: str = _DEFAULTS["level"],
        ngrams: int = _DEFAULTS["ngrams"],
        lowercase: bool = _DEFAULTS["lowercase"],
        strip_html: bool = _DEFAULTS["strip_html"],
        strip_punctuation: bool = _DEFAULTS["strip_punctuation"],
        padding: str = _DEFAULTS["padding"],
        truncation: str = _DEFAULTS["truncation"],
        vocabulary=None,
        standardizer_version: int = STANDARDIZER_VERSION,
        **kwargs,
    ):
        if standardizer_version not in STANDARDIZER_VERSIONS:
            raise ValueError(
                f"standardizer_version {standardizer_version!r} is not one of "
                f"{', '.join(map(str, STANDARDIZER_VERSIONS))}"
            )
        for name in ("vocabulary_size", "standardize", "split", "output_mode"):
            kwargs.pop(name, None)  # a TextVectorization config, not ours
        config = text_config(
            {
                "max_tokens": max_tokens,
                "sequence_length": sequence_length,
                "level": level,
                "ngrams": ngrams,
                "lowercase": lowercase,
                "strip_html": strip_html,
                "strip_punctuation": strip_punctuation,
                "padding": padding,
                "truncation": truncation,
            }
        )
        for key in ("max_tokens", "sequence_length"):
            if config[key] == "auto":
                raise ValueError(
                    f"{key}='auto' is chosen from the training texts: resolve it "
                    "with textlstm.text.sizing.resolve_text_sizes, or give a number"
                )
        super().__init__(
            max_tokens=config["max_tokens"],
            standardize=None,
            split="whitespace" if config["level"] == "word" else "character",
            ngrams=config["ngrams"] if config["ngrams"] > 1 else None,
            output_mode="int",
            ragged=True,  # padded and truncated in call(), on either side
            vocabulary=vocabulary,
            **kwargs,
        )
        self.sequence_length = config["sequence_length"]
        self.level = config["level"]
        self.ngram_width = config["ngrams"]
        self.lowercase = config["lowercase"]
        self.strip_html = config["strip_html"]
        self.strip_punctuation = config["strip_punctuation"]
        self.padding = config["padding"]
        self.truncation = config["truncation"]
        self.standardizer_version = standardizer_version

    def standardize(self, texts) -> tf.Tensor:
        """Apply this layer's standardization to a string tensor."""
        return standardize_text(
            texts,
            lowercase=self.lowercase,
            strip_html=self.strip_html,
            strip_punctuation=self.strip_punctuation,
            version=self.standardizer_version,
        )

    def update_state(self, data):
        super().update_state(self.standardize(data))

    def token_ids(self, inputs) -> tf.RaggedTensor:
        """All token ids of each text, before padding and truncation."""
        return super().call(self.standardize(inputs))

    def call(self, inputs):
        ids = self.token_ids(inputs)
        return pad_ragged(ids, self.sequence_length, self.padding, self.truncation)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.sequence_length)

    def get_config(self):
        config = keras.layers.Layer.get_config(self)
        config.update(
            {
                "max_tokens": self._lookup_layer.max_tokens,
                "sequence_length": self.sequence_length,
                "level": self.level,
                "ngrams": self.ngram_width,
                "lowercase": self.lowercase,
                "strip_html": self.strip_html,
                "strip_punctuation": self.strip_punctuation,
                "padding": self.padding,
                "truncation": self.truncation,
                "vocabulary": _listify(self._lookup_layer.input_vocabulary),
                "standardizer_version": self.standardizer_version,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        # Saved before the rules were versioned: the first rules.
        return cls(**{"standardizer_version": 1, **config})


def _listify(vocabulary):
    if vocabulary is None or isinstance(vocabulary, str):
        return vocabulary
    if tf.is_tensor(vocabulary):
        vocabulary = vocabulary.numpy()
    return [v.decode() if isinstance(v, bytes) else str(v) for v in vocabulary]


def pad_ragged(
    ids: tf.RaggedTensor, length: int, padding: str = "post", truncation: str = "post"
) -> tf.Tensor:
    """Truncate and pad ragged rows of ids to a dense `[batch, length]` tensor.

    Args:
        ids: `tf.RaggedTensor` of shape `[batch, None]`.
        length: Output row length.
        padding: `"post"` (zeros after the ids) or `"pre"` (zeros before).
        truncation: `"post"` keeps the first `length` ids, `"pre"` the last.

    Returns:
        A dense tensor of `ids.dtype`, padded with 0.

    Example:

    >>> ids = tf.ragged.constant([[1, 2, 3], [4]])
    >>> pad_ragged(ids, 2, padding="pre", truncation="pre").numpy()
    array([[2, 3],
           [0, 4]], dtype=int32)
    """
    ids = ids[:, :length] if truncation == "post" else ids[:, -length:]
    dense = ids.to_tensor(default_value=0, shape=[None, length])
    if padding == "post":
        return dense
    # Shift each row right by its amount of padding.
    shift = length - tf.cast(ids.row_lengths(), tf.int32)
    source = tf.range(length)[tf.newaxis, :] - shift[:, tf.newaxis]
    shifted = tf.gather(dense, tf.maximum(source, 0), batch_dims=1)
    return tf.where(source >= 0, shifted, tf.zeros_like(shifted))


def build_vectorizer(
    text: dict,
    train_texts: tf.data.Dataset,
    standardizer_version: int = STANDARDIZER_VERSION,
) -> keras.layers.Layer:
    """Build a `TextVectorizer` from the `text` config and adapt it.

    Args:
        text: The `text` config (partial dicts take the defaults).
        train_texts: A `tf.data.Dataset` of string scalars, or of
            `(text, label)` pairs (the labels are ignored), unbatched.
        standardizer_version: The standardization rules (an older run
            resumed keeps its own).

    Returns:
        The adapted layer: `tf.string [batch]` -> `int64 [batch, sequence_length]`.

    Example:

    >>> ds = tf.data.Dataset.from_tensor_slices(["a good film", "a bad film"])
    >>> vectorizer = build_vectorizer({"sequence_length": 5}, ds)
    >>> vectorizer(["a good one"]).numpy()
    array([[3, 4, 1, 0, 0]])
    """
    config = text_config(text)
    vectorizer = TextVectorizer(
        **{k: v for k, v in config.items() if k != "bucketing"},
        standardizer_version=standardizer_version,
        name="vectorizer",
    )
    if isinstance(train_texts.element_spec, tuple):
        train_texts = train_texts.map(lambda text, *_: text)
    vectorizer.adapt(train_texts.batch(1024))
    return vectorizer


def write_vocabulary(vectorizer, path) -> int:
    """Write the vocabulary, one token per line, atomically.

    Line `i` (counting from 0) is the token with id `i`: line 0 is the empty
    padding token, line 1 `[UNK]`. The file is written to a temporary name in
    the same folder and renamed (`runs.write_text`), so a crash never leaves
    half a file.

    Args:
        vectorizer: A `TextVectorizer` or `keras.layers.TextVectorization`.
        path: The file to write.

    Returns:
        The vocabulary size (number of lines).

    Example:

    >>> import pathlib, tempfile
    >>> layer = TextVectorizer()
    >>> layer.adapt(["b a b"])
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "vocab.txt"
    >>> write_vocabulary(layer, path), path.read_text().split("\\n")
    (4, ['', '[UNK]', 'b', 'a', ''])
    """
    vocabulary = vectorizer.get_vocabulary(include_special_tokens=True)
    write_text(path, "".join(f"{token}\n" for token in vocabulary))
    return len(vocabulary)


def read_vocabulary(path) -> list[str]:
    """Read a file written by `write_vocabulary` (line `i` = token id `i`).

    Args:
        path: The vocabulary file.

    Returns:
        The tokens, padding (`""`) and `[UNK]` included.
    """
    with open(path, encoding="utf-8", newline="\n") as f:
        return f.read().split("\n")[:-1]
