"""Behaviour checks (`textlstm check`, `textlstm.robustness.behaviour`).

The tests are generated, not hand-written, so most of this file checks
the generator: exact case counts (products of the word lists' lengths),
determinism, and that every expectation is the right one. Two fake models
do that: a rule-based reader that handles negation, contrast and
intensifiers passes every test, and a bag of words that only sums word
polarities fails exactly the negation and contrast tests it must fail.
One test runs the command on the trained quickstart run.
"""

import json
import math
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from textlstm.cli.check_command import WORDINGS as CLI_WORDINGS
from textlstm.cli.main import cli
from textlstm.errors import ConfigError, RunError, UserError
from textlstm.robustness.behaviour import (
    CAPABILITIES,
    BehaviourTest,
    Case,
    generate_tests,
    resolve_positive,
    run_checks,
    unique_texts,
    with_typo,
)
from textlstm.robustness.report import HTML_NAME, JSON_NAME, render_html, write_report
from textlstm.robustness.templates import (
    CONTRAST_TEMPLATES,
    NEGATED_NEGATIVE_TEMPLATES,
    NEGATED_POSITIVE_TEMPLATES,
    NEGATED_VERB_TEMPLATES,
    PLAIN_TEMPLATES,
)
from textlstm.robustness.wordlists import (
    GENERAL,
    INTENSIFIERS,
    MOVIE,
    PERSON_NAMES,
    WORDINGS,
)

# --------------------------------------------------------------------------- #
# generation


def expected_counts(words) -> dict[str, int]:
    """Every test's case count, from the lengths of the word lists."""
    subjects = len(words.subjects)
    good, bad = len(words.positive_adjectives), len(words.negative_adjectives)
    verbs = len(words.positive_verbs)
    assert len(words.negative_verbs) == verbs
    base = subjects * (good + bad)  # "The {subject} was {adjective}."
    return {
        "positive adjectives": len(PLAIN_TEMPLATES) * subjects * good,
        "negative adjectives": len(PLAIN_TEMPLATES) * subjects * bad,
        "positive verbs": subjects * verbs,
        "negative verbs": subjects * verbs,
        "negated positive": len(NEGATED_POSITIVE_TEMPLATES) * subjects * good,
        "negated negative": len(NEGATED_NEGATIVE_TEMPLATES) * subjects * bad,
        "negated positive verb": len(NEGATED_VERB_TEMPLATES) * subjects * verbs,
        "negation at a distance": subjects * good,
        **{
            f"{connective}: {order}": good * bad
            for connective in CONTRAST_TEMPLATES
            for order in ("neg then pos", "pos then neg")
        },
        "intensified positive": good * len(INTENSIFIERS),
        "intensifier on positive": good * len(INTENSIFIERS),
        "intensified negative": bad * len(INTENSIFIERS),
        "intensifier on negative": bad * len(INTENSIFIERS),
        "person names": len(PERSON_NAMES) * (good + bad),
        words.title_kind: len(words.titles) * (good + bad),
        "neutral filler": base,
        "punctuation": base,
        "case": base,
        "typo": base,
        "positive sentence added": base,
        "negative sentence added": base,
    }


@pytest.mark.parametrize("words", [MOVIE, GENERAL], ids=lambda words: words.name)
def test_every_test_has_its_exact_case_count(words):
    tests = generate_tests(words.name)
    assert {test.name: len(test.cases) for test in tests} == expected_counts(words)
    # The same numbers written out: a change of a word list shows up here.
    assert [len(test.cases) for test in tests] == (
        [160, 160, 32, 32]
        + [240, 160, 96, 80]
        + [100] * 6
        + [60] * 4
        + [200, 200, 160, 160, 160, 160]
        + [160, 160]
    )
    assert sum(len(test.cases) for test in tests) == 3160
    assert len(unique_texts(tests)) == 3440


def test_generation_is_deterministic_and_grouped_by_capability():
    tests = generate_tests("movie")
    assert tests == generate_tests("movie")
    assert tests != generate_tests("general")
    capabilities = [test.capability for test in tests]
    assert list(dict.fromkeys(capabilities)) == list(CAPABILITIES)
    assert sorted(capabilities, key=CAPABILITIES.index) == capabilities
    assert len({test.name for test in tests}) == len(tests)
    for test in tests:
        assert len(set(test.cases)) == len(test.cases), test.name
        assert all(case.text != case.original for case in test.cases), test.name
        if test.kind == "MFT":
            assert {case.expected for case in test.cases} <= {"positive", "negative"}
            assert all(case.original is None for case in test.cases)
        else:
            assert all(case.original and not case.expected for case in test.cases)
            assert (test.direction is None) == (test.kind == "INV")


