"""Whether a model reads: counterfactual pairs and behaviour checks.

`pairs.py` reads files of original/edited pairs (an original review and
its minimal edit with the other label) and scores a model on both sides;
`behaviour.py` generates CheckList-style behaviour tests (negation,
contrast, intensity, invariance, direction) from the word lists in
`wordlists.py` and scores a model on them; `counterfactuals.py` makes
pairs automatically from a training split (a polarity lexicon learned
from it, antonyms, negation) for training that reads.

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
