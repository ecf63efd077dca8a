"""Counterfactual pairs made automatically from a two-class training split.

Pairs of a text and its minimal edit with the other label teach a model to
read the words that carry a label instead of recognising texts (an actor, a
topic). They are made without people, after Wang & Culotta (2021,
"Robustness to Spurious Correlations in Text Classification via
Automatically Generated Counterfactuals") and Yang et al. (2021, "Exploring
the Efficacy of Automatically Generated Counterfactuals for Sentiment
Analysis"): `PolarityLexicon.fit` learns the words that carry each class
(the weighted log-odds ratio with an informative Dirichlet prior of Monroe,
Colaresi & Quinn 2008, "Fightin' Words"); `counterfactual` flips those of a
text by dropping a negation ("isn't bad" -> "is bad"), by an antonym from
`ANTONYMS` ("Great" -> "Terrible") or by putting in "not" ("would
recommend" -> "would not recommend"), keeps the rest of the text (case,
punctuation, whitespace, HTML) as it was, and keeps the edit if it flipped
enough and the lexicon's polarity of the new text points to the other label.
Plain Python and NumPy: no TensorFlow.

>>> texts = ["a great film", "great acting", "a bad film", "bad acting"]
>>> lexicon = PolarityLexicon.fit(texts, [1, 1, 0, 0], min_count=2, min_zscore=0)
>>> lexicon.words_for(1), lexicon.words_for(0)
(['great'], ['bad'])
>>> made = counterfactual("The acting was GREAT.", 1, lexicon)
>>> made.text, made.label, made.edits
('The acting was TERRIBLE.', 0, [('GREAT', 'TERRIBLE')])
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Hashable, Iterable, Sequence
from typing import NamedTuple

import numpy as np

from textlstm.errors import DataError

__all__ = [
    "ANTONYMS",
    "NEGATION_SCOPE",
    "Counterfactual",
    "PolarityLexicon",
    "WordSpan",
    "counterfactual",
    "make_counterfactuals",
    "summarize_counterfactuals",
    "word_spans",
]

#: A word (letters, inner apostrophes: "isn't") in group 1; HTML tags are
#: matched first and skipped, so `<br />` gives no word "br".
_TOKEN = re.compile(r"<[^<>]*>|([^\W\d_]+(?:['’][^\W\d_]+)*)")
#: Text between two words that ends a negation's scope.
_CLAUSE_BREAK = re.compile(r"[.,;:!?()\[\]\"<>]")
#: Text before a capitalised word that makes it a sentence's first word.
_SENTENCE_START = re.compile(r"[.!?:;\"(<>]")
#: How many words after a negation it turns ("not a very good": "good").
NEGATION_SCOPE = 3
_NEGATORS = frozenset("not no never cannot nor nothing none nobody hardly".split())
_AUXILIARIES = "is was are were do does did could would should has have had must"
#: Negations `counterfactual` drops for what is left of them ("": nothing).
_DROPPED_NEGATION = {
    **{"not": "", "never": "", "cannot": "can", "can't": "can", "won't": "will"},
    **{f"{base}n't": base for base in _AUXILIARIES.split()},
    **{f"{base}nt": base for base in ("is", "was", "do", "does", "did")},
}
#: Words after which "not" negates what follows ("is good" -> "is not good").
_TAKES_NOT = frozenset(
    "is was are were am do does did could would should must will can might may "
    "it's that's there's he's she's i'm you're we're they're".split()
)
#: Words that may stand between such a word and the one "not" negates.
_INTENSIFIERS = frozenset("very so really quite truly extremely highly too".split())
# positive:negative pairs of sentiment words with one sense: "like", "original",
# "moving", "fine" are also common in a neutral sense, so they are left out.
_ANTONYM_PAIRS = """
good:bad better:worse best:worst great:terrible excellent:awful wonderful:horrible
brilliant:dreadful amazing:atrocious fantastic:horrendous superb:abysmal terrific:horrid
outstanding:mediocre admirable:pathetic perfect:flawed love:hate loved:hated loves:hates
liked:disliked enjoy:dislike enjoyed:loathed enjoyable:unenjoyable beautiful:ugly
gorgeous:hideous lovely:ghastly stunning:drab funny:unfunny hilarious:humorless
masterpiece:disaster gem:dud treasure:garbage triumph:disappointment winner:loser
joy:misery delight:torment pleasure:chore exciting:boring entertained:bored
gripping:dull fascinating:tedious entertaining:tiresome interesting:uninteresting
delighted:disappointed rewarding:disappointing pleasant:unpleasant happy:unhappy
strong:weak strongest:weakest superior:inferior well:poorly nicely:badly
perfectly:terribly wonderfully:horribly beautifully:clumsily brilliantly:dreadfully
superbly:abysmally fortunately:unfortunately happily:sadly right:wrong clever:stupid
smart:dumb sensible:silly reasonable:ridiculous cool:lame classy:cheesy vibrant:bland
graceful:awkward splendid:poor charming:irritating endearing:annoying
meaningful:pointless worthwhile:worthless memorable:forgettable believable:unbelievable
convincing:unconvincing realistic:unrealistic plausible:implausible coherent:incoherent
competent:incompetent talented:untalented impressive:unimpressive impressed:unimpressed
inspired:uninspired inspiring:uninspiring imaginative:unimaginative
satisfying:unsatisfying satisfied:dissatisfied pleased:displeased
successful:unsuccessful succeeds:fails succeeded:failed effective:ineffective
appealing:unappealing likable:unlikable likeable:unlikeable sympathetic:unsympathetic
watchable:unwatchable bearable:unbearable unpredictable:predictable
unpretentious:pretentious underrated:overrated necessary:unnecessary fresh:stale
genuine:fake brisk:slow consistent:inconsistent reliable:unreliable sturdy:flimsy
comfortable:uncomfortable useful:useless helpful:unhelpful durable:fragile
efficient:inefficient positive:negative fun:dreary powerful:feeble solid:shaky
marvel:mess nice:lousy natural:wooden beauty:ugliness unique:generic tribute:insult
awesome:appalling magnificent:wretched remarkable:unremarkable
"""
#: Sentiment antonyms, both ways ("great" -> "terrible", "terrible" -> "great").
ANTONYMS: dict[str, str] = {
    word: other
    for pair in _ANTONYM_PAIRS.split()
    for word, other in (pair.split(":"), pair.split(":")[::-1])
}


class WordSpan(NamedTuple):
    """A word of a text, `text[start:end] == word`; `key` is how the
    lexicon and the rules look it up (lower case, straight apostrophe)."""

    start: int
    end: int
    word: str
    key: str


def _key(word: str) -> str:
    return word.lower().replace("’", "'")


def word_spans(text: str) -> list[WordSpan]:
    """The words of `text` and where they are, HTML tags skipped.

    Args:
        text: Any text; numbers, punctuation and tags are not words.

    Returns:
        The words in order; replacing spans in place keeps the rest of the
        text as it was.

    >>> [span.word for span in word_spans("It isn't bad.<br />Really!")]
    ['It', "isn't", 'bad', 'Really']
    """
    return [
        WordSpan(match.start(1), match.end(1), match.group(1), _key(match.group(1)))
        for match in _TOKEN.finditer(text)
        if match.group(1)
    ]


def _match_case(word: str, model: str) -> str:
    """`word` as `model` is written: all capitals, capitalised or lower."""
    if len(model) > 1 and model.isupper():
        return word.upper()
    return word[:1].upper() + word[1:] if model[:1].isupper() else word


def _is_negator(key: str) -> bool:
    return key in _NEGATORS or key.endswith("n't") or key in _DROPPED_NEGATION


def _negation_scope(text: str, words: list[WordSpan]) -> list[int | None]:
    """For each word, the index of the negation that turns it, or None."""
    scope, negator = [], None
    for i, word in enumerate(words):
        gap = text[words[i - 1].end : word.start] if i else ""
        if _CLAUSE_BREAK.search(gap) or word.key == "but":
            negator = None
        if negator is not None and i - negator > NEGATION_SCOPE:
            negator = None
        scope.append(None if _is_negator(word.key) else negator)
        negator = i if _is_negator(word.key) else negator
    return scope


@dataclasses.dataclass
class PolarityLexicon:
    """Words that carry each of two classes, learned from a training split.

    Args:
        words: Word (lower case) -> polarity, its log-odds ratio between
            the classes: positive for the positive class.
        positive: The positive class's label.
        negative: The other class's label.
        zscores: Word -> z-score of its log-odds (how sure the ranking is).
        settings: How it was fitted.
    """

    words: dict[str, float]
    positive: Hashable = 1
    negative: Hashable = 0
    zscores: dict[str, float] = dataclasses.field(default_factory=dict)
    settings: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        texts: Iterable[str],
        labels: Iterable[Hashable],
        *,
        positive: Hashable = 1,
        min_count: int = 5,
        size: int = 500,
        min_zscore: float = 3.0,
        prior: float = 0.1,
    ) -> PolarityLexicon:
        """Learn the words of each class (Monroe et al. 2008).

        A word counts once per text (lower case; negations are left out:
        they turn other words). Its prior is `prior` times its count in the
        split, so a rare word cannot get a large log-odds ratio.

        Args:
            texts: The training texts.
            labels: Their labels: two classes, one of them `positive` (else
                a `DataError`).
            positive: The label whose words get a positive polarity.
            min_count: Fewest texts a word must be in to be kept.
            size: Most words kept per class, the highest z-scores first.
            min_zscore: Smallest z-score of a kept word.
            prior: Strength of the prior (pseudo-texts per text).

        Returns:
            The lexicon (the same data give the same lexicon).
        """
        texts, labels = list(texts), [_plain(label) for label in labels]
        if len(texts) != len(labels):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        positive, classes = _plain(positive), sorted(set(labels), key=repr)
        if len(classes) != 2 or positive not in classes:
            raise DataError(
                f"training labels: counterfactuals need two classes, one of them "
                f"{positive!r} (the positive class); found {classes[:5]!r}"
            )
        negative = classes[1] if classes[0] == positive else classes[0]
        counts = {positive: collections.Counter(), negative: collections.Counter()}
        for text, label in zip(texts, labels):
            keys = {_key(word) for word in _TOKEN.findall(text) if word}
            counts[label].update(key for key in keys if not _is_negator(key))
        vocabulary = sorted(counts[positive].keys() | counts[negative].keys())
        pos = np.array([counts[positive][word] for word in vocabulary], float)
        neg = np.array([counts[negative][word] for word in vocabulary], float)
        delta, z = _log_odds(pos, neg, prior)
        kept: list[int] = []
        for sign in (1, -1):
            # A stable sort of the alphabetical vocabulary: ties go by word.
            ranked = np.argsort(-sign * z, kind="stable")
            sure = sign * z[ranked] >= max(min_zscore, 1e-9)
            kept += ranked[sure & (pos + neg >= min_count)[ranked]][:size].tolist()
        settings = {"min_count": min_count, "size": size, "min_zscore": min_zscore}
        return cls(
            {vocabulary[i]: float(delta[i]) for i in sorted(kept)},
            positive,
            negative,
            {vocabulary[i]: float(z[i]) for i in sorted(kept)},
            {**settings, "prior": prior, "texts": len(texts)},
        )

    def words_for(self, label: Hashable) -> list[str]:
        """The words of the class `label`, the surest (highest z-score) first."""
        sign = {self.positive: 1, self.negative: -1}[_plain(label)]
        words = [word for word, value in self.words.items() if value * sign > 0]
        return sorted(words, key=lambda word: (-abs(self.zscores.get(word, 0)), word))

    def polarity(self, word: str) -> float:
        """The word's log-odds ratio (> 0: positive class); 0 if not kept."""
        return self.words.get(_key(word), 0.0)

    def score(self, text: str) -> float:
        """The text's net polarity: its words', turned after a negation."""
        return _net_polarity(text, self.words)

    def to_dict(self) -> dict:
        """A JSON-ready copy (labels as given) that `from_dict` reads back."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PolarityLexicon:
        """The lexicon that `to_dict` described."""
        return cls(**data)


def _plain(label: Hashable) -> Hashable:
    """A NumPy scalar label as the Python value (so it is JSON-ready)."""
    return label.item() if isinstance(label, np.generic) else label


def _log_odds(pos: np.ndarray, neg: np.ndarray, prior: float) -> tuple:
    """Each word's log-odds ratio and its z-score (Monroe et al. 2008), from
    its counts in the two classes."""
    if prior <= 0:
        raise ValueError(f"prior must be positive, got {prior!r}")
    alpha = prior * (pos + neg)
    n_pos, n_neg, alpha0 = pos.sum(), neg.sum(), alpha.sum()
    log_pos = np.log((pos + alpha) / (n_pos + alpha0 - pos - alpha))
    delta = log_pos - np.log((neg + alpha) / (n_neg + alpha0 - neg - alpha))
    return delta, delta / np.sqrt(1 / (pos + alpha) + 1 / (neg + alpha))


def _net_polarity(text: str, polarities: dict[str, float]) -> float:
    """The sum of the words' polarities, turned after a negation."""
    words = word_spans(text)
    turns = [1 if negator is None else -1 for negator in _negation_scope(text, words)]
    return float(sum(polarities.get(w.key, 0.0) * t for w, t in zip(words, turns)))


