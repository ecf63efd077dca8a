"""Tests of `textlstm.explain` and `textlstm explain`: tokens, integrated
gradients, gates, retention and the files, on tiny models built here (random
weights: the values are checked against independent computations), plus two
slow checks on the real quickstart model."""

import json
import re
import shutil

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import EXPORT_RUN, handwritten_reviews
from textlstm.cli.main import cli
from textlstm.config import CELLS, load_config
from textlstm.explain import explain_texts, retention
from textlstm.layers import gate_activations
from textlstm.model import build_classifier, build_text_classifier
from textlstm.text import TextVectorizer

VOCABULARY = ["film", "the", "good", "bad", "was", "not", "plot", "dull"]
CLASSES = ["neg", "pos", "mixed"]
# Lengths 5, 2 and 7 (with [UNK]s): padding and masked steps in one batch.
TEXTS = ["The film was GOOD!", "bad plot", "the plot was dull, not good zzz qqq"]


def tiny_model(*overrides, sequence_length=10, padding="post", truncation="post"):
    config = load_config(
        "quickstart",
        [
            "model.units=5",
            "model.embedding_dim=4",
            f"text.sequence_length={sequence_length}",
            *overrides,
        ],
    )
    vectorizer = TextVectorizer(
        max_tokens=20,
        sequence_length=sequence_length,
        padding=padding,
        truncation=truncation,
        vocabulary=VOCABULARY,
    )
    keras.utils.set_random_seed(7)
    classifier = build_classifier(config, vectorizer, num_classes=len(CLASSES))
    return build_text_classifier(vectorizer, classifier)


def model_inputs(model, texts):
    """Padded ids, mask and embedding outputs, straight from the model."""
    vectorizer = model.layers[1]
    ids = np.asarray(vectorizer(np.array(texts, dtype=object)))
    embedded = model.get_layer("classifier").get_layer("embedding")(ids)
    return ids, ids != 0, embedded


def expected_retention(gate, mask, backward=False):
    """R_t by explicit loops: the product of `gate` over the unmasked s > t
    (s < t backward)."""
    steps, units = gate.shape
    result = np.zeros((steps, units))
    for t in range(steps):
        later = range(0, t) if backward else range(t + 1, steps)
        product = np.ones(units)
        for s in later:
            if mask[s]:
                product = product * gate[s]
        result[t] = product
    return result


def check_layer(reading, layer, inputs, mask, row):
    """The reading of `layer` for text `row` equals `gate_activations` on the
    same inputs (padded, with the mask), and its retention the loop product."""
    rnns = (
        [("forward", layer.forward_layer), ("backward", layer.backward_layer)]
        if isinstance(layer, keras.layers.Bidirectional)
        else [("forward", layer)]
    )
    assert [d.direction for d in reading.directions] == [d for d, _ in rnns]
    kept = mask[row]
    for direction, (name, rnn) in zip(reading.directions, rnns):
        gates = {k: v[row] for k, v in gate_activations(rnn, inputs, mask=mask).items()}
        for gate, values in gates.items():
            if gate == "h":
                expected = np.linalg.norm(values[kept], axis=-1)
                np.testing.assert_allclose(
                    direction.gates["h_norm"], expected, atol=1e-6
                )
            else:
                expected = values[kept].mean(-1)
                np.testing.assert_allclose(direction.gates[gate], expected, atol=1e-6)
        gate = "f" if "f" in gates else "z" if "z" in gates else None
        if gate is None:
            assert direction.retention is None and "not defined" in direction.note
            continue
        assert direction.retention_gate == gate
        loops = expected_retention(gates[gate], kept, backward=name == "backward")
        np.testing.assert_allclose(
            direction.retention_per_unit, loops[kept], rtol=1e-5, atol=1e-9
        )
        np.testing.assert_allclose(direction.retention, loops[kept].mean(-1), rtol=1e-5)


