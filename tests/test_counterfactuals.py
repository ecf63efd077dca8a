"""Tests of `textlstm.robustness.counterfactuals`: exact edits on hand-made
sentences, the lexicon on a tiny made-up corpus (its values against the
formula computed here), the filters, and the sampling and its summary."""

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

from textlstm.errors import DataError
from textlstm.robustness import counterfactuals
from textlstm.robustness.counterfactuals import (
    ANTONYMS,
    Counterfactual,
    PolarityLexicon,
    counterfactual,
    make_counterfactuals,
    summarize_counterfactuals,
    word_spans,
)

LEXICON = PolarityLexicon(
    {
        "great": 1.0,
        "loved": 1.2,
        "worth": 0.8,
        "recommend": 0.7,
        "surprisingly": 0.9,
        "like": 0.6,
        "good": 0.9,
        "bad": -1.1,
        "boring": -1.0,
        "plot": -0.6,
        "smith": 0.9,
    },
    positive=1,
    negative=0,
)


def flip(text, label, **options):
    made = counterfactual(text, label, LEXICON, **options)
    return None if made is None else (made.text, made.label, made.edits)


# --- Words and edits -------------------------------------------------------


def test_word_spans_keep_the_text_recoverable():
    text = "It isn’t BAD,  really!<br /><br />9/10 -- a re-watch."
    spans = word_spans(text)
    assert [span.word for span in spans] == [
        *("It", "isn’t", "BAD", "really", "a", "re", "watch"),
    ]
    assert [span.key for span in spans][:3] == ["it", "isn't", "bad"]
    assert all(text[span.start : span.end] == span.word for span in spans)


def test_antonyms_and_their_case():
    assert flip("The acting was great and I loved it.", 1) == (
        "The acting was terrible and I hated it.",
        0,
        [("great", "terrible"), ("loved", "hated")],
    )
    assert flip("GREAT film. Great!", 1) == (
        "TERRIBLE film. Terrible!",
        0,
        [("GREAT", "TERRIBLE"), ("Great", "Terrible")],
    )
    assert flip("Bad, bad plot.", 0)[0] == "Good, good plot."


def test_dropping_a_negation():
    assert flip("It is not good.", 0) == ("It is good.", 1, [("not", "")])
    assert flip("It isn't bad.", 1) == ("It is bad.", 0, [("isn't", "is")])
    assert flip("It isn’t bad.", 1)[0] == "It is bad."
    assert flip("Not good! Never boring.", 0)[0] == "Good! Never boring."
    assert flip("It never gets boring.", 1) == ("It gets boring.", 0, [("never", "")])
    assert flip("I DON'T like it.", 0) == ("I DO like it.", 1, [("DON'T", "DO")])
    # One negation turns every carrier in its scope; it is dropped once.
    assert flip("It was not good or great.", 0) == (
        "It was good or great.",
        1,
        [("not", "")],
    )


def test_a_negation_that_cannot_be_dropped_swaps_the_word():
    # "no" is a negation, but "There is bad acting" for "no bad" would not
    # read; the word in its scope is swapped instead.
    assert flip("There is no bad acting.", 1) == (
        "There is no good acting.",
        0,
        [("bad", "good")],
    )
    assert flip("There is nothing good in it.", 0)[0] == "There is nothing bad in it."


def test_putting_in_not():
    assert flip("It is worth it.", 1) == ("It is not worth it.", 0, [("is", "is not")])
    assert flip("It is really worth it.", 1)[0] == "It is not really worth it."
    assert flip("IT IS WORTH IT", 1)[0] == "IT IS NOT WORTH IT"
    assert flip("I would recommend it.", 1)[0] == "I would not recommend it."
    assert flip("I'm sure it's worth it.", 1)[0] == "I'm sure it's not worth it."
    # Not before an adverb, not across punctuation, not after other words.
    assert flip("It is surprisingly long.", 1) is None
    assert flip("It is, worth it.", 1) is None
    assert flip("Totally worth it.", 1) is None