@dataclasses.dataclass(frozen=True)
class Counterfactual:
    """A text edited to carry the other label.

    Attributes:
        text, label: The edited text and its label (the other class).
        source_label: The label of the text it was made from.
        edits: `(old, new)` words in text order: `("great", "terrible")`,
            `("is", "is not")` ("not" put in), `("not", "")` (dropped).
        index: Its source's index in the texts of `make_counterfactuals`.
    """

    text: str
    label: Hashable
    source_label: Hashable
    edits: list[tuple[str, str]]
    index: int | None = None


def counterfactual(
    text: str,
    label: Hashable,
    lexicon: PolarityLexicon,
    *,
    min_polarity: float = 0.5,
    min_share: float = 0.5,
) -> Counterfactual | None:
    """Flip the words of `text` that carry `label`; None if that fails.

    A word carries the label if its polarity, turned after a negation,
    agrees with it and is at least `min_polarity` (a capitalised word inside
    a sentence is a name and is left alone). The first rule that applies
    flips it: drop the negation before it, swap it for its antonym, or put
    "not" after the copula or auxiliary before it (not before "-ly").

    Args:
        text: The source text; only the flipped words change.
        label: Its label, the lexicon's positive or negative one.
        lexicon: Which words carry which class.
        min_polarity: Smallest size of a carrier's polarity (log-odds).
        min_share: Share of the carriers' polarity that must be flipped.

    Returns:
        The `Counterfactual`; None if too little could be flipped or the
        lexicon's polarity of the new text (where an antonym it lacks counts
        as minus the word replaced) does not point to the other label.

    >>> lexicon = PolarityLexicon({"good": 1.2, "bad": -1.2, "worth": 0.8})
    >>> counterfactual("Not good! It isn't worth it.", 0, lexicon).text
    'Good! It is worth it.'
    >>> counterfactual("It is worth it.", 1, lexicon).text
    'It is not worth it.'
    """
    label, words = _plain(label), word_spans(text)
    if label not in (lexicon.positive, lexicon.negative):
        raise ValueError(
            f"label {label!r} is neither of the lexicon's labels "
            f"({lexicon.positive!r}, {lexicon.negative!r})"
        )
    sign = 1 if label == lexicon.positive else -1
    changes, flipped, carried = _plan(text, words, lexicon.words, sign, min_polarity)
    if not flipped or flipped < min_share * carried:
        return None
    swapped = [words[i].key for i in changes if words[i].key in ANTONYMS]
    implied = {ANTONYMS[key]: -lexicon.polarity(key) for key in swapped}
    edited = _apply(text, words, changes)
    if _net_polarity(edited, {**implied, **lexicon.words}) * sign >= 0:
        return None
    target = lexicon.negative if sign == 1 else lexicon.positive
    edits = [(words[i].word, new) for i, new in sorted(changes.items())]
    return Counterfactual(edited, target, label, edits)