def test_the_first_cases_read_as_documented():
    first = {test.name: test.cases[0] for test in generate_tests("movie")}
    assert first["negated negative"] == Case("The movie was never bad.", "positive")
    assert first["but: neg then pos"].text == (
        "The movie was bad, but the story was good."
    )
    assert first["although: pos then neg"] == Case(
        "Although the movie was good, the story was bad.", "negative"
    )
    assert first["however: neg then pos"].text == (
        "The movie was bad; however, the story was good."
    )
    assert first["typo"] == Case("The moive was good.", original="The movie was good.")
    assert first["person names"] == Case(
        "Marco said the movie was good.", original="Anna said the movie was good."
    )
    general = {test.name: test.cases[-1] for test in generate_tests("general")}
    assert general["company names"] == Case(
        "I ordered from Northwind last week and the experience was unacceptable.",
        original="I ordered from Larkspur last week and the experience was "
        "unacceptable.",
    )


def test_an_unknown_wording_is_a_config_error():
    with pytest.raises(
        ConfigError, match=r"^wording: 'legal' is not one of movie, general$"
    ):
        generate_tests("legal")


@pytest.mark.parametrize("words", [MOVIE, GENERAL], ids=lambda words: words.name)
def test_neutral_words_carry_no_sentiment_word(words):
    sentiment = words.sentiment_words
    verbs = words.positive_verbs + words.negative_verbs
    # No word in both polarities, no verb form that is also an adjective.
    assert len(sentiment) == (
        len(words.positive_adjectives + words.negative_adjectives) + 2 * len(verbs)
    )
    neutral = " ".join(
        (*words.fillers, *words.titles, *PERSON_NAMES, words.title_template)
    )
    assert set(re.findall(r"[a-z']+", neutral.lower())) & sentiment == set()
    assert all(len(subject) >= 4 for subject in words.subjects)
    for field in words._fields[1:]:
        values = getattr(words, field)
        if isinstance(values, tuple):
            assert len(set(values)) == len(values), field
    assert CLI_WORDINGS == tuple(WORDINGS)


def test_with_typo_swaps_inner_letters_of_the_longest_neutral_word():
    assert with_typo("The acting was awful.", {"awful"}) == "The acitng was awful."
    assert with_typo("The soundtrack was dull.", {"dull"}) == (
        "The sountdrack was dull."
    )
    # The first pair of different letters from the middle on, then back.
    assert with_typo("A green film.") == "A geren film."
    assert with_typo("Seen it.") == "Seen it."  # "ee" only: no typo possible
    assert with_typo("Good plot, dull cast!", {"good", "dull"}) == (
        "Good polt, dull cast!"
    )
    assert with_typo("It was bad.") == "It was bad."


# --------------------------------------------------------------------------- #
# the two fake models

NEGATIONS = {"not", "never", "don't", "didn't", "wasn't", "can't"}


def lexicon(words) -> dict[str, int]:
    """Word -> +1 or -1: the wording's adjectives and both forms of its verbs."""
    polarity = {}
    for sign, adjectives, verbs in (
        (1, words.positive_adjectives, words.positive_verbs),
        (-1, words.negative_adjectives, words.negative_verbs),
    ):
        for word in (*adjectives, *(form for pair in verbs for form in pair)):
            polarity[word] = sign
    assert set(polarity) == words.sentiment_words
    return polarity


def sigmoid(score: float) -> float:
    return 1 / (1 + math.exp(-2 * score))


def bag_of_words(words):
    """P(positive) from the sum of word polarities: no order, no negation."""
    polarity = lexicon(words)

    def predict(texts):
        return np.array(
            [
                sigmoid(
                    sum(
                        polarity.get(t, 0) for t in re.findall(r"[a-z']+", text.lower())
                    )
                )
                for text in texts
            ]
        )

    return predict


def reader(words):
    """A rule-based reader: per sentence, only the clause after 'but' or
    'however' (or the main clause after an 'although' clause) counts; a
    negation flips every opinion after it in the sentence; an intensifier
    doubles the next one."""
    polarity = lexicon(words)

    def sentence_score(sentence: str) -> float:
        tokens = re.findall(r"[a-z']+|[,;]", sentence.lower())
        for connective in ("but", "however"):
            if connective in tokens:
                tokens = tokens[tokens.index(connective) + 1 :]
        if tokens[:1] == ["although"]:
            tokens = tokens[tokens.index(",") + 1 :]
        score, sign, weight = 0.0, 1, 1
        for token in tokens:
            if token in NEGATIONS:
                sign = -1
            elif token in INTENSIFIERS:
                weight = 2
            elif token in polarity:
                score += sign * weight * polarity[token]
                weight = 1
        return score

    def predict(texts):
        return np.array(
            [
                sigmoid(sum(map(sentence_score, re.split(r"(?<=[.!?])\s+", text))))
                for text in texts
            ]
        )

    return predict