def test_the_rest_of_the_text_is_untouched():
    text = 'A  "great"\tfilm!<br /><br />I loved it (9/10)...'
    assert flip(text, 1)[0] == 'A  "terrible"\tfilm!<br /><br />I hated it (9/10)...'


def test_a_capitalised_word_inside_a_sentence_is_a_name():
    assert flip("Will Smith is great.", 1) == (
        "Will Smith is terrible.",
        0,
        [("great", "terrible")],
    )
    # At the start of a sentence it is a word like any other.
    assert flip("The end. Great.", 1)[0] == "The end. Terrible."


# --- Filters ----------------------------------------------------------------


def test_nothing_to_flip_gives_none():
    assert flip("A film about a dog.", 1) is None
    assert flip("The plot moves.", 0) is None  # carried, but no rule flips it
    assert flip("The film is bad.", 1) is None  # nothing carries label 1


def test_too_little_flipped_or_a_net_polarity_that_does_not_turn():
    lexicon = PolarityLexicon({"great": 1.0, "davis": 1.5})
    text = "Davis is in it and the music is great."
    # "Davis" (first word, no rule) carries 1.5 of 2.5: 40% flipped.
    assert counterfactual(text, 1, lexicon) is None
    # Enough is flipped at 30%, but 1.5 - 1.0 still points to label 1.
    assert counterfactual(text, 1, lexicon, min_share=0.3) is None
    weaker = PolarityLexicon({"great": 1.0, "davis": 0.8})
    assert counterfactual(text, 1, weaker).text == (
        "Davis is in it and the music is terrible."
    )


def test_mixed_text_whose_polarity_does_not_turn():
    lexicon = PolarityLexicon({"great": 0.6, "brilliant": 0.5, "cast": 2.0})
    # "cast" (no rule) outweighs what the antonyms take away.
    text = "A great and brilliant cast."
    assert counterfactual(text, 1, lexicon, min_share=0.2) is None


def test_min_polarity_decides_what_carries_the_label():
    assert flip("A great plot.", 0) is None
    assert flip("A great plot.", 0, min_polarity=0.7) is None
    text, label, edits = flip("Great, but the plot is bad.", 0, min_polarity=0.7)
    assert (text, edits) == ("Great, but the plot is good.", [("bad", "good")])


def test_an_antonym_the_lexicon_lacks_counts_as_minus_the_word():
    lexicon = PolarityLexicon({"masterpiece": 2.0})
    made = counterfactual("A masterpiece.", 1, lexicon)
    assert (made.text, made.label) == ("A disaster.", 0)
    assert lexicon.score(made.text) == 0.0  # "disaster" is not in it


def test_labels_other_than_the_lexicons_are_refused():
    with pytest.raises(ValueError, match=r"label 2 is neither .* \(1, 0\)"):
        counterfactual("great", 2, LEXICON)


# --- The lexicon ------------------------------------------------------------

CORPUS = [
    ("a great film", 1),
    ("great acting and a fine cast", 1),
    ("the film is great", 1),
    ("a wonderful film", 1),
    ("a bad film", 0),
    ("bad acting and a dull cast , bad", 0),
    ("the film is bad", 0),
    ("a dull film , not great", 0),
]
TEXTS, LABELS = [text for text, _ in CORPUS], [label for _, label in CORPUS]


def log_odds(word, prior=0.1):
    """Monroe et al.'s log-odds ratio and z-score of `word` in CORPUS."""
    count = {1: {}, 0: {}}
    for text, label in CORPUS:
        for key in set(text.split()) - {",", "not"}:
            count[label][key] = count[label].get(key, 0) + 1
    vocabulary = set(count[1]) | set(count[0])
    alpha = {w: prior * (count[1].get(w, 0) + count[0].get(w, 0)) for w in vocabulary}
    alpha0 = sum(alpha.values())
    y1, y0, a = count[1].get(word, 0), count[0].get(word, 0), alpha[word]
    n1, n0 = sum(count[1].values()), sum(count[0].values())
    delta = math.log((y1 + a) / (n1 + alpha0 - y1 - a)) - math.log(
        (y0 + a) / (n0 + alpha0 - y0 - a)
    )
    return delta, delta / math.sqrt(1 / (y1 + a) + 1 / (y0 + a))


