"""Whether a model reads: counterfactual pairs and behaviour checks.

`pairs.py` reads files of original/edited pairs (an original review and
its minimal edit with the other label) and scores a model on both sides
(`textlstm evaluate --pairs`); `behaviour.py` runs CheckList-style
behaviour tests (negation, contrast, intensity, invariance, direction)
that `templates.py` generates from the word lists of `wordlists.py`, and
`report.py` writes them as JSON and HTML (`textlstm check`);
`counterfactuals.py` makes pairs automatically from a training split (a
polarity lexicon learned from it, antonyms, negation) and `augment.py`
adds pairs and counterfactuals to a training split (`data.pairs`,
`data.counterfactuals`).

Everything here works on texts, labels and a function from texts to
probabilities, so any model, run folder or export can be checked.

What it may import: `textlstm.errors`, `textlstm.config`, `textlstm.runs`,
`textlstm.data`, `textlstm.text` and `textlstm.evaluation` (to run a run
folder or an export over texts).
"""

from textlstm.robustness.pairs import (
    PairSet,
    evaluate_pairs,
    match_label,
    pair_metrics,
    read_pairs,
    save_pair_metrics,
)

__all__ = [
    "PairSet",
    "evaluate_pairs",
    "match_label",
    "pair_metrics",
    "read_pairs",
    "save_pair_metrics",
]
