"""Behaviour tests in the spirit of CheckList (Ribeiro et al. 2020).

Templated sentences, filled from the word lists of `wordlists.py` by
`templates.py`, check what a two-class sentiment model does with
negation, contrast, intensity and edits that should not matter. Each test
is of one of three kinds:

- **MFT** (minimum functionality test): each text has an expected label
  ("The film was not good." is negative); a case fails when the model
  predicts the other one.
- **INV** (invariance): each case is an original text and an edit that
  must not change the label (another person's name, a typo in a neutral
  word); a case fails when the predicted label changes.
- **DIR** (directional): the edit must move P(positive) one way (adding
  "Highly recommended." must not lower it); a case fails when it moves
  the other way by more than a tolerance (0.1, as in CheckList).

A label is positive when P(positive) >= 0.5. `generate_tests` is
deterministic, so every test has the same cases on every run;
`run_checks` scores any function from texts to P(positive);
`check_model` scores a run folder or an export of `textlstm export`;
`report.py` writes the results as JSON and HTML. No TensorFlow at import.

Example, with a model that calls everything with "good" in it positive:

>>> import numpy as np
>>> def predict_positive(texts):
...     return np.array([0.9 if "good" in t.lower() else 0.1 for t in texts])
>>> report = run_checks(generate_tests("movie"), predict_positive)
>>> result = report.result("negated positive")
>>> result.num_cases, result.num_failures
(240, 24)
>>> result.worst[0].case.text, result.worst[0].probability
('The movie was not good.', 0.9)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from textlstm.errors import RunError
from textlstm.robustness.templates import (
    CAPABILITIES,
    DIR_TOLERANCE,
    POSITIVE,
    BehaviourTest,
    Case,
    generate_tests,
    with_typo,
)
from textlstm.runs import read_run

__all__ = [
    "CAPABILITIES",
    "DIR_TOLERANCE",
    "BehaviourResult",
    "BehaviourTest",
    "Case",
    "CheckReport",
    "Failure",
    "check_model",
    "generate_tests",
    "resolve_positive",
    "run_checks",
    "unique_texts",
    "with_typo",
]

#: Class names taken for the positive class when none is given: a name
#: starting with one of these (in lowercase: "pos", "Positive reviews"),
#: or "1" itself ("1 star" is no positive class).
POSITIVE_PREFIXES = ("pos", "good")
#: Failures kept per test, the most severe first.
WORST = 5


@dataclasses.dataclass(frozen=True)
class Failure:
    """A failed case and how badly it failed.

    Attributes:
        case: The case.
        probability: P(positive) of `case.text`.
        original_probability: P(positive) of `case.original` (INV, DIR).
        severity: MFT: how far P(positive) is from the expected label (0 or
            1); INV: how far the edit moved it; DIR: how far it moved the
            wrong way. Larger is worse.
    """

    case: Case
    probability: float
    original_probability: float | None
    severity: float

    def to_dict(self) -> dict:
        """The failure as JSON-ready values (probabilities to 4 decimals)."""
        return {
            "text": self.case.text,
            "probability": round(self.probability, 4),
            "expected": self.case.expected,
            "original": self.case.original,
            "original_probability": None
            if self.original_probability is None
            else round(self.original_probability, 4),
            "severity": round(self.severity, 4),
        }


@dataclasses.dataclass(frozen=True)
class BehaviourResult:
    """The outcome of one test.

    Attributes:
        test: The test.
        num_failures: How many of its cases failed.
        worst: The most severe failures, worst first (at most `WORST`).
    """

    test: BehaviourTest
    num_failures: int
    worst: tuple[Failure, ...]

    @property
    def num_cases(self) -> int:
        """How many cases the test has."""
        return len(self.test.cases)

    @property
    def failure_rate(self) -> float:
        """The share of the cases that failed (0 to 1)."""
        return self.num_failures / max(self.num_cases, 1)

    def to_dict(self) -> dict:
        """The test's name, kind, counts and worst failures, JSON-ready."""
        test = self.test
        return {
            "name": test.name,
            "capability": test.capability,
            "kind": test.kind,
            "description": test.description,
            "example": _example(test.cases[0]) if test.cases else None,
            "num_cases": self.num_cases,
            "num_failures": self.num_failures,
            "failure_rate": round(self.failure_rate, 4),
            "worst": [failure.to_dict() for failure in self.worst],
        }


