"""Counterfactual pairs: reading both layouts, the metrics, the errors, and
`textlstm evaluate --pairs` on a run folder and on an export."""

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from textlstm.cli.main import cli
from textlstm.errors import DataError
from textlstm.robustness.pairs import (
    PairSet,
    match_label,
    pair_metrics,
    read_pairs,
)

NAMES = ["neg", "pos"]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CAD_DEV = SHARED / "imdb_counterfactual" / "cad_dev_paired.tsv"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def paired_tsv(tmp_path) -> Path:
    """Three pairs in Kaushik et al.'s layout: the original first."""
    return write(
        tmp_path / "pairs.tsv",
        "Sentiment\tText\tbatch_id\n"
        "Positive\ta fine film\t7\n"
        "Negative\ta dull film\t7\n"
        "Negative\tnot good\t3\n"
        "Positive\tnot bad\t3\n"
        "Positive\tloved it\t9\n"
        "Negative\thated it\t9\n",
    )


# --------------------------------------------------------------------------- #
# Labels and reading


@pytest.mark.parametrize(
    "raw, names, expected",
    [
        ("Positive", NAMES, 1),
        ("negative", NAMES, 0),
        ("POS", NAMES, 1),
        (0, NAMES, 0),
        ("1", NAMES, 1),
        ("pos", ["negative", "positive"], 1),
        ("2", NAMES, None),
        ("neutral", NAMES, None),
        ("", NAMES, None),
        ("1", ["0", "1"], 1),
        ("b", ["b", "a"], 0),
    ],
)
def test_labels_are_matched_to_the_model_classes(raw, names, expected):
    assert match_label(raw, names) == expected


def test_an_id_paired_file_gives_pairs_in_file_order(paired_tsv):
    pairs = read_pairs([paired_tsv], NAMES)
    assert pairs.originals == ["a fine film", "not good", "loved it"]
    assert pairs.edits == ["a dull film", "not bad", "hated it"]
    assert pairs.original_labels.tolist() == [1, 0, 1]
    assert pairs.edit_labels.tolist() == [0, 1, 0]
    assert pairs.name == "pairs.tsv"
    assert pairs.where == [f"{paired_tsv}: line {n}" for n in (2, 4, 6)]


def test_two_row_aligned_files_pair_row_by_row(tmp_path):
    originals = write(tmp_path / "o.csv", "label,text\npos,great\n0,awful\n")
    edits = tmp_path / "e.jsonl.gz"
    with gzip.open(edits, "wt", encoding="utf-8") as file:
        file.write('{"text": "not great", "label": "negative"}\n\n')
        file.write('{"text": "not awful", "label": 1}\n')
    pairs = read_pairs([originals, edits], NAMES)
    assert (pairs.originals, pairs.edits) == (
        ["great", "awful"],
        ["not great", "not awful"],
    )
    assert pairs.original_labels.tolist() == [1, 0]
    assert pairs.edit_labels.tolist() == [0, 1]
    assert pairs.name == "o.csv + e.jsonl.gz"


def test_columns_can_be_named(tmp_path):
    path = write(tmp_path / "p.csv", "y,x,g\npos,good,a\nneg,bad,a\n")
    pairs = read_pairs(
        [path], NAMES, text_column="x", label_column="y", pair_column="g"
    )
    assert (pairs.originals, pairs.edits) == (["good"], ["bad"])


def bad_files(tmp_path):
    header = "Sentiment\tText\tbatch_id\n"
    return {
        "lonely": (
            header + "Positive\ta\t1\nNegative\tb\t1\nPositive\tc\t2\n",
            "{}: line 4: pair '2' has 1 row; a pair is 2 rows (the original, "
            "then its edit)",
        ),
        "crowded": (
            header + "Positive\ta\t1\nNegative\tb\t1\nPositive\tc\t1\n",
            "{}: line 4: pair '1' has 3 rows; a pair is 2 rows (the original, "
            "then its edit)",
        ),
        "same": (
            header + "Positive\ta\t1\nPositive\tb\t1\n",
            "{0}: line 3: the edit has the same label as its original ({0}: line "
            "2): 'pos'; an edit must flip the label",
        ),
        "unknown": (
            header + "Positive\ta\t1\nNeutral\tb\t1\n",
            "{}: line 3: label 'Neutral' is not one of the model's classes neg, pos",
        ),
        "no_text": (
            "Sentiment\tbody\tbatch_id\nPositive\ta\t1\n",
            "{}: no text column (looked for text, review, sentence, content); "
            "columns: Sentiment, body, batch_id",
        ),
        "no_pair": (
            "Sentiment\tText\nPositive\ta\nNegative\tb\n",
            "{}: no pair id column (looked for pair_id, batch_id, pair, id); "
            "columns: Sentiment, Text",
        ),
        "ragged": (
            header + "Positive\ta\n",
            "{}: line 2: expected 3 fields, found 2",
        ),
        "empty_label": (
            header + "\ta\t1\n",
            "{}: line 2: empty label",
        ),
        "header_only": (header, "{}: no rows"),
    }


