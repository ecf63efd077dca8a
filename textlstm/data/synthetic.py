"""The embedded synthetic corpus: movie reviews whose label needs memory.

Every review states two opposite opinions of the film: a *first impression*
early on ("at first , i found it gripping .") and a *final verdict* later
("but by the end , i found it tedious ."), followed by `distance` to
`2 * distance` words of neutral talk about plot and cast. The label is the
polarity of the final verdict.

Because the two opinions always have opposite polarities and are drawn from
the same word lists, every review contains exactly one positive and one
negative opinion word, and the words right before them are shared too
("i found it ...", "it felt ..."): a bag-of-words (or bigram) model cannot
tell the classes apart and stays near 50%. Which opinion came *last* decides
the label, and the model has to carry it across the `distance` words that
follow. An LSTM or GRU learns this within an epoch at the default distance;
a SimpleRNN forgets the verdict once the distance grows (see
`benchmarks/synthetic.py`).

The generator is pure Python (`random.Random` seeded with a string, stable
across Python versions and platforms): the same `seed`, `split`, `size` and
`distance` always give the same reviews.
"""

from __future__ import annotations

import random

#: Bump when the generator's output changes; part of the data fingerprint.
GENERATOR_VERSION = 1
CLASS_NAMES = ["neg", "pos"]

_POSITIVE = (
    "great wonderful brilliant superb excellent moving delightful fantastic "
    "gripping charming powerful beautiful touching hilarious stunning clever "
    "memorable thrilling heartfelt masterful"
).split()
_NEGATIVE = (
    "awful terrible dull boring painful clumsy dreadful tedious weak lifeless "
    "forgettable bland messy pointless shallow annoying predictable lazy "
    "unbearable disappointing"
).split()

# The lead says which opinion it is; the words right before the adjective are
# shared by both, so short n-grams carry no label information.
_FIRST_LEADS = (
    "at first ,",
    "early on ,",
    "for the first hour ,",
    "in the opening scenes ,",
    "going in ,",
)
_FINAL_LEADS = (
    "but by the end ,",
    "yet in the last act ,",
    "but once it was over ,",
    "then , in the end ,",
    "but looking back now ,",
)
_OPINIONS = (
    "i found it {adj} .",
    "it felt {adj} .",
    "the film seemed {adj} .",
    "the whole thing was {adj} .",
    "i thought it was {adj} .",
)

_NAMES = (
    "anna marco julia victor lena omar clara hugo nina felix rosa ivan "
    "maya leo sara tomas elena paul ines david"
).split()
_JOBS = (
    "teacher detective farmer pilot nurse lawyer painter sailor baker "
    "soldier journalist doctor miner singer thief chef"
).split()
_PLACES = (
    "a small town|the city|a quiet village|the coast|the mountains|a farm|"
    "an island|the desert|a border town|the suburbs|a harbor|the north"
).split("|")
_CREW = (
    "director|writer|composer|cinematographer|editor|producer|cast|"
    "lead actor|supporting actress|camera crew"
).split("|")
_THINGS = (
    "story|script|score|lighting|pacing|costumes|dialogue|sets|"
    "soundtrack|editing|locations|final scene|middle section"
).split("|")
_VERBS = (
    "handles|shapes|frames|stages|treats|builds|presents|arranges|approaches"
).split("|")
_EVENTS = (
    "a letter arrives|an old friend returns|a storm hits|a secret comes out|"
    "a job goes wrong|a stranger appears|the money disappears|a fire breaks out|"
    "the police arrive|a wedding is planned"
).split("|")
_MINUTES = "ninety|one hundred|two hours|a hundred and ten|eighty".split("|")
_FILLERS = (
    "the plot follows {name} , a {job} from {place} .",
    "the {crew} {verb} the {thing} with care .",
    "halfway through , {event} and {name} has to decide what to do .",
    "{name} meets {name2} , a {job} who has left {place} .",
    "the film runs {minutes} minutes and is set in {place} .",
    "we learn that {name} once worked as a {job} .",
    "the {thing} puts the focus on {name} and {name2} .",
    "later {event} , which sends {name} back to {place} .",
    "the {crew} also {verb} the {thing} in the second half .",
    "there is a long scene in which {name} talks to {name2} .",
)
_OPENERS = (
    "i watched this last night .",
    "i saw it at a festival .",
    "a friend recommended this one .",
    "i went in knowing nothing about it .",
    "this came out a few years ago .",
)

# Word budgets (inclusive ranges) of the neutral stretches of a review.
_INTRO_WORDS = (0, 20)
_MIDDLE_WORDS = (10, 30)


def generate_reviews(
    size: int, *, distance: int = 10, seed: int = 42, split: str = "train"
) -> tuple[list[str], list[int]]:
    """Generate `size` synthetic reviews and their labels (0 = neg, 1 = pos).

    Args:
        size: Number of reviews.
        distance: Minimum number of neutral words between the final verdict
            (the cue) and the end of the review; each review draws its own
            from `[distance, 2 * distance]`. 0 ends the review on the verdict.
        seed: Random seed. Each split uses its own stream derived from it.
        split: Name of the stream (`"train"`, `"test"`, ...), so that train
            and test never share their random draws.

    Returns:
        `(texts, labels)`: two lists of length `size`.

    Example:

    >>> texts, labels = generate_reviews(3, distance=0, seed=1)
    >>> [text.split(" .")[-2].split()[-1] for text in texts]  # final verdicts
    ['beautiful', 'dull', 'shallow']
    >>> labels
    [1, 0, 0]
    """
    rng = random.Random(f"textlstm-synthetic-v{GENERATOR_VERSION}:{seed}:{split}")
    texts, labels = [], []
    for _ in range(size):
        positive = rng.random() < 0.5
        texts.append(_review(rng, positive, distance))
        labels.append(int(positive))
    return texts, labels


def _review(rng: random.Random, positive: bool, distance: int) -> str:
    """One review whose final verdict is positive or not."""
    first = rng.choice(_NEGATIVE if positive else _POSITIVE)
    final = rng.choice(_POSITIVE if positive else _NEGATIVE)
    parts = []
    if rng.random() < 0.6:
        parts.append(rng.choice(_OPENERS))
    parts += _neutral(rng, rng.randint(*_INTRO_WORDS))
    parts.append(_opinion(rng, _FIRST_LEADS, first))
    parts += _neutral(rng, rng.randint(*_MIDDLE_WORDS))
    parts.append(_opinion(rng, _FINAL_LEADS, final))
    parts += _neutral(rng, rng.randint(distance, 2 * distance))
    return " ".join(parts)


def _opinion(rng: random.Random, leads: tuple[str, ...], adjective: str) -> str:
    return rng.choice(leads) + " " + rng.choice(_OPINIONS).format(adj=adjective)


def _neutral(rng: random.Random, words: int) -> list[str]:
    """Neutral sentences adding up to at least `words` words."""
    sentences, count = [], 0
    while count < words:
        sentence = _filler(rng)
        sentences.append(sentence)
        count += len(sentence.split())
    return sentences


def _filler(rng: random.Random) -> str:
    name, name2 = rng.sample(_NAMES, 2)
    return rng.choice(_FILLERS).format(
        name=name,
        name2=name2,
        job=rng.choice(_JOBS),
        place=rng.choice(_PLACES),
        crew=rng.choice(_CREW),
        verb=rng.choice(_VERBS),
        thing=rng.choice(_THINGS),
        event=rng.choice(_EVENTS),
        minutes=rng.choice(_MINUTES),
    )