@dataclasses.dataclass(frozen=True)
class CheckReport:
    """The outcome of every test, and what was checked.

    Attributes:
        results: One result per test, in the tests' order.
        num_texts: How many distinct texts the model read.
        model: The run folder or export checked ("" for a bare function).
        positive: The class taken as positive ("" for a bare function).
        wording: The wording of the tests ("" when not known).
    """

    results: tuple[BehaviourResult, ...]
    num_texts: int
    model: str = ""
    positive: str = ""
    wording: str = ""

    @property
    def num_cases(self) -> int:
        """How many cases all the tests have."""
        return sum(result.num_cases for result in self.results)

    @property
    def num_failures(self) -> int:
        """How many cases failed, over all the tests."""
        return sum(result.num_failures for result in self.results)

    def result(self, name: str) -> BehaviourResult:
        """The result of the test called `name` (KeyError if none)."""
        for result in self.results:
            if result.test.name == name:
                return result
        raise KeyError(name)

    def capabilities(self) -> list[dict]:
        """Per capability, in the order of the tests: `name`, `num_tests`,
        `num_cases`, `num_failures` and `failure_rate`."""
        summaries = []
        for name in dict.fromkeys(result.test.capability for result in self.results):
            results = [r for r in self.results if r.test.capability == name]
            cases = sum(result.num_cases for result in results)
            failures = sum(result.num_failures for result in results)
            summaries.append(
                {
                    "name": name,
                    "num_tests": len(results),
                    "num_cases": cases,
                    "num_failures": failures,
                    "failure_rate": round(failures / max(cases, 1), 4),
                }
            )
        return summaries

    def to_dict(self) -> dict:
        """Everything as one JSON-ready dict (`check.json`, `--json`)."""
        return {
            "model": self.model,
            "positive": self.positive,
            "wording": self.wording,
            "num_texts": self.num_texts,
            "num_tests": len(self.results),
            "num_cases": self.num_cases,
            "num_failures": self.num_failures,
            "failure_rate": round(self.num_failures / max(self.num_cases, 1), 4),
            "capabilities": self.capabilities(),
            "tests": [result.to_dict() for result in self.results],
        }


def unique_texts(tests: Iterable[BehaviourTest]) -> list[str]:
    """Every text the tests need (edited texts and originals), each once,
    in the order they first appear."""
    texts: dict[str, None] = {}
    for test in tests:
        for case in test.cases:
            if case.original is not None:
                texts.setdefault(case.original)
            texts.setdefault(case.text)
    return list(texts)


def run_checks(
    tests: Sequence[BehaviourTest],
    predict_positive: Callable[[list[str]], np.ndarray],
    *,
    batch_size: int = 256,
    worst: int = WORST,
) -> CheckReport:
    """Score a model on behaviour tests.

    Args:
        tests: The tests (`generate_tests()`, or tests of your own).
        predict_positive: Texts in, P(positive) per text out (any model:
            a Keras model's `predict` column, an export, a rule).
        batch_size: Texts per call of `predict_positive`; each distinct
            text is predicted once, whatever the number of tests using it.
        worst: Failures kept per test, the most severe first.

    Returns:
        A `CheckReport` (its `model`, `positive` and `wording` are empty).

    Raises:
        ValueError: `predict_positive` returned the wrong number of values.
    """
    texts = unique_texts(tests)
    probability: dict[str, float] = {}
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        values = np.asarray(predict_positive(chunk), dtype=np.float64).reshape(-1)
        if len(values) != len(chunk):
            raise ValueError(
                f"predict_positive returned {len(values)} values for {len(chunk)} texts"
            )
        probability.update(zip(chunk, values.tolist()))
    results = tuple(_score(test, probability, worst) for test in tests)
    return CheckReport(results=results, num_texts=len(texts))


def _score(
    test: BehaviourTest, probability: dict[str, float], worst: int
) -> BehaviourResult:
    failures = [
        failure
        for case in test.cases
        if (failure := _judge(test, case, probability)) is not None
    ]
    # A stable sort: equal severities keep the cases' (fixed) order.
    failures.sort(key=lambda failure: -failure.severity)
    return BehaviourResult(test, len(failures), tuple(failures[:worst]))


