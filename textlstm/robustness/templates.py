"""The behaviour tests: templates filled from the word lists.

`generate_tests(wording)` fills the templates below with the words of
`wordlists.py` and returns every test of every capability; `behaviour.py`
re-exports it with the rest of the API and scores models on the tests.
Generation is deterministic (no randomness): the same tests, cases and
counts on every call. No TensorFlow, no NumPy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from itertools import product

from textlstm.errors import ConfigError
from textlstm.robustness.wordlists import (
    INTENSIFIERS,
    PERSON_NAMES,
    WORDINGS,
    Wording,
)

__all__ = [
    "CAPABILITIES",
    "DIR_TOLERANCE",
    "NEGATIVE",
    "POSITIVE",
    "BehaviourTest",
    "Case",
    "generate_tests",
    "with_typo",
]

POSITIVE = "positive"
NEGATIVE = "negative"
#: The capabilities, in the order the tests are generated and reported.
CAPABILITIES = (
    "vocabulary",
    "negation",
    "contrast",
    "intensity",
    "invariance",
    "directional",
)
#: How far a DIR edit may move P(positive) the wrong way (CheckList's 0.1).
DIR_TOLERANCE = 0.1

PLAIN = "The {subject} was {adjective}."
PLAIN_TEMPLATES = (PLAIN, "I found the {subject} {adjective}.")
VERB_TEMPLATE = "I {past} the {subject}."
NEGATED_POSITIVE_TEMPLATES = (
    "The {subject} was not {adjective}.",
    "The {subject} wasn't {adjective} at all.",
    "I don't think the {subject} was {adjective}.",
)
NEGATED_NEGATIVE_TEMPLATES = (
    "The {subject} was never {adjective}.",
    "The {subject} was not {adjective} at all.",
)
NEGATED_VERB_TEMPLATES = (
    "I did not {verb} the {subject}.",
    "I can't say I {past} the {subject}.",
    "I didn't {verb} the {subject} at all.",
)
DISTANT_NEGATION_TEMPLATE = (
    "I don't think, given all the reviews I had read, "
    "that the {subject} was {adjective}."
)
CONTRAST_TEMPLATES = {
    "but": "The {subject} was {first}, but the {other} was {second}.",
    "although": "Although the {subject} was {first}, the {other} was {second}.",
    "however": "The {subject} was {first}; however, the {other} was {second}.",
}
INTENSIFIED = "The {subject} was {intensifier} {adjective}."
NAME_TEMPLATE = "{name} said the {subject} was {adjective}."
#: Endings of the punctuation test, in turn, in place of the final period.
PUNCTUATION_ENDINGS = ("", "!", "...", "!!!")


@dataclasses.dataclass(frozen=True)
class Case:
    """One case of a behaviour test.

    Attributes:
        text: The text the model reads.
        expected: MFT: `"positive"` or `"negative"`; None for INV and DIR.
        original: INV and DIR: the text before the edit; None for MFT.
    """

    text: str
    expected: str | None = None
    original: str | None = None


@dataclasses.dataclass(frozen=True)
class BehaviourTest:
    """A named set of cases that check one behaviour.

    Attributes:
        name: Short name, unique among the tests ("negated positive").
        capability: One of `CAPABILITIES`.
        kind: `"MFT"`, `"INV"` or `"DIR"` (see the module docstring).
        description: One sentence: what is checked and what passing means.
        cases: The cases, in a fixed order.
        direction: DIR only: `"up"` (P(positive) must not fall) or
            `"down"` (it must not rise).
        tolerance: DIR only: how far P(positive) may move the wrong way.
    """

    name: str
    capability: str
    kind: str
    description: str
    cases: tuple[Case, ...]
    direction: str | None = None
    tolerance: float = DIR_TOLERANCE


def generate_tests(wording: str = "movie") -> list[BehaviourTest]:
    """Every behaviour test, filled from the word lists of one wording.

    Args:
        wording: `"movie"` (film, acting, plot) or `"general"` (product,
            service, staff, delivery).

    Returns:
        The tests, grouped by capability in the order of `CAPABILITIES`;
        the same tests and cases on every call.

    Raises:
        ConfigError: `wording` is not one of the wordings.

    Example:

    >>> tests = generate_tests("movie")
    >>> test = next(t for t in tests if t.name == "negated positive")
    >>> test.kind, len(test.cases), test.cases[0]
    ('MFT', 240, Case(text='The movie was not good.', expected='negative', original=None))
    """  # noqa: E501
    if wording not in WORDINGS:
        raise ConfigError(f"wording: {wording!r} is not one of {', '.join(WORDINGS)}")
    words = WORDINGS[wording]
    return [
        *_vocabulary(words),
        *_negation(words),
        *_contrast(words),
        *_intensity(words),
        *_invariance(words),
        *_directional(words),
    ]


def with_typo(text: str, protected: Iterable[str] = ()) -> str:
    """`text` with two adjacent inner letters of its longest word swapped.

    The word is the longest of at least four letters that is not in
    `protected` (compared in lowercase; the first one on a tie); its first
    and last letters stay, so a reader still recognises it. The letters
    swapped are the first pair of different ones from the middle on (then
    from the middle back: "green" -> "geren").

    Args:
        text: The text.
        protected: Words that must not change (the sentiment words).

    Returns:
        The text with the typo; `text` itself when no word qualifies.

    >>> with_typo("The acting was awful.", protected={"awful"})
    'The acitng was awful.'
    >>> with_typo("It was bad.")
    'It was bad.'
    """
    protected = {word.lower() for word in protected}
    words = text.split(" ")
    # (length, -position): the longest word, the first one on a tie.
    candidates = [
        (len(core), -index)
        for index, word in enumerate(words)
        if len(core := word.rstrip(".,;:!?")) >= 4
        and core.isalpha()
        and core.lower() not in protected
    ]
    if not candidates:
        return text
    index = -max(candidates)[1]
    core = words[index].rstrip(".,;:!?")
    middle = (len(core) - 1) // 2
    for left in (*range(middle, len(core) - 2), *range(middle - 1, 0, -1)):
        if core[left] != core[left + 1]:
            swapped = core[:left] + core[left + 1] + core[left] + core[left + 2 :]
            words[index] = swapped + words[index][len(core) :]
            return " ".join(words)
    return text


def _mft(
    name: str, capability: str, description: str, texts: list[str], expected: str
) -> BehaviourTest:
    cases = tuple(Case(text, expected=expected) for text in texts)
    return BehaviourTest(name, capability, "MFT", description, cases)


def _pairs(
    name: str,
    capability: str,
    description: str,
    pairs: Iterable[tuple[str, str]],
    direction: str | None = None,
) -> BehaviourTest:
    cases = tuple(Case(edited, original=original) for original, edited in pairs)
    kind = "INV" if direction is None else "DIR"
    return BehaviourTest(name, capability, kind, description, cases, direction)


def _fill(
    templates: Sequence[str], subjects: Sequence[str], fillings: Sequence[dict]
) -> list[str]:
    """Every template with every subject and every filling, in that order."""
    return [
        template.format(subject=subject, **filling)
        for template in templates
        for subject in subjects
        for filling in fillings
    ]


def _filled_tests(
    capability: str, subjects: Sequence[str], specs: Iterable[tuple]
) -> list[BehaviourTest]:
    """One MFT per `(name, description, templates, fillings, expected)`."""
    return [
        _mft(name, capability, description, _fill(templates, subjects, fill), label)
        for name, description, templates, fill, label in specs
    ]


def _adjectives(adjectives: Sequence[str]) -> list[dict]:
    return [{"adjective": adjective} for adjective in adjectives]


def _verbs(verbs: Sequence[tuple[str, str]]) -> list[dict]:
    return [{"verb": verb, "past": past} for verb, past in verbs]


def _cycled(items: Sequence[str], index: int) -> str:
    return items[index % len(items)]


def _vocabulary(words: Wording) -> list[BehaviourTest]:
    good = _adjectives(words.positive_adjectives)
    bad = _adjectives(words.negative_adjectives)
    liking, disliking = _verbs(words.positive_verbs), _verbs(words.negative_verbs)
    return _filled_tests(
        "vocabulary",
        words.subjects,
        (
            (
                "positive adjectives",
                "A plain positive adjective makes a positive text.",
                *(PLAIN_TEMPLATES, good, POSITIVE),
            ),
            (
                "negative adjectives",
                "A plain negative adjective makes a negative text.",
                *(PLAIN_TEMPLATES, bad, NEGATIVE),
            ),
            (
                "positive verbs",
                "A verb of liking ('I loved ...') makes a positive text.",
                *((VERB_TEMPLATE,), liking, POSITIVE),
            ),
            (
                "negative verbs",
                "A verb of disliking ('I hated ...') makes a negative text.",
                *((VERB_TEMPLATE,), disliking, NEGATIVE),
            ),
        ),
    )


def _negation(words: Wording) -> list[BehaviourTest]:
    good = _adjectives(words.positive_adjectives)
    bad = _adjectives(words.negative_adjectives)
    liking = _verbs(words.positive_verbs)
    return _filled_tests(
        "negation",
        words.subjects,
        (
            (
                "negated positive",
                "A negated positive adjective ('not good') is negative.",
                *(NEGATED_POSITIVE_TEMPLATES, good, NEGATIVE),
            ),
            (
                "negated negative",
                "A negated negative adjective ('never boring', 'not bad at "
                "all') is positive: CheckList reads it as positive or neutral, "
                "and a two-class model has no neutral.",
                *(NEGATED_NEGATIVE_TEMPLATES, bad, POSITIVE),
            ),
            (
                "negated positive verb",
                "A negated verb of liking ('did not enjoy', 'can't say I "
                "enjoyed') is negative.",
                *(NEGATED_VERB_TEMPLATES, liking, NEGATIVE),
            ),
            (
                "negation at a distance",
                "A negation ten words before the positive adjective it "
                "negates still makes the text negative.",
                *((DISTANT_NEGATION_TEMPLATE,), good, NEGATIVE),
            ),
        ),
    )


def _contrast(words: Wording) -> list[BehaviourTest]:
    """One test per connective and order: the clause after `but` or
    `however`, and the main clause after an `although` clause, decides.
    The two clauses talk about subjects half the list apart ("movie" and
    "story", never "movie" and "film")."""
    pairs = list(product(words.positive_adjectives, words.negative_adjectives))
    half = len(words.subjects) // 2
    orders = (
        ("neg then pos", NEGATIVE, POSITIVE),
        ("pos then neg", POSITIVE, NEGATIVE),
    )
    tests = []
    for connective, template in CONTRAST_TEMPLATES.items():
        for order, first, second in orders:
            texts = []
            for index, (good, bad) in enumerate(pairs):
                adjective = {POSITIVE: good, NEGATIVE: bad}
                texts.append(
                    template.format(
                        subject=_cycled(words.subjects, index),
                        first=adjective[first],
                        other=_cycled(words.subjects, index + half),
                        second=adjective[second],
                    )
                )
            description = (
                f"'{connective}' between a {first} and a {second} opinion: the "
                f"{'main clause' if connective == 'although' else 'second one'}"
                f" decides ({second})."
            )
            tests.append(
                _mft(f"{connective}: {order}", "contrast", description, texts, second)
            )
    return tests


def _intensity(words: Wording) -> list[BehaviourTest]:
    tests = []
    for polarity, adjectives in (
        (POSITIVE, words.positive_adjectives),
        (NEGATIVE, words.negative_adjectives),
    ):
        pairs = []
        for index, (adjective, intensifier) in enumerate(
            product(adjectives, INTENSIFIERS)
        ):
            fill = {"subject": _cycled(words.subjects, index), "adjective": adjective}
            edited = INTENSIFIED.format(intensifier=intensifier, **fill)
            pairs.append((PLAIN.format(**fill), edited))
        tests.append(
            _mft(
                f"intensified {polarity}",
                "intensity",
                f"An intensified {polarity} adjective ('very ...') is {polarity}.",
                [edited for _, edited in pairs],
                polarity,
            )
        )
        direction = "up" if polarity == POSITIVE else "down"
        tests.append(
            _pairs(
                f"intensifier on {polarity}",
                "intensity",
                f"An intensifier before a {polarity} adjective must not "
                f"{'lower' if direction == 'up' else 'raise'} P(positive).",
                pairs,
                direction,
            )
        )
    return tests


def _base_texts(words: Wording) -> list[str]:
    """'The {subject} was {adjective}.' for every subject and adjective:
    the originals of the edits of the invariance and directional tests."""
    adjectives = words.positive_adjectives + words.negative_adjectives
    return _fill((PLAIN,), words.subjects, _adjectives(adjectives))


def _swaps(
    template: str, names: Sequence[str], slot: str, words: Wording
) -> list[tuple[str, str]]:
    """`template` with each of `names` in `slot`, then with the next name,
    for every adjective (the subjects in turn)."""
    adjectives = words.positive_adjectives + words.negative_adjectives
    pairs = []
    for index, (position, adjective) in enumerate(
        product(range(len(names)), adjectives)
    ):
        fill = {"subject": _cycled(words.subjects, index), "adjective": adjective}
        pairs.append(
            (
                template.format(**fill, **{slot: names[position]}),
                template.format(**fill, **{slot: _cycled(names, position + 1)}),
            )
        )
    return pairs


def _invariance(words: Wording) -> list[BehaviourTest]:
    base = _base_texts(words)
    fillers = [
        f"{text} {_cycled(words.fillers, index)}"
        if index % 2 == 0
        else f"{_cycled(words.fillers, index)} {text}"
        for index, text in enumerate(base)
    ]
    punctuated = [
        text.removesuffix(".") + _cycled(PUNCTUATION_ENDINGS, index)
        for index, text in enumerate(base)
    ]
    cased = [
        text.upper() if i % 2 == 0 else text.lower() for i, text in enumerate(base)
    ]
    return [
        _pairs(
            "person names",
            "invariance",
            "Another person's name does not change the label.",
            _swaps(NAME_TEMPLATE, PERSON_NAMES, "name", words),
        ),
        _pairs(
            words.title_kind,
            "invariance",
            f"Other {words.title_kind} do not change the label.",
            _swaps(words.title_template, words.titles, "title", words),
        ),
        _pairs(
            "neutral filler",
            "invariance",
            "A neutral sentence before or after does not change the label.",
            zip(base, fillers),
        ),
        _pairs(
            "punctuation",
            "invariance",
            "No final period, '!', '...' or '!!!' does not change the label.",
            zip(base, punctuated),
        ),
        _pairs(
            "case",
            "invariance",
            "Upper or lower case does not change the label.",
            zip(base, cased),
        ),
        _pairs(
            "typo",
            "invariance",
            "Two swapped letters in the longest neutral word do not change the label.",
            ((text, with_typo(text, words.sentiment_words)) for text in base),
        ),
    ]


def _directional(words: Wording) -> list[BehaviourTest]:
    base = _base_texts(words)
    tests = []
    for polarity, sentences, direction in (
        (POSITIVE, words.positive_sentences, "up"),
        (NEGATIVE, words.negative_sentences, "down"),
    ):
        pairs = [
            (text, f"{text} {_cycled(sentences, index)}")
            for index, text in enumerate(base)
        ]
        tests.append(
            _pairs(
                f"{polarity} sentence added",
                "directional",
                f"Adding a clearly {polarity} sentence must not "
                f"{'lower' if direction == 'up' else 'raise'} P(positive).",
                pairs,
                direction,
            )
        )
    return tests