def test_the_lexicon_finds_the_words_of_each_class():
    lexicon = PolarityLexicon.fit(TEXTS, LABELS, min_count=2, min_zscore=0.5)
    assert lexicon.words_for(1) == ["great"]
    assert lexicon.words_for(0) == ["bad", "dull"]
    # In as many texts of each class: neutral, left out; "not" is a negation.
    for word in ("a", "film", "the", "is", "and", "acting", "cast", "not"):
        assert lexicon.polarity(word) == 0.0
    for word in ("great", "bad", "dull"):
        delta, z = log_odds(word)
        assert lexicon.polarity(word) == pytest.approx(delta, abs=1e-12)
        assert lexicon.polarity(word.upper()) == lexicon.polarity(word)
        assert lexicon.zscores[word] == pytest.approx(z, abs=1e-12)
    # "great" is in 3 positive texts and 1 negative one, "bad" in 0 and 3.
    assert log_odds("bad")[1] < -log_odds("great")[1] < 0 < log_odds("great")[1]


def test_min_count_min_zscore_and_size():
    # Without a z-score threshold, words a hair off even (z = 0.08) get in.
    frequent = PolarityLexicon.fit(TEXTS, LABELS, min_count=4, min_zscore=0)
    assert sorted(frequent.words) == ["a", "film", "great"]
    rare = PolarityLexicon.fit(TEXTS, LABELS, min_count=1, min_zscore=0.5)
    assert sorted(rare.words) == ["bad", "dull", "fine", "great", "wonderful"]
    assert PolarityLexicon.fit(TEXTS, LABELS, min_count=2).words == {}  # z < 3
    top = PolarityLexicon.fit(TEXTS, LABELS, min_count=1, min_zscore=0, size=1)
    assert (top.words_for(1), top.words_for(0)) == (["great"], ["bad"])


def test_the_lexicon_is_deterministic_and_order_free():
    first = PolarityLexicon.fit(TEXTS, LABELS, min_count=1, min_zscore=0)
    order = np.random.default_rng(3).permutation(len(TEXTS))
    again = PolarityLexicon.fit(
        [TEXTS[i] for i in order], [LABELS[i] for i in order], min_count=1, min_zscore=0
    )
    assert again.words == pytest.approx(first.words, abs=1e-12)
    assert again.words_for(1) == first.words_for(1)


def test_labels_of_any_kind_and_the_json_round_trip():
    lexicon = PolarityLexicon.fit(
        TEXTS, np.array(LABELS, dtype=np.int64), min_count=2, min_zscore=0.5
    )
    assert type(lexicon.positive) is int and type(lexicon.negative) is int
    data = json.loads(json.dumps(lexicon.to_dict()))
    assert PolarityLexicon.from_dict(data) == lexicon
    assert data["settings"] == {
        **{"min_count": 2, "size": 500, "min_zscore": 0.5, "prior": 0.1},
        "texts": 8,
    }
    names = ["pos" if label else "neg" for label in LABELS]
    named = PolarityLexicon.fit(
        TEXTS, names, positive="pos", min_count=2, min_zscore=0.5
    )
    assert (named.positive, named.negative) == ("pos", "neg")
    assert named.words == lexicon.words
    assert counterfactual("A great film.", "pos", named).label == "neg"


@pytest.mark.parametrize(
    "labels, positive",
    [([1] * 8, 1), ([0, 1, 2, 0, 1, 2, 0, 1], 1), (LABELS, "pos")],
)
def test_the_lexicon_needs_two_classes(labels, positive):
    with pytest.raises(DataError, match="counterfactuals need two classes"):
        PolarityLexicon.fit(TEXTS, labels, positive=positive)


def test_the_lexicon_needs_a_label_per_text():
    with pytest.raises(ValueError, match="8 texts but 7 labels"):
        PolarityLexicon.fit(TEXTS, LABELS[:7])