@pytest.mark.parametrize("case", list(bad_files(Path("."))))
def test_bad_pair_files_get_one_line_errors(tmp_path, case):
    text, message = bad_files(tmp_path)[case]
    path = write(tmp_path / f"{case}.tsv", text)
    with pytest.raises(DataError) as caught:
        read_pairs([path], NAMES)
    assert str(caught.value) == message.format(path)


def test_row_aligned_files_must_have_the_same_rows(tmp_path):
    a = write(tmp_path / "a.tsv", "label\ttext\npos\tx\nneg\ty\n")
    b = write(tmp_path / "b.tsv", "label\ttext\nneg\tx\n")
    with pytest.raises(DataError) as caught:
        read_pairs([a, b], NAMES)
    assert str(caught.value) == (
        f"{a} has 2 rows and {b} has 1; row-aligned pair files need the same number"
    )


def test_unknown_suffixes_and_file_counts_are_refused(tmp_path):
    path = write(tmp_path / "pairs.txt", "x")
    with pytest.raises(DataError, match=r"pairs.txt: pair files are \.csv, \.tsv"):
        read_pairs([path], NAMES)
    with pytest.raises(DataError, match="got 3 files"):
        read_pairs([path] * 3, NAMES)


def test_bad_json_names_its_line(tmp_path):
    path = write(tmp_path / "p.jsonl", '{"text": "a", "label": 1, "id": 1}\n[1]\n')
    with pytest.raises(DataError) as caught:
        read_pairs([path], NAMES)
    assert str(caught.value) == f"{path}: line 2: expected a JSON object"


# --------------------------------------------------------------------------- #
# Metrics


def four_pairs() -> PairSet:
    return PairSet(
        originals=["o1", "o2", "o3", "o4"],
        edits=["e1", "e2", "e3", "e4"],
        original_labels=np.array([1, 0, 1, 0]),
        edit_labels=np.array([0, 1, 0, 1]),
        class_names=NAMES,
        name="four",
    )


def test_pair_metrics_are_exact():
    # Originals: right, right, right, wrong. Edits: right, wrong, wrong, right.
    originals = np.array([[0.2, 0.8], [0.9, 0.1], [0.4, 0.6], [0.3, 0.7]])
    edits = np.array([[0.7, 0.3], [0.6, 0.4], [0.45, 0.55], [0.1, 0.9]])
    metrics = pair_metrics(four_pairs(), originals, edits)
    assert metrics["num_pairs"] == 4
    assert metrics["original_accuracy"] == 0.75
    assert metrics["edited_accuracy"] == 0.5
    assert metrics["consistency"] == 0.25  # only pair 1 has both right
    assert metrics["flip_rate"] == 0.25  # only pair 1's prediction changed
    # P(edit label) gains: +0.5, +0.3, +0.05, +0.2 -> mean 0.2625
    assert metrics["mean_shift"] == 0.2625
    assert metrics["originals"]["confusion_matrix"] == [[1, 1], [0, 2]]
    assert metrics["edits"]["confusion_matrix"] == [[1, 1], [1, 1]]
    moved = metrics["least_moved"]
    assert [pair["edit"] for pair in moved] == ["e3", "e4", "e2", "e1"]
    assert moved[0] == {
        "where": "2",
        "edit_label": "neg",
        "predicted": "pos",
        "shift": 0.05,
        "edit": "e3",
    }
    json.dumps(metrics)  # JSON-ready


def test_a_model_that_ignores_the_edit_is_consistent_on_none():
    pairs = four_pairs()
    same = np.array([[0.3, 0.7]] * 4)
    metrics = pair_metrics(pairs, same, same)
    assert (metrics["consistency"], metrics["flip_rate"], metrics["mean_shift"]) == (
        0.0,
        0.0,
        0.0,
    )
    assert metrics["original_accuracy"] + metrics["edited_accuracy"] == 1.0