def _plan(text: str, words: list, polarities: dict, sign: int, floor: float) -> tuple:
    """Word index -> new word, the polarity flipped and the polarity carried."""
    scope = _negation_scope(text, words)
    replacements, flipped, carried = {}, 0.0, 0.0
    for i, word in enumerate(words):
        polarity = polarities.get(word.key, 0.0)
        turned = polarity if scope[i] is None else -polarity
        if turned * sign <= 0 or abs(polarity) < floor:
            continue
        gap = text[words[i - 1].end : word.start] if i else "."
        if word.word.istitle() and not _SENTENCE_START.search(gap):
            continue  # a name ("Will Smith") or a title ("Bad Boys")
        carried += abs(polarity)
        edit = _flip(text, words, i, scope[i])
        if edit is not None:
            replacements.setdefault(*edit)
            flipped += abs(polarity)
    return replacements, flipped, carried


def _flip(text: str, words: list, i: int, negator: int | None) -> tuple | None:
    """The edit `(word index, new word)` that flips word `i`, if one does."""
    if negator is not None and words[negator].key in _DROPPED_NEGATION:
        old = words[negator]
        return negator, _match_case(_DROPPED_NEGATION[old.key], old.word)
    if words[i].key in ANTONYMS:
        return i, _match_case(ANTONYMS[words[i].key], words[i].word)
    j = i - 2 if i > 1 and words[i - 1].key in _INTENSIFIERS else i - 1
    if negator is not None or j < 0 or words[j].key not in _TAKES_NOT:
        return None
    between = text[words[j].end : words[i].start]
    if words[i].key.endswith("ly") or _CLAUSE_BREAK.search(between):
        return None
    old = words[j].word
    return j, f"{old} {'NOT' if len(old) > 1 and old.isupper() else 'not'}"