def test_the_score_turns_words_after_a_negation():
    lexicon = PolarityLexicon({"good": 1.0, "plot": -0.5})
    assert lexicon.score("Good acting, but the plot is not good.") == -0.5
    # The scope ends at punctuation, at "but" and after three words.
    assert lexicon.score("Not a very good plot") == -1.5
    assert lexicon.score("Not that, good") == 1.0
    assert lexicon.score("not but good") == 1.0
    assert lexicon.score("not one two three good") == 1.0


# --- Making many ------------------------------------------------------------

MANY = [
    ("It was great.", 1),  # kept
    ("A dog.", 1),  # nothing to flip
    ("It was bad.", 0),  # kept
    ("It is not good.", 0),  # kept
    ("Plot, plot, plot.", 0),  # no rule
    ("I loved it.", 1),  # kept
    ("It is worth it.", 1),  # kept
    ("Boring.", 0),  # kept
    ("The plot is bad.", 0),  # 1.1 of 1.7 flipped, -0.6 + 0.9 > 0: kept
    ("A plot and a plot.", 0),  # no rule
]


def test_make_counterfactuals_exact_counts_and_indices():
    texts, labels = [text for text, _ in MANY], [label for _, label in MANY]
    made = make_counterfactuals(texts, labels, LEXICON)
    assert [item.index for item in made] == [0, 2, 3, 5, 6, 7, 8]
    assert made[0] == Counterfactual(
        "It was terrible.", 0, 1, [("great", "terrible")], index=0
    )
    assert made[-1].text == "The plot is good."
    assert summarize_counterfactuals(made, len(texts)) == {
        "texts": 10,
        "tried": 10,
        "kept": 7,
        "kept_share": 0.7,
        "edits_per_text": 1.0,
        "message": "made 7 counterfactuals from 10 texts (70% kept, 1.0 edits each)",
    }


def test_make_counterfactuals_is_deterministic_for_a_seed():
    texts, labels = [text for text, _ in MANY], [label for _, label in MANY]
    half = make_counterfactuals(texts, labels, LEXICON, rate=0.5, seed=7)
    assert half == make_counterfactuals(texts, labels, LEXICON, rate=0.5, seed=7)
    tried = sorted(np.random.default_rng(7).choice(10, size=5, replace=False))
    kept = {0, 2, 3, 5, 6, 7, 8}
    assert [item.index for item in half] == [i for i in tried if i in kept]
    draws = set()
    for seed in range(8):
        made = make_counterfactuals(texts, labels, LEXICON, rate=0.5, seed=seed)
        draws.add(tuple(item.index for item in made))
    assert len(draws) > 1
    summary = summarize_counterfactuals(half, 10, rate=0.5)
    assert summary["tried"] == 5
    assert summary["message"].startswith(
        f"made {len(half)} counterfactuals from 5 of 10"
    )
    assert make_counterfactuals(texts, labels, LEXICON, rate=0.0) == []


def test_make_counterfactuals_refuses_bad_arguments():
    with pytest.raises(ValueError, match="rate must be between 0 and 1, got 1.5"):
        make_counterfactuals(["a"], [1], LEXICON, rate=1.5)
    with pytest.raises(ValueError, match="2 texts but 1 labels"):
        make_counterfactuals(["a", "b"], [1], LEXICON)


# --- The table and the module ------------------------------------------------


def test_the_antonyms_are_symmetric_single_words():
    assert len(ANTONYMS) >= 160  # at least 80 pairs
    assert all(ANTONYMS[ANTONYMS[word]] == word for word in ANTONYMS)
    assert all(word.isalpha() and word.islower() for word in ANTONYMS)
    pairs = {("great", "terrible"), ("better", "worse"), ("best", "worst")}
    assert all(ANTONYMS[a] == b for a, b in pairs | {("loved", "hated")})


def test_the_module_imports_no_tensorflow():
    tree = ast.parse(Path(counterfactuals.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported == {
        *("__future__", "collections", "dataclasses", "re", "typing"),
        *("numpy", "textlstm"),
    }