# --------------------------------------------------------------------------- #
# The command


def invoke(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def test_evaluate_pairs_on_a_run_prints_saves_and_prints_json(export_run, paired_tsv):
    result = invoke("evaluate", export_run, "--pairs", paired_tsv, "--json")
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    saved = json.loads((export_run / "pairs" / "pairs.tsv.json").read_text())
    assert saved == metrics
    assert metrics["num_pairs"] == 3
    assert metrics["class_names"] == ["neg", "pos"]
    assert metrics["originals"]["num_examples"] == metrics["edits"]["num_examples"] == 3
    shown = invoke("evaluate", export_run, "--pairs", paired_tsv)
    assert shown.exit_code == 0, shown.output
    assert "pairs.tsv (3 pairs" in shown.output
    assert "consistency (both right)" in shown.output
    assert f"saved to {export_run / 'pairs' / 'pairs.tsv.json'}" in shown.output


def test_evaluate_pairs_on_an_export_equals_the_run(exports, paired_tsv):
    from_run = json.loads(
        invoke("evaluate", exports.run, "--pairs", paired_tsv, "--json").output
    )
    result = invoke("evaluate", exports.base / "cpu", "--pairs", paired_tsv, "--json")
    assert result.exit_code == 0, result.output
    from_export = json.loads(result.output)
    for key in ("original_accuracy", "edited_accuracy", "consistency", "flip_rate"):
        assert from_export[key] == from_run[key]
    assert from_export["mean_shift"] == pytest.approx(from_run["mean_shift"], abs=1e-5)
    assert not (exports.base / "cpu" / "1" / "pairs").exists()


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--pairs", "missing.tsv"], "Error: --pairs missing.tsv: no such file"),
        (
            ["--pairs", "{p}", "--pairs", "{p}", "--pairs", "{p}"],
            "Error: give --pairs once (a file paired by an id column) or twice "
            "(originals, then edits), not 3 times",
        ),
    ],
)
def test_evaluate_pairs_refuses_bad_options(export_run, paired_tsv, extra, message):
    args = [arg.format(p=paired_tsv) for arg in extra]
    result = invoke("evaluate", export_run, *args)
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == message


def test_evaluate_pairs_says_what_is_wrong_in_the_file(export_run, tmp_path):
    path = write(tmp_path / "p.tsv", "Sentiment\tText\tbatch_id\nPositive\ta\t1\n")
    result = invoke("evaluate", export_run, "--pairs", path)
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: {path}: line 2: pair '1' has 1 row; a pair is 2 rows "
        "(the original, then its edit)"
    )


def test_an_export_without_pairs_is_refused_in_one_line(exports):
    result = invoke("evaluate", exports.base / "cpu")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"Error: {exports.base / 'cpu'} is an export: it can be evaluated on "
        "--pairs FILE; give its run folder to evaluate a split"
    )


@pytest.mark.skipif(not CAD_DEV.is_file(), reason="../shared/data is absent")
def test_the_shared_dev_pairs_are_read_as_245_pairs():
    pairs = read_pairs([CAD_DEV], NAMES)
    assert len(pairs) == 245
    assert sorted(np.bincount(pairs.original_labels).tolist()) == [122, 123]
    assert (pairs.original_labels != pairs.edit_labels).all()


# --------------------------------------------------------------------------- #
# Pairs and counterfactuals as training data


def tiny_bundle(class_names=("neg", "pos")):
    import tensorflow as tf

    from textlstm.data import DatasetBundle

    def split(texts, labels):
        return tf.data.Dataset.from_tensor_slices(
            (texts, tf.constant(labels, tf.int64))
        )

    texts = ["a good film", "a bad film", "good acting", "bad acting"] * 5
    labels = [1, 0, 1, 0] * 5
    return DatasetBundle(
        train=split(texts, labels),
        validation=split(["ok"], [1]),
        test=split(["fine"], [0]),
        class_names=list(class_names),
        fingerprint="f" * 16,
    )