def _apply(text: str, words: list[WordSpan], replacements: dict[int, str]) -> str:
    """`text` with word `i` replaced by `replacements[i]` ("" drops it)."""
    edits = []
    for i, new in replacements.items():
        start, end, old, _ = words[i]
        if new == "":
            # Drop one space with the word, the one after it if there is one.
            if text[end : end + 1].isspace():
                end += 1
            elif start and text[start - 1].isspace():
                start -= 1
            if old.istitle() and i + 1 < len(words) and i + 1 not in replacements:
                # "Not good!" -> "Good!": the next word starts the sentence.
                after = words[i + 1].start
                edits.append((after, after + 1, text[after].upper()))
        edits.append((start, end, new))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def make_counterfactuals(
    texts: Sequence[str],
    labels: Sequence[Hashable],
    lexicon: PolarityLexicon,
    *,
    rate: float = 1.0,
    seed: int = 0,
    **options: float,
) -> list[Counterfactual]:
    """Counterfactuals of a random share of the training texts.

    Args:
        texts: The training texts.
        labels: Their labels (the lexicon's two).
        lexicon: Which words carry which class, e.g. fitted on these texts.
        rate: Share of the texts to try (0..1), drawn at random.
        seed: Seed of the draw; the same seed gives the same counterfactuals.
        **options: `min_polarity` and `min_share`, as in `counterfactual`.

    Returns:
        The counterfactuals kept, in the order of their sources, each with
        the `index` of its source; `summarize_counterfactuals` counts them.
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must be between 0 and 1, got {rate!r}")
    rng = np.random.default_rng(seed)
    tried = rng.choice(len(texts), size=round(rate * len(texts)), replace=False)
    made = []
    for index in sorted(tried.tolist()):
        item = counterfactual(texts[index], labels[index], lexicon, **options)
        if item is not None:
            made.append(dataclasses.replace(item, index=index))
    return made


def summarize_counterfactuals(
    made: Sequence[Counterfactual], texts: int, *, rate: float = 1.0
) -> dict:
    """How many texts were tried and kept, for a run's record and a message.

    Args:
        made: What `make_counterfactuals` returned.
        texts: How many texts it was given.
        rate: The `rate` it was given.

    Returns:
        A JSON-ready dict: `texts`, `tried`, `kept`, `kept_share`,
        `edits_per_text` (a mean over the kept) and a `message` ("made 4,812
        counterfactuals from 12,500 texts (38% kept, 2.0 edits each)").
    """
    tried, kept = round(rate * texts), len(made)
    share = kept / max(tried, 1)
    per_text = sum(len(item.edits) for item in made) / max(kept, 1)
    source = f"{tried:,}" + (f" of {texts:,}" if tried != texts else "")
    message = (
        f"made {kept:,} counterfactuals from {source} texts "
        f"({share:.0%} kept, {per_text:.1f} edits each)"
    )
    summary = {"texts": texts, "tried": tried, "kept": kept, "kept_share": share}
    return {**summary, "edits_per_text": per_text, "message": message}
