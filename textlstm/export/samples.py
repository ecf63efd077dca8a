"""The sample texts every export is verified on (TensorFlow-free)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["sample_texts"]


def sample_texts(vocabulary: Sequence[str], count: int = 100, seed: int = 0) -> list:
    """Texts that exercise an export: in-vocabulary word salads and the edge
    cases of SPEC §8 (empty, 100k characters, non-ASCII, control characters,
    HTML, invalid UTF-8 bytes).

    Returns:
        A list of `bytes` (UTF-8, except the deliberately invalid ones).

    >>> texts = sample_texts(["", "[UNK]", "good", "film"], count=3)
    >>> len(texts), texts[3], texts[-3]
    (23, b'', b'\\xff\\xfe\\xfd')
    """
    rng = np.random.default_rng(seed)
    words = [w for w in vocabulary[2:] if w] or ["film"]
    texts = [
        " ".join(rng.choice(words, size=int(rng.integers(1, 60)))) for _ in range(count)
    ]
    long_words = " ".join(rng.choice(words, size=30_000))[:100_000]
    edge = [
        "",
        " ",
        "\t\n\r  \n",
        long_words,
        "x" * 100_000,
        ("ünïcödé " * 15_000)[:100_000],
        "日本語のレビュー、とても良い映画でした",
        "Très bon film, naïve façade — «quel régal»",
        "فيلم رائع جدا",
        "👍🏽🎬🍿 great 😡",
        "e\u0301 combining, zero\u200bwidth, bidi \u202e override",
        "\x00",
        "good\x00film\x00",
        "\x01\x02\x07\x08\x1b[31mred\x1b[0m\x7f",
        "<br /><b>bold</b> &amp; &#169; <script>x</script>",
        "\ufeffbom and \u2028line separator\u2029",
        " ".join(words[:5]).upper(),
    ]
    encoded = [text.encode("utf-8") for text in texts + edge]
    encoded += [b"\xff\xfe\xfd", b"ok \xc3\x28 broken", b"\xed\xa0\x80 surrogate"]
    return encoded