def test_pairs_are_added_to_train_repeat_times(paired_tsv):
    from textlstm.robustness.augment import augment_training

    bundle = tiny_bundle()
    data = {"pairs": str(paired_tsv), "pairs_repeat": 2, "counterfactuals": 0.0}
    augmented, report, pairs = augment_training(bundle, data)
    rows = [(t.decode(), int(y)) for t, y in augmented.train.as_numpy_iterator()]
    assert len(rows) == 20 + 2 * 6
    added = rows[20:]
    texts = [
        "a fine film",
        "not good",
        "loved it",
        "a dull film",
        "not bad",
        "hated it",
    ]
    assert added == list(zip(texts, [1, 0, 1, 0, 1, 0])) * 2
    assert (pairs.originals, pairs.edits) == (texts[:3], texts[3:])
    assert augmented.validation is bundle.validation
    assert augmented.test is bundle.test
    assert augmented.fingerprint != bundle.fingerprint
    assert report["pairs"]["pairs"] == 3
    assert report["pairs"]["texts"] == 12
    assert report["added"] == 12
    assert report["pairs"]["message"] == (
        "Adding 3 counterfactual pairs x 2: 12 training texts (pairs.tsv)"
    )
    again, *_ = augment_training(bundle, {**data, "pairs_repeat": 3})
    assert again.fingerprint not in (bundle.fingerprint, augmented.fingerprint)


def test_pairs_with_a_text_in_validation_or_test_are_left_out(tmp_path):
    from textlstm.robustness.augment import augment_training

    path = write(
        tmp_path / "pairs.tsv",
        "label\ttext\tpair_id\n"
        "pos\tok\t1\nneg\tnot ok\t1\n"  # "ok" is a validation text
        "pos\tgreat\t2\nneg\tawful\t2\n"
        "neg\tbleak\t3\npos\t  fine \t3\n",  # "fine" (spaces aside): test
    )
    bundle = tiny_bundle()
    data = {"pairs": str(path), "pairs_repeat": 1}
    augmented, report, pairs = augment_training(bundle, data)
    assert (pairs.originals, pairs.edits) == (["great"], ["awful"])
    assert report["pairs"]["pairs"] == 1
    assert report["pairs"]["dropped"] == 2
    assert report["added"] == 2
    assert report["pairs"]["message"] == (
        "Adding 1 counterfactual pair: 2 training texts (pairs.tsv); 2 pairs "
        "left out: a text of theirs is in the validation or test split"
    )


def test_nothing_asked_changes_nothing():
    from textlstm.robustness.augment import augment_training

    bundle = tiny_bundle()
    augmented, report, pairs = augment_training(
        bundle, {"pairs": None, "counterfactuals": 0}
    )
    assert (augmented, report, pairs) == (bundle, None, None)


def test_counterfactuals_are_made_from_train_and_relabelled():
    import tensorflow as tf

    from textlstm.robustness.augment import augment_training

    nouns = "film plot cast music ending script score pacing story dialogue".split()
    texts = [f"a {word} {noun} ." for word in ("great", "terrible") for noun in nouns]
    labels = [1] * 10 + [0] * 10
    bundle = tiny_bundle()
    bundle.train = tf.data.Dataset.from_tensor_slices(
        (texts * 3, tf.constant(labels * 3, tf.int64))
    )
    augmented, report, pairs = augment_training(
        bundle, {"counterfactuals": 0.5}, seed=3
    )
    rows = [(t.decode(), int(y)) for t, y in augmented.train.as_numpy_iterator()]
    made = report["counterfactuals"]
    assert (made["texts"], made["tried"], made["kept"]) == (60, 30, 30)
    assert made["lexicon"] == {"neg": ["terrible"], "pos": ["great"]}
    assert len(rows) == 60 + 30 == 60 + report["added"]
    # Each edit swaps the word that carries the label, and flips the label.
    swap = {"great": "terrible", "terrible": "great"}
    made_from = {
        " ".join(swap.get(w, w) for w in text.split()): 1 - label
        for text, label in zip(texts, labels)
    }
    assert all(made_from[text] == label for text, label in rows[60:])
    # The pairwise term takes human pairs only (see augment.py).
    assert pairs is None


def test_counterfactuals_need_two_classes():
    from textlstm.robustness.augment import augment_training

    with pytest.raises(DataError) as caught:
        augment_training(tiny_bundle(("a", "b", "c")), {"counterfactuals": 0.5})
    assert str(caught.value) == (
        "data.counterfactuals: automatic counterfactuals need two classes, the "
        "dataset has 3 (a, b, c)"
    )