def check_explanations(model, texts, explanations, tolerance=0.01):
    ids, mask, embedded = model_inputs(model, texts)
    classifier = model.get_layer("classifier")
    probabilities = np.asarray(model.predict_on_batch(np.array(texts, dtype=object)))
    recurrent = [
        layer
        for layer in classifier.layers
        if isinstance(layer, (keras.layers.RNN, keras.layers.Bidirectional))
    ]
    for row, explanation in enumerate(explanations):
        assert explanation.label == CLASSES[probabilities[row].argmax()]
        np.testing.assert_allclose(
            list(explanation.probabilities.values()), probabilities[row], atol=1e-6
        )
        ig = explanation.integrated_gradients
        assert len(explanation.attributions) == mask[row].sum()
        assert ig.completeness_error == pytest.approx(
            abs(sum(explanation.attributions) - (ig.f_input - ig.f_baseline)), abs=1e-6
        )
        assert ig.relative_completeness_error < tolerance
        assert ig.f_input == pytest.approx(probabilities[row].max(), abs=1e-6)
        if not explanation.gates_available:
            continue
        inputs = embedded
        for reading, layer in zip(explanation.layers, recurrent):
            check_layer(reading, layer, inputs, mask, row)
            if len(recurrent) > 1:  # the next layer reads this one's sequences
                inputs = layer(inputs, mask=mask)
        unit = explanation.top_units[0]
        assert unit.layer == recurrent[-1].name
        assert abs(unit.contribution) >= abs(explanation.top_units[-1].contribution)


# --------------------------------------------------------------------------- #
# Tokens, retention


def test_tokens_are_the_vocabulary_lookup_with_unk_and_truncation():
    model = tiny_model(sequence_length=4, padding="pre", truncation="pre")
    (explanation,) = explain_texts(
        model, ["The <b>film</b>, was NOT zzz good!"], CLASSES
    )
    # Standardized, looked up, the last 4 kept (truncation: pre), no padding.
    assert explanation.tokens == ["was", "not", "[UNK]", "good"]
    assert explanation.token_ids == [
        VOCABULARY.index(t) + 2 if t != "[UNK]" else 1 for t in explanation.tokens
    ]
    (short,) = explain_texts(model, ["bad"], CLASSES)
    assert short.tokens == ["bad"] and len(short.attributions) == 1


def test_an_empty_text_gets_a_prediction_and_no_tokens():
    model = tiny_model()
    (explanation,) = explain_texts(model, ["  !!  "], CLASSES)
    assert explanation.tokens == [] and explanation.attributions == []
    assert explanation.integrated_gradients.completeness_error == 0.0
    assert "no tokens" in explanation.notes[0]
    probabilities = model.predict_on_batch(np.array(["  !!  "], dtype=object))[0]
    np.testing.assert_allclose(
        list(explanation.probabilities.values()), probabilities, atol=1e-6
    )


def test_retention_skips_masked_steps_and_runs_backwards():
    gate = np.random.default_rng(0).uniform(0.2, 1.0, (2, 6, 3))
    mask = np.array([[1, 1, 0, 1, 1, 0], [0, 1, 1, 1, 1, 1]], bool)
    for backward in (False, True):
        result = retention(gate, mask, reverse=backward)
        for row in range(2):
            expected = expected_retention(gate[row], mask[row], backward)
            np.testing.assert_allclose(result[row][mask[row]], expected[mask[row]])
            assert (result[row][~mask[row]] == 0).all()


# --------------------------------------------------------------------------- #
# Every cell, stacked, bidirectional, keras


@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_gates_retention_and_completeness(cell):
    model = tiny_model(f"model.cell={cell}")
    explanations = explain_texts(model, TEXTS, CLASSES)
    if cell == "layernorm_lstm":
        # Layer normalization is scale-invariant: F(alpha x) jumps right
        # after alpha = 0, so the zero baseline cannot be integrated from;
        # the error is reported honestly, with a note, instead.
        check_explanations(model, TEXTS, explanations, tolerance=np.inf)
        for explanation in explanations:
            ig = explanation.integrated_gradients
            if not ig.converged:
                assert "scale-invariant" in explanation.notes[0]
        return
    check_explanations(model, TEXTS, explanations)
    expected = {"simple_rnn": ["h_norm"], "gru": ["z", "r"]}.get(cell, ["i", "f", "o"])
    assert list(explanations[0].layers[0].directions[0].gates) == expected