@pytest.mark.parametrize("wording", ["movie", "general"])
def test_a_reader_that_handles_negation_and_contrast_passes_every_test(wording):
    report = run_checks(generate_tests(wording), reader(WORDINGS[wording]))
    failing = {r.test.name: r.num_failures for r in report.results if r.num_failures}
    assert failing == {}
    assert report.num_cases == 3160 and report.num_texts == 3440


@pytest.mark.parametrize("wording", ["movie", "general"])
def test_a_bag_of_words_fails_negation_and_one_order_of_contrast(wording):
    """A sum of polarities calls every negated opinion by its word, and
    scores both contrast orders 0 (P = 0.5, positive): the 'neg then pos'
    cases pass, every 'pos then neg' case fails."""
    report = run_checks(generate_tests(wording), bag_of_words(WORDINGS[wording]))
    rates = {r.test.name: r.failure_rate for r in report.results if r.num_failures}
    assert rates == {
        "negated positive": 1.0,
        "negated negative": 1.0,
        "negated positive verb": 1.0,
        "negation at a distance": 1.0,
        "but: pos then neg": 1.0,
        "although: pos then neg": 1.0,
        "however: pos then neg": 1.0,
    }
    assert report.num_failures == 240 + 160 + 96 + 80 + 3 * 100
    summary = {c["name"]: c["failure_rate"] for c in report.capabilities()}
    assert summary == {
        "vocabulary": 0.0,
        "negation": 1.0,
        "contrast": 0.5,
        "intensity": 0.0,
        "invariance": 0.0,
        "directional": 0.0,
    }
    # Equal severities keep the cases' order; at most 5 are kept.
    negated = report.result("negated positive")
    assert [f.case.text for f in negated.worst] == [
        case.text for case in negated.test.cases[:5]
    ]
    assert negated.worst[0].probability == pytest.approx(sigmoid(1))
    assert negated.worst[0].severity == pytest.approx(sigmoid(1))


# --------------------------------------------------------------------------- #
# MFT, INV and DIR on hand-made tests


def scored(test: BehaviourTest, probabilities: dict[str, float]):
    return run_checks([test], lambda texts: [probabilities[t] for t in texts]).results[
        0
    ]


def test_mft_fails_on_the_other_label_and_0_5_is_positive():
    test = BehaviourTest(
        "mft",
        "negation",
        "MFT",
        "",
        (Case("a", "positive"), Case("b", "positive"), Case("c", "negative")),
    )
    result = scored(test, {"a": 0.5, "b": 0.2, "c": 0.5})
    assert result.num_failures == 2 and result.failure_rate == pytest.approx(2 / 3)
    assert [(f.case.text, f.severity) for f in result.worst] == [("b", 0.8), ("c", 0.5)]


def test_inv_fails_when_the_label_changes_only():
    cases = (
        Case("b", original="a"),
        Case("d", original="c"),
        Case("f", original="e"),
    )
    test = BehaviourTest("inv", "invariance", "INV", "", cases)
    result = scored(test, {"a": 0.6, "b": 0.4, "c": 0.9, "d": 0.5, "e": 0.1, "f": 0.45})
    assert result.num_failures == 1
    (failure,) = result.worst
    assert (failure.case.text, failure.original_probability, failure.probability) == (
        "b",
        0.6,
        0.4,
    )
    assert failure.severity == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("direction", "failing"), [("up", ["d"]), ("down", ["f", "h"])]
)
def test_dir_fails_beyond_the_tolerance_the_wrong_way(direction, failing):
    cases = tuple(
        Case(edited, original=original)
        for original, edited in (("a", "b"), ("c", "d"), ("e", "f"), ("g", "h"))
    )
    test = BehaviourTest("dir", "directional", "DIR", "", cases, direction, 0.1)
    probabilities = {
        *(("a", 0.8), ("b", 0.7)),  # down by exactly the tolerance
        *(("c", 0.8), ("d", 0.69)),  # down by 0.11
        *(("e", 0.2), ("f", 0.9)),  # up by 0.7
        *(("g", 0.2), ("h", 0.31)),  # up by 0.11
    }
    result = scored(test, dict(probabilities))
    assert [failure.case.text for failure in result.worst] == failing