def _judge(
    test: BehaviourTest, case: Case, probability: dict[str, float]
) -> Failure | None:
    """The case's failure, or None when it passes."""
    after = probability[case.text]
    if test.kind == "MFT":
        target = 1.0 if case.expected == POSITIVE else 0.0
        if (after >= 0.5) == (target == 1.0):
            return None
        return Failure(case, after, None, abs(target - after))
    before = probability[case.original]
    if test.kind == "INV":
        if (after >= 0.5) == (before >= 0.5):
            return None
        return Failure(case, after, before, abs(after - before))
    if test.kind != "DIR":
        raise ValueError(f"{test.name}: kind {test.kind!r} is not MFT, INV or DIR")
    wrong_way = before - after if test.direction == "up" else after - before
    # A move of exactly the tolerance passes, whatever the float rounding
    # (0.8 - 0.7 is 0.10000000000000009).
    if wrong_way <= test.tolerance + 1e-9:
        return None
    return Failure(case, after, before, wrong_way)


def resolve_positive(class_names: Sequence[str], positive: str | None = None) -> str:
    """The class whose probability is P(positive).

    Args:
        class_names: The model's class names; there must be two.
        positive: The class to take; None takes the one class whose name
            starts with "pos" or "good" (case-insensitive), or is "1".

    Returns:
        The positive class's name.

    Raises:
        RunError: not two classes, no or several classes named like
            positive, or `positive` is not one of them.

    >>> resolve_positive(["neg", "pos"])
    'pos'
    >>> resolve_positive(["0", "1"])
    '1'
    >>> resolve_positive(["ham", "spam"], positive="ham")
    'ham'
    """
    names = [str(name) for name in class_names]
    listed = ", ".join(names)
    if len(names) != 2:
        raise RunError(
            f"behaviour checks need a two-class model; this one has "
            f"{len(names)} classes: {listed}"
        )
    if positive is not None:
        if positive not in names:
            raise RunError(
                f"--positive {positive!r} is not a class of the model "
                f"(classes: {listed})"
            )
        return positive
    found = [
        name
        for name in names
        if name.lower().startswith(POSITIVE_PREFIXES) or name.strip() == "1"
    ]
    if len(found) != 1:
        raise RunError(
            f"cannot tell which class is positive (classes: {listed}); "
            "give --positive LABEL"
        )
    return found[0]


def check_model(
    path: str | os.PathLike,
    positive: str | None = None,
    wording: str = "movie",
    *,
    batch_size: int = 64,
    worst: int = WORST,
    progress: Callable[[int, int], None] | None = None,
) -> CheckReport:
    """Run every behaviour test on a run folder or an export.

    Args:
        path: A run folder of `textlstm fit` (its `model.keras`) or an
            export of `textlstm export` (a version folder or a model base).
        positive: The positive class; None: see `resolve_positive`.
        wording: `"movie"` or `"general"` (see `generate_tests`).
        batch_size: Texts per model call.
        worst: Failures kept per test, the most severe first.
        progress: Called with `(texts done, texts in all)` as it goes.

    Returns:
        The `CheckReport`, with `model`, `positive` and `wording` set.

    Raises:
        RunError: the model does not have two classes, or its positive
            class is unknown (see `resolve_positive`).
        ConfigError: `wording` is not one of the wordings.
    """
    tests = generate_tests(wording)
    path = Path(path)
    if (path / "model.keras").is_file():
        # A run folder names its classes: refuse before loading anything.
        resolve_positive(read_run(path).class_names, positive)
    from textlstm.evaluation import predict_texts  # heavy: TensorFlow

    texts = unique_texts(tests)
    probability: dict[str, float] = {}
    label = positive
    records = predict_texts(path, texts, batch_size=batch_size)
    for done, (text, record) in enumerate(zip(texts, records), 1):
        if done == 1:
            label = resolve_positive(list(record["probabilities"]), positive)
        probability[text] = record["probabilities"][label]
        if progress is not None and (done % batch_size == 0 or done == len(texts)):
            progress(done, len(texts))
    report = run_checks(
        tests, lambda chunk: [probability[text] for text in chunk], worst=worst
    )
    return dataclasses.replace(report, model=str(path), positive=label, wording=wording)


def _example(case: Case) -> str:
    """A case as one line: the text, or `original -> edited`."""
    if case.original is None:
        return case.text
    return f"{case.original} -> {case.text}"