def test_stacked_layers_read_the_previous_layers_sequences():
    model = tiny_model("model.layers=2", "model.pooling=max_mean", "model.head_units=3")
    explanations = explain_texts(model, TEXTS, CLASSES)
    assert [layer.name for layer in explanations[0].layers] == ["lstm_1", "lstm_2"]
    check_explanations(model, TEXTS, explanations)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_bidirectional_backward_retention_runs_over_earlier_tokens(cell):
    model = tiny_model(
        f"model.cell={cell}", "model.bidirectional=true", "model.layers=2",
        "model.pooling=attention", "model.embedding_dropout=0.5",
    )  # fmt: skip
    explanations = explain_texts(model, TEXTS, CLASSES)
    check_explanations(model, TEXTS, explanations)
    backward = explanations[0].layers[0].directions[1]
    assert backward.direction == "backward" and backward.retention[0] == 1.0
    assert {u.direction for e in explanations for u in e.top_units} == {
        "forward",
        "backward",
    }


def test_pre_padding_gives_the_same_explanation_as_post_padding():
    post = explain_texts(tiny_model(), TEXTS, CLASSES)
    pre = explain_texts(tiny_model(padding="pre"), TEXTS, CLASSES)
    for a, b in zip(post, pre):
        assert a.tokens == b.tokens
        np.testing.assert_allclose(a.attributions, b.attributions, atol=1e-6)
        np.testing.assert_allclose(
            a.layers[0].directions[0].retention, b.layers[0].directions[0].retention
        )


@pytest.mark.parametrize("bidirectional", [False, True])
def test_keras_layers_get_attributions_and_a_note_instead_of_gates(bidirectional):
    model = tiny_model("model.impl=keras", f"model.bidirectional={bidirectional}")
    explanations = explain_texts(model, TEXTS, CLASSES)
    check_explanations(model, TEXTS, explanations)
    explanation = explanations[0]
    assert not explanation.gates_available
    assert explanation.layers[0].directions == []
    name = explanation.layers[0].name
    assert explanation.notes == [
        f"gates are not available for {name}: the built-in keras.layers.LSTM does "
        "not expose its gates (train with model.impl: textlstm)"
    ]
    assert explanation.top_units and explanation.top_units[0].gates == {}


# --------------------------------------------------------------------------- #
# Files and the command line


def invoke(*args, input=None):
    return CliRunner().invoke(cli, [str(arg) for arg in args], input=input)


FIELDS = {
    "text", "tokens", "token_ids", "label", "probabilities", "attributions",
    "integrated_gradients", "layers", "top_units", "gates_available", "notes",
}  # fmt: skip
IG_FIELDS = {
    "target", "f_input", "f_baseline", "total", "completeness_error",
    "relative_completeness_error", "steps", "converged", "baseline", "rule",
}  # fmt: skip


