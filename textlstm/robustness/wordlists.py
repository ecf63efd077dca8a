"""The words the behaviour tests of `behaviour.py` are made of.

Two wordings share one shape (`Wording`): `MOVIE` (film reviews: acting,
plot, director) and `GENERAL` (products and services: staff, delivery,
support). Every list is a plain tuple, so a test's case count is a product
of list lengths and never changes between runs.

How the words were chosen:

- *Sentiment words* are the plain, frequent opinion words of reviews
  (the core of the Hu and Liu (2004) opinion lexicon and of the word lists
  of CheckList, Ribeiro et al. 2020), kept only where the polarity does not
  depend on the context: "good", "awful", but not "unpredictable" (a
  compliment for a plot, a complaint for a delivery). Each adjective reads
  naturally after every subject of its wording ("The delivery was
  superb.", "The soundtrack was forgettable.").
- *Subjects* are the aspects reviews talk about, all singular (the
  templates say "was") and all at least four letters long (the typo test
  swaps two inner letters and keeps the first and the last).
- *Neutral words* (person names, titles, company names, filler sentences)
  carry no opinion, share no word with the sentiment lists (a test
  checks), and are made up where a real one could carry a reputation (a
  real film title, a real brand).
- *Added sentences* of the directional tests each state one clear opinion,
  without negation, so that they mean the same to every reader.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["GENERAL", "INTENSIFIERS", "MOVIE", "PERSON_NAMES", "WORDINGS", "Wording"]


class Wording(NamedTuple):
    """The words of one domain of reviews.

    Attributes:
        name: The wording's name (`--wording`).
        subjects: Singular aspects of what is reviewed ("plot", "staff").
        positive_adjectives: Adjectives that praise any of the subjects.
        negative_adjectives: Adjectives that blame any of the subjects.
        positive_verbs: `(base, past)` forms of verbs of liking ("enjoy").
        negative_verbs: `(base, past)` forms of verbs of disliking ("hate").
        titles: Made-up names of what is reviewed (film titles, companies).
        title_kind: What `titles` are, in the plural ("movie titles").
        title_template: A sentence with `{title}`, `{subject}`, `{adjective}`.
        fillers: Neutral sentences that say nothing about the quality.
        positive_sentences: Clearly positive sentences, no negation.
        negative_sentences: Clearly negative sentences, no negation.
    """

    name: str
    subjects: tuple[str, ...]
    positive_adjectives: tuple[str, ...]
    negative_adjectives: tuple[str, ...]
    positive_verbs: tuple[tuple[str, str], ...]
    negative_verbs: tuple[tuple[str, str], ...]
    titles: tuple[str, ...]
    title_kind: str
    title_template: str
    fillers: tuple[str, ...]
    positive_sentences: tuple[str, ...]
    negative_sentences: tuple[str, ...]

    @property
    def sentiment_words(self) -> frozenset[str]:
        """The adjectives and both forms of the verbs, of either polarity."""
        verbs = self.positive_verbs + self.negative_verbs
        return frozenset(
            self.positive_adjectives
            + self.negative_adjectives
            + tuple(form for pair in verbs for form in pair)
        )


#: Words that strengthen an adjective without changing its polarity.
INTENSIFIERS = ("very", "really", "truly", "incredibly", "extremely", "remarkably")

#: First names from several languages; the name-swap test replaces each by
#: the next one in the list.
PERSON_NAMES = (
    "Anna",
    "Marco",
    "Priya",
    "Kenji",
    "Fatima",
    "Lucas",
    "Grace",
    "Omar",
    "Elena",
    "David",
)

MOVIE = Wording(
    name="movie",
    subjects=(
        "movie",
        "film",
        "acting",
        "plot",
        "story",
        "script",
        "ending",
        "soundtrack",
    ),
    positive_adjectives=(
        "good",
        "great",
        "wonderful",
        "brilliant",
        "excellent",
        "superb",
        "fantastic",
        "delightful",
        "memorable",
        "beautiful",
    ),
    negative_adjectives=(
        "bad",
        "awful",
        "terrible",
        "dull",
        "boring",
        "dreadful",
        "tedious",
        "weak",
        "forgettable",
        "disappointing",
    ),
    positive_verbs=(
        ("love", "loved"),
        ("enjoy", "enjoyed"),
        ("like", "liked"),
        ("admire", "admired"),
    ),
    negative_verbs=(
        ("hate", "hated"),
        ("dislike", "disliked"),
        ("despise", "despised"),
        ("detest", "detested"),
    ),
    titles=(
        "Paper Boats",
        "The Quiet Harbor",
        "City of Glass",
        "Winter Garden",
        "Blue Horizon",
        "The Orchard",
        "Northern Roads",
        "Salt and Stone",
        "The Lighthouse Keeper",
        "Seven Bridges",
    ),
    title_kind="movie titles",
    title_template="I saw {title} last week and the {subject} was {adjective}.",
    fillers=(
        "I watched it on a Tuesday.",
        "I saw it with my sister.",
        "It came out last year.",
        "The cinema is across the street.",
        "It runs for about two hours.",
    ),
    positive_sentences=(
        "I loved every minute of it.",
        "Highly recommended.",
        "It was a joy to watch.",
        "I would happily watch it again.",
        "What a wonderful film.",
    ),
    negative_sentences=(
        "I hated every minute of it.",
        "What a waste of time.",
        "It was a chore to sit through.",
        "I want those two hours back.",
        "What an awful film.",
    ),
)

GENERAL = Wording(
    name="general",
    subjects=(
        "product",
        "service",
        "staff",
        "delivery",
        "support",
        "packaging",
        "quality",
        "experience",
    ),
    positive_adjectives=(
        "good",
        "great",
        "wonderful",
        "excellent",
        "superb",
        "fantastic",
        "outstanding",
        "impressive",
        "perfect",
        "lovely",
    ),
    negative_adjectives=(
        "bad",
        "awful",
        "terrible",
        "poor",
        "dreadful",
        "horrible",
        "disappointing",
        "lousy",
        "appalling",
        "unacceptable",
    ),
    positive_verbs=(
        ("love", "loved"),
        ("enjoy", "enjoyed"),
        ("like", "liked"),
        ("appreciate", "appreciated"),
    ),
    negative_verbs=(
        ("hate", "hated"),
        ("dislike", "disliked"),
        ("despise", "despised"),
        ("detest", "detested"),
    ),
    titles=(
        "Northwind",
        "Brightline",
        "Kestrel Supply",
        "Mapleway",
        "Bluefield",
        "Harbor Goods",
        "Ridgeway",
        "Oakmont",
        "Sunvale",
        "Larkspur",
    ),
    title_kind="company names",
    title_template=(
        "I ordered from {title} last week and the {subject} was {adjective}."
    ),
    fillers=(
        "I ordered it on a Tuesday.",
        "I paid by card.",
        "It came in a cardboard box.",
        "The shop is across the street.",
        "I bought it for my sister.",
    ),
    positive_sentences=(
        "I loved everything about it.",
        "Highly recommended.",
        "It was a pleasure from start to finish.",
        "I would happily order again.",
        "What a wonderful company.",
    ),
    negative_sentences=(
        "I hated everything about it.",
        "What a waste of money.",
        "It was a hassle from start to finish.",
        "I want my money back.",
        "What an awful company.",
    ),
)

#: The wordings by name (`textlstm check --wording NAME`).
WORDINGS = {wording.name: wording for wording in (MOVIE, GENERAL)}
