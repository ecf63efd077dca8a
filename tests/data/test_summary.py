"""The dataset summary: counts per class and split, lengths, coverage."""

from textlstm.data import load_dataset
from textlstm.text import build_vectorizer, format_summary, summarize


def test_summary_counts_lengths_and_coverage(write):
    rows = ["text,label"] + [f"good film {i},pos" for i in range(4)]
    rows += [f"bad film {'x ' * i},neg" for i in range(4)] + [",neg"]
    train = write("train.csv", "\r\n".join(rows) + "\r\n")
    test = write("test.csv", "text,label\r\ngood unseen words,pos\r\n<br />,neg\r\n")
    bundle = load_dataset(
        {"source": "csv", "train": str(train), "test": str(test)}, seed=0
    )
    vectorizer = build_vectorizer({"max_tokens": 6, "sequence_length": 3}, bundle.train)
    summary = summarize(bundle, vectorizer)
    assert summary["class_names"] == ["neg", "pos"]
    assert summary["splits"]["test"] == {
        "examples": 2,
        "per_class": {"neg": 1, "pos": 1},
        "words": {
            "min": 0,
            "mean": 1.5,
            "p50": 1,
            "p90": 2,
            "p95": 2,
            "p99": 2,
            "max": 3,
        },
        "empty": 1,
    }
    assert (
        summary["splits"]["train"]["examples"]
        + summary["splits"]["validation"]["examples"]
        == 9
    )
    vocabulary = summary["vocabulary"]
    assert vocabulary["size"] == 6 and vocabulary["sequence_length"] == 3
    assert vocabulary["coverage"]["test"] == round(1 / 3, 4)  # "good" known only
    assert vocabulary["truncated"]["test"] == 0.0
    lines = format_summary(summary)
    assert lines[0].split() == [
        "split",
        "examples",
        "neg",
        "pos",
        "words",
        "p50",
        "p90",
        "max",
        "empty",
    ]
    assert lines[3].split() == ["test", "2", "1", "1", "1", "2", "3", "1"]
    assert lines[4] == "vocabulary: 6 tokens; coverage " + ", ".join(
        f"{split} {100 * vocabulary['coverage'][split]:.1f}%"
        for split in ("train", "validation", "test")
    )
    assert lines[5].startswith("longer than 3 tokens (truncated): train ")


def test_summary_without_vectorizer_is_plain_json():
    import json

    summary = summarize(load_dataset({"size": 30, "test_size": 10}))
    assert "vocabulary" not in summary
    assert json.loads(json.dumps(summary)) == summary
    assert len(format_summary(summary)) == 4