def test_cli_writes_png_html_json_and_prints_json_lines(export_run, tmp_path):
    out = tmp_path / "explained"
    texts = "i found it brilliant .\nat first i found it dull . but it was moving .\n"
    result = invoke(
        "explain", export_run, "--input", "-", "--out", out, "--json", input=texts
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2 and lines[0]["text"] == "i found it brilliant ."
    for record in lines:
        assert set(record) == FIELDS
        assert set(record["integrated_gradients"]) == IG_FIELDS
        assert len(record["attributions"]) == len(record["tokens"])
        direction = record["layers"][0]["directions"][0]
        assert set(direction) == {
            "direction", "gates", "retention_gate", "retention",
            "retention_per_unit", "note",
        }  # fmt: skip
        for values in [*direction["gates"].values(), direction["retention"]]:
            assert len(values) == len(record["tokens"])
        assert set(record["top_units"][0]) == {
            "layer", "direction", "unit", "contribution", "gates", "retention",
        }  # fmt: skip
    document = json.loads((out / "explain.json").read_text())
    assert document["explanations"] == lines
    assert set(document) == {"run_dir", "method", "explanations"}
    assert (out / "text-001.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "text-002.png").is_file()
    page = (out / "explain.html").read_text()
    assert page.count('<span class="tok"') == sum(len(r["tokens"]) for r in lines)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "<script" not in page and "<link" not in page
    assert f"to {out}" in result.stderr


def test_cli_summary_and_default_out_dir(export_run, tmp_path):
    export_run = shutil.copytree(export_run, tmp_path / "run")  # keep the shared one
    result = invoke("explain", export_run, "i found it brilliant .", "a dull film")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("[1] ")
    assert "top tokens: " in result.stdout and "completeness error " in result.stdout
    assert f"to {export_run / 'explain'}" in result.stdout
    assert (export_run / "explain" / "explain.html").is_file()
    # A second, shorter call leaves no stale PNG behind.
    assert invoke("explain", export_run, "one text").exit_code == 0
    assert sorted(p.name for p in (export_run / "explain").glob("*.png")) == [
        "text-001.png"
    ]


def test_cli_errors_exit_2_with_one_line(export_run, tmp_path):
    absent, missing = tmp_path / "absent", tmp_path / "missing.txt"
    cases = [
        ((absent, "text"), f"run folder not found: {absent}"),
        (
            (tmp_path, "text"),
            f"{tmp_path} is not a finished textlstm run folder (config.yaml missing)",
        ),
        (
            (export_run,),
            "no texts to explain (give TEXT arguments, --input FILE, or pipe texts)",
        ),
        (
            (export_run, "--input", missing),
            f"--input {missing}: cannot read it (No such file or directory)",
        ),
        (
            (export_run, "--input", tmp_path),
            f"--input {tmp_path}: cannot read it (Is a directory)",
        ),
        (
            (export_run, "text", "--input", "x.txt"),
            "give TEXT arguments or --input FILE, not both",
        ),
    ]
    for args, message in cases:
        result = invoke("explain", *args, input="")
        assert result.exit_code == 2, result.output
        assert result.output.strip() == f"Error: {message}"


def test_cli_keras_impl_prints_one_line_about_gates(tmp_path):
    from textlstm.training import fit

    run_dir = tmp_path / "keras-run"
    config = load_config(
        "quickstart", [*EXPORT_RUN, "model.impl=keras", "train.epochs=1"]
    )
    fit(config, run_dir, verbose=0)
    result = invoke("explain", run_dir, "i found it dull .", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert result.stderr.count("gates are not available") == 1
    assert "train with model.impl: textlstm" in result.stderr


# --------------------------------------------------------------------------- #
# The real quickstart model (trains once per session, about a minute)


@pytest.fixture(scope="module")
def quickstart_explanations(quickstart_run):
    from textlstm.model import load_text_classifier
    from textlstm.training import read_run

    reviews = handwritten_reviews()
    model = load_text_classifier(quickstart_run)
    class_names = read_run(quickstart_run).class_names
    return reviews, explain_texts(model, [r["text"] for r in reviews], class_names)


@pytest.mark.slow
def test_quickstart_completeness_within_one_percent(quickstart_explanations):
    reviews, explanations = quickstart_explanations
    errors = [e.integrated_gradients.relative_completeness_error for e in explanations]
    worst = int(np.argmax(errors))
    assert max(errors) < 0.01, (reviews[worst]["text"], errors[worst])


@pytest.mark.slow
def test_quickstart_top_token_is_the_deciding_word(quickstart_explanations):
    """The explanation explains: the deciding opinion word is the token with
    the largest attribution in >= 90% of the hand-written reviews (96 of 96
    measured; 80 of 96 before the preset's `recurrent_l2`, see docs/explain.md)."""
    reviews, explanations = quickstart_explanations
    hits = [
        e.top_tokens(1)[0][0] == r["deciding"] for r, e in zip(reviews, explanations)
    ]
    misses = [
        (r["deciding"], e.top_tokens(2), r["text"])
        for r, e, hit in zip(reviews, explanations, hits)
        if not hit
    ]
    assert sum(hits) >= 0.9 * len(reviews), misses