def test_run_checks_predicts_each_text_once_in_batches():
    calls = []

    def predict(texts):
        calls.append(list(texts))
        return np.full(len(texts), 0.9)

    tests = generate_tests("movie")
    run_checks(tests, predict, batch_size=1000)
    assert [len(call) for call in calls] == [1000, 1000, 1000, 440]
    assert sum(calls, []) == unique_texts(tests)
    with pytest.raises(ValueError, match="returned 1 values for 2 texts"):
        run_checks(tests[:1], lambda texts: [0.5], batch_size=2)


# --------------------------------------------------------------------------- #
# the positive class


@pytest.mark.parametrize(
    ("names", "positive"),
    [
        (["neg", "pos"], "pos"),
        (["Negative", "Positive"], "Positive"),
        (["0", "1"], "1"),
        (["bad", "good"], "good"),
    ],
)
def test_the_positive_class_is_found_by_name(names, positive):
    assert resolve_positive(names) == positive


@pytest.mark.parametrize(
    ("names", "positive", "message"),
    [
        (
            ["neg", "neutral", "pos"],
            None,
            "behaviour checks need a two-class model; this one has 3 classes: "
            "neg, neutral, pos",
        ),
        (
            ["ham", "spam"],
            None,
            "cannot tell which class is positive (classes: ham, spam); "
            "give --positive LABEL",
        ),
        (
            ["1 star", "5 stars"],
            None,
            "cannot tell which class is positive (classes: 1 star, 5 stars); "
            "give --positive LABEL",
        ),
        (
            ["pos", "positive"],
            None,
            "cannot tell which class is positive (classes: pos, positive); "
            "give --positive LABEL",
        ),
        (
            ["neg", "pos"],
            "yes",
            "--positive 'yes' is not a class of the model (classes: neg, pos)",
        ),
    ],
)
def test_the_positive_class_errors_say_what_to_do(names, positive, message):
    with pytest.raises(RunError) as error:
        resolve_positive(names, positive)
    assert str(error.value) == message
    assert isinstance(error.value, UserError)


# --------------------------------------------------------------------------- #
# files


def test_the_html_page_escapes_texts_and_the_json_is_complete(tmp_path):
    test = BehaviourTest(
        "markup",
        "vocabulary",
        "MFT",
        "<i>escaped</i>",
        (Case("<b>bold</b> & co", "negative"),),
    )
    report = run_checks([test], lambda texts: [0.9] * len(texts))
    page = render_html(report)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in page and "<b>bold</b>" not in page
    assert "&lt;i&gt;escaped&lt;/i&gt;" in page
    json_path, html_path = write_report(report, tmp_path / "new" / "folder")
    assert (json_path.name, html_path.name) == (JSON_NAME, HTML_NAME)
    assert html_path.read_text(encoding="utf-8") == page
    written = json.loads(json_path.read_text(encoding="utf-8"))
    assert written == report.to_dict()
    assert written["tests"][0]["worst"] == [
        {
            "text": "<b>bold</b> & co",
            "probability": 0.9,
            "expected": "negative",
            "original": None,
            "original_probability": None,
            "severity": 0.9,
        }
    ]


# --------------------------------------------------------------------------- #
# the command


def invoke(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def test_check_refuses_a_folder_without_a_model(tmp_path):
    result = invoke("check", tmp_path)
    assert result.exit_code == 2
    assert f"{tmp_path} has no model.keras and no saved_model.pb" in result.output


def test_check_refuses_an_unknown_positive_class(quickstart_run):
    result = invoke("check", quickstart_run, "--positive", "yes")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --positive 'yes' is not a class of the model (classes: neg, pos)"
    )


def test_check_on_the_quickstart_run(quickstart_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(
        quickstart_run, run, ignore=shutil.ignore_patterns("tensorboard", "checkpoints")
    )
    result = invoke("check", run, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {
        *("model", "positive", "wording", "num_texts", "num_tests", "num_cases"),
        *("num_failures", "failure_rate", "capabilities", "tests"),
    }
    assert (report["positive"], report["wording"]) == ("pos", "movie")
    assert (report["num_tests"], report["num_cases"], report["num_texts"]) == (
        26,
        3160,
        3440,
    )
    assert [c["name"] for c in report["capabilities"]] == list(CAPABILITIES)
    assert set(report["tests"][0]) == {
        *("name", "capability", "kind", "description", "example"),
        *("num_cases", "num_failures", "failure_rate", "worst"),
    }
    assert result.stderr.strip() == f"wrote {JSON_NAME} and {HTML_NAME} to {run}"
    assert json.loads((run / JSON_NAME).read_text()) == report
    assert "<h1>Behaviour checks</h1>" in (run / HTML_NAME).read_text()
