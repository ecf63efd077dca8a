"""The embedded synthetic corpus: movie reviews whose label needs memory.

A review states one, two or three opinions of the film ("i found it
gripping .", "but by the end , it felt tedious ."), scattered among neutral
sentences about plot and cast. **The label is the polarity of the opinion
stated last**, and nothing else predicts it:

- *Counts say little.* A review holds one opinion (20%), two (40%) or three
  (40%). Two opinions disagree 90% of the time; of three, the last one is
  outvoted by the two before it in half of the reviews. A bag of words
  therefore only wins on the reviews whose opinions all agree (28%) and
  guesses on the rest: about 64%.
- *Position says nothing.* The stretches of neutral text before, between
  and after the opinions vary independently; the one after the deciding
  opinion holds `min_distance` to `2 * distance` words (0 to 20 by
  default), so a review may end on its verdict or carry it across many
  words.
- *Lead phrases say nothing.* Each opinion's lead ("at first ,", "but by the
  end ,", "overall ,", ... or none) is drawn from one pool, whatever its
  place; the words right before the adjective are shared by both
  polarities.

So a model has to find the opinions, keep the latest one, and carry it to
the end of the review: memory and nothing but memory. `distance` is the
lag the memory study (`benchmarks/memory.py`) varies; with
`min_distance=distance` every review carries its verdict across at least
`distance` words.

The generator is pure Python (`random.Random` seeded with a string, stable
across Python versions and platforms): the same arguments always give the
same reviews. Version 1 (`GENERATOR_VERSION = 1`) had exactly two opposite
opinions, always 10-50 words apart and `distance` to `2 * distance` words
before the end: a model could learn where the verdict sat instead of which
opinion came last.
"""

from __future__ import annotations

import random

#: Bump when the generator's output changes; part of the data fingerprint.
GENERATOR_VERSION = 2
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

# Lead phrases of an opinion. Version 1 put the first group only before the
# first impression and the second only before the final verdict; version 2
# draws every opinion's lead from all of them (or none), so a lead says
# nothing about whether its opinion is the last one.
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
_MORE_LEADS = (
    "then ,",
    "after a while ,",
    "later on ,",
    "by the middle ,",
    "in the end ,",
    "overall ,",
    "all in all ,",
    "honestly ,",
    "to be fair ,",
    "in my opinion ,",
    "still ,",
    "and yet ,",
)
_LEADS = _FIRST_LEADS + _FINAL_LEADS + _MORE_LEADS
# The words right before the adjective are shared by both polarities, so
# short n-grams carry no label information.
_OPINIONS = (
    "i found it {adj} .",
    "it felt {adj} .",
    "the film seemed {adj} .",
    "the whole thing was {adj} .",
    "i thought it was {adj} .",
    "it was {adj} .",
    "the movie was {adj} .",
    "i would call it {adj} .",
    "to me it was {adj} .",
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
_INTRO_WORDS = (0, 25)
_BETWEEN_WORDS = (0, 30)
# P(one, two, three opinions), and the chance that the opinions before the
# last one take its polarity: a bag of words gets the reviews whose
# opinions all agree right and guesses on the others.
_OPINION_COUNTS = (0.2, 0.4, 0.4)
_AGREE = 0.1
_NO_LEAD = 0.2


def generate_reviews(
    size: int,
    *,
    distance: int = 10,
    min_distance: int = 0,
    seed: int = 42,
    split: str = "train",
) -> tuple[list[str], list[int]]:
    """Generate `size` synthetic reviews and their labels (0 = neg, 1 = pos).

    Args:
        size: Number of reviews.
        distance: Sets the longest stretch of neutral words after the
            deciding (last) opinion: each review draws its length from
            `[min_distance, 2 * distance]` (counted as the generator counts,
            punctuation included; the last sentence may overshoot it by up
            to 15). 0 ends every review on its verdict.
        min_distance: The shortest such stretch (default 0; at most
            `2 * distance`). `min_distance=distance` reproduces the lag of
            version 1, `[distance, 2 * distance]`.
        seed: Random seed. Each split uses its own stream derived from it.
        split: Name of the stream (`"train"`, `"test"`, ...), so that train
            and test never share their random draws.

    Returns:
        `(texts, labels)`: two lists of length `size`.

    Raises:
        ValueError: for a negative `size`, `distance` or `min_distance`, or
            `min_distance > 2 * distance`.

    Example:

    >>> texts, labels = generate_reviews(3, distance=0, seed=1)
    >>> [text.split(" .")[-2].split()[-1] for text in texts]  # last opinions
    ['stunning', 'lifeless', 'memorable']
    >>> labels
    [1, 0, 1]
    """
    for name, value in (("size", size), ("distance", distance)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if not 0 <= min_distance <= 2 * distance:
        raise ValueError(
            f"min_distance must be in [0, 2 * distance] = [0, {2 * distance}], "
            f"got {min_distance}"
        )
    rng = random.Random(f"textlstm-synthetic-v{GENERATOR_VERSION}:{seed}:{split}")
    texts, labels = [], []
    for _ in range(size):
        positive = rng.random() < 0.5
        texts.append(_review(rng, positive, (min_distance, 2 * distance)))
        labels.append(int(positive))
    return texts, labels


def _review(rng: random.Random, positive: bool, trailing: tuple[int, int]) -> str:
    """One review whose last opinion is positive or not."""
    parts = []
    if rng.random() < 0.6:
        parts.append(rng.choice(_OPENERS))
    parts += _neutral(rng, rng.randint(*_INTRO_WORDS))
    polarities = _polarities(rng, positive)
    for index, polarity in enumerate(polarities):
        if index:
            parts += _neutral(rng, rng.randint(*_BETWEEN_WORDS))
        parts.append(_opinion(rng, rng.choice(_POSITIVE if polarity else _NEGATIVE)))
    parts += _neutral(rng, rng.randint(*trailing))
    return " ".join(parts)


def _polarities(rng: random.Random, last: bool) -> list[bool]:
    """The polarity of each opinion of a review, ending with `last`.

    Two opinions disagree unless they agree by chance (`_AGREE`). Of three,
    the two before the last are both the opposite of it in half of the
    reviews, and split in the other half, so that a 2:1 majority says
    nothing about the label.
    """
    count = rng.choices((1, 2, 3), weights=_OPINION_COUNTS)[0]
    if count == 1:
        return [last]
    if rng.random() < _AGREE:
        return [last] * count
    if count == 2:
        return [not last, last]
    if rng.random() < 0.5:
        return [not last, not last, last]
    return rng.choice(([last, not last, last], [not last, last, last]))


def _opinion(rng: random.Random, adjective: str) -> str:
    sentence = rng.choice(_OPINIONS).format(adj=adjective)
    if rng.random() < _NO_LEAD:
        return sentence
    return rng.choice(_LEADS) + " " + sentence


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
