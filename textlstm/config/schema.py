"""Every config key: its type, default, allowed values and meaning.

`SCHEMA` is the one place a key is declared. `textlstm.config` loads and
validates whole configs against it; `textlstm.text` and `textlstm.data`
take their defaults and checks from it (through `config.section_config`),
so every key has one rule, and one message, whichever way it arrives.
`textlstm configs --keys` prints the table.

Like `textlstm.config`, this module imports no TensorFlow or Keras.

The checks of values against it are `textlstm.config.validation`'s.

>>> SCHEMA["text"]["ngrams"].choices
(1, 2)
"""

from __future__ import annotations

from typing import Any

from textlstm.config.options import Option

__all__ = [
    "CELLS",
    "KERAS_CELLS",
    "Option",
    "SCHEMA",
    "SECTIONS",
    "TOP_LEVEL",
    "defaults",
]

#: The sections of a config, in the order they are written.
SECTIONS = ("data", "text", "model", "train", "pretrain")

_O = Option
_FILE_SOURCES = ("csv", "tsv", "jsonl")
#: The recurrent cells of `model.cell`.
CELLS = ("lstm", "gru", "peephole_lstm", "layernorm_lstm", "cifg_lstm", "simple_rnn")
#: The cells Keras ships too, for `model.impl: keras`.
KERAS_CELLS = ("lstm", "gru", "simple_rnn")

#: Every config key, by section. Add rows here to add keys: defaults, type
#: checks (in configs, `text_config` and `data_config` alike), `--set`,
#: `textlstm configs --keys` and the README table follow.
SCHEMA: dict[str, dict[str, Option]] = {
    "data": {
        "source": _O(
            str,
            "synthetic",
            "Where examples come from.",
            choices=("synthetic", "tfds", "directory", "csv", "tsv", "jsonl"),
        ),
        "name": _O(str, "imdb_reviews", "TensorFlow Datasets name (tfds only)."),
        "data_dir": _O(
            str,
            None,
            "TFDS data folder (tfds only); null: TFDS_DATA_DIR or the TFDS default.",
            nullable=True,
            path=("tfds",),
        ),
        "path": _O(
            str,
            None,
            "Root of the aclImdb layout root/<split>/<class>/*.txt (directory).",
            nullable=True,
            path=("directory",),
        ),
        "train": _O(
            str,
            None,
            "Training file (csv, tsv, jsonl) or tfds split name (tfds).",
            nullable=True,
            path=_FILE_SOURCES,
        ),
        "validation": _O(
            str,
            None,
            "Validation file or tfds split; null: held out of train.",
            nullable=True,
            path=_FILE_SOURCES,
        ),
        "test": _O(
            str,
            None,
            "Test file or tfds split; null: held out of train.",
            nullable=True,
            path=_FILE_SOURCES,
        ),
        "text_column": _O(str, "text", "Column or field holding the text."),
        "label_column": _O(str, "label", "Column or field holding the label."),
        "class_names": _O(
            list,
            None,
            "Class names in label-id order; null: sorted labels found in train.",
            nullable=True,
        ),
        "delimiter": _O(
            str,
            None,
            "Field separator of csv/tsv files; null: comma (csv) or tab (tsv).",
            nullable=True,
        ),
        "validation_fraction": _O(
            float,
            0.1,
            "Share of train held out for validation when the source has none.",
            minimum=0.0,
            maximum=0.9,
        ),
        "test_fraction": _O(
            float,
            0.2,
            "Share of train held out for test when the source has none.",
            minimum=0.0,
            maximum=0.9,
        ),
        "pairs": _O(
            str,
            None,
            "Counterfactual pairs added to the training split: a CSV/TSV/JSONL "
            "file paired by an id column, as evaluate --pairs reads it.",
            nullable=True,
            path=True,
        ),
        "pair_edits": _O(
            str,
            None,
            "The edits, row by row with data.pairs (which then holds the "
            "originals); null: data.pairs is paired by an id column.",
            nullable=True,
            path=True,
        ),
        "pairs_repeat": _O(
            int,
            1,
            "How many times the pairs' texts are added to the training split "
            "(their weight against it).",
            minimum=1,
        ),
        "counterfactuals": _O(
            float,
            0.0,
            "Share of the training texts to make automatic counterfactuals "
            "from (the words that carry the label flipped, relabelled; two "
            "classes); 0: off.",
            minimum=0.0,
            maximum=1.0,
        ),
        "size": _O(int, 5000, "Training reviews (synthetic only).", minimum=1),
        "test_size": _O(int, 1000, "Test reviews (synthetic only).", minimum=1),
        "distance": _O(
            int,
            10,
            "Neutral words after the deciding opinion: each review draws "
            "from [min_distance, 2 * distance] (synthetic only).",
            minimum=0,
        ),
        "min_distance": _O(
            int,
            0,
            "Fewest neutral words after the deciding opinion (synthetic only; "
            "at most 2 * distance).",
            minimum=0,
        ),
    },
    "text": {
        "max_tokens": _O(
            int,
            20000,
            "Vocabulary size, padding and out-of-vocabulary included; auto: "
            "tokens seen twice, up to 99% coverage (textlstm.text.sizing).",
            minimum=3,
            auto=True,
        ),
        "sequence_length": _O(
            int,
            200,
            "Tokens per text after padding or truncation; auto: the 95th "
            "percentile of the training texts' lengths (textlstm.text.sizing).",
            minimum=1,
            auto=True,
        ),
        "level": _O(str, "word", "Token unit.", choices=("word", "character")),
        "ngrams": _O(int, 1, "Largest n-gram added to the tokens.", choices=(1, 2)),
        "padding": _O(
            str, "post", "Where padding goes in short texts.", choices=("post", "pre")
        ),
        "truncation": _O(
            str,
            "post",
            "Which end of a long text is cut.",
            choices=("post", "pre"),
        ),
        "lowercase": _O(bool, True, "Lowercase texts (Unicode-aware)."),
        "strip_html": _O(bool, True, "Replace HTML tags and entities by spaces."),
        "strip_punctuation": _O(
            bool, True, "Drop apostrophes and replace punctuation by spaces."
        ),
        "bucketing": _O(
            bool, False, "Batch texts of similar length together (long texts)."
        ),
    },
    "model": {
        "embedding_dim": _O(int, 64, "Size of the token embedding.", minimum=1),
        "cell": _O(
            str,
            "lstm",
            "Recurrent cell; with impl textlstm each runs its fused fast path "
            "on TensorFlow (see layer.kernel_path).",
            choices=CELLS,
        ),
        "impl": _O(
            str,
            "textlstm",
            "textlstm: this package's layers; keras: keras.layers.LSTM/GRU/"
            "SimpleRNN (lstm, gru and simple_rnn only, for comparison).",
            choices=("textlstm", "keras"),
        ),
        "units": _O(
            int, 64, "Units of each recurrent layer (per direction).", minimum=1
        ),
        "layers": _O(int, 1, "Number of stacked recurrent layers.", minimum=1),
        "bidirectional": _O(bool, False, "Read each text in both directions."),
        "embedding_dropout": _O(
            float, 0.0, "Dropout on the embeddings.", minimum=0.0, maximum=0.95
        ),
        "embeddings": _O(
            str, None, "Pretrained word vectors (local file).", nullable=True, path=True
        ),
        "embeddings_trainable": _O(bool, True, "Train the embeddings; false: frozen."),
        "dropout": _O(
            float,
            0.0,
            "Dropout on the inputs of the recurrent cells.",
            minimum=0.0,
            maximum=0.95,
        ),
        "recurrent_dropout": _O(
            float,
            0.0,
            "Dropout on the recurrent state (disables the fast kernels: slower).",
            minimum=0.0,
            maximum=0.95,
        ),
        "recurrent_l2": _O(
            float,
            0.0,
            "L2 penalty on the recurrent kernels (weight decay of h U).",
            minimum=0.0,
        ),
        "pooling": _O(
            str,
            "last",
            "How the sequence becomes one vector (all mask-aware).",
            choices=("last", "max", "mean", "max_mean", "attention"),
        ),
        "attention_units": _O(
            int,
            64,
            "Hidden size of the attention scorer (pooling: attention).",
            minimum=1,
        ),
        "head_units": _O(
            int, 0, "Hidden Dense layer before the softmax; 0: none.", minimum=0
        ),
        "head_activation": _O(
            str,
            "relu",
            "Activation of the hidden head layer.",
            choices=("relu", "gelu", "tanh", "swish"),
        ),
        "head_dropout": _O(
            float, 0.0, "Dropout before the output layer.", minimum=0.0, maximum=0.95
        ),
        "init_from": _O(
            str,
            None,
            "A textlstm pretrain run folder: start the embedding and recurrent "
            "layers from its encoder, with its vocabulary; null: random.",
            nullable=True,
            path=True,
        ),
        "ngram_ensemble": _O(
            int,
            0,
            "N > 0: after the network, fit a logistic regression on tf-idf "
            "1..N-grams of the token ids and average the two; 0: none.",
            choices=(0, 1, 2, 3),
        ),
        "ngram_weight": _O(
            float,
            0.5,
            "The n-gram model's share of the averaged probabilities; auto: "
            "the one of 0, 0.1, ..., 1 with the lowest validation loss.",
            minimum=0.0,
            maximum=1.0,
            auto=True,
        ),
        "ngram_buckets": _O(
            int,
            2**20,
            "Hash slots of the n-gram model's 2..N-grams.",
            minimum=1,
        ),
    },
    "train": {
        "optimizer": _O(
            str, "adam", "Optimizer.", choices=("adam", "adamw", "rmsprop", "sgd")
        ),
        "learning_rate": _O(float, 1e-3, "Initial learning rate.", minimum=0.0),
        "lr_schedule": _O(
            str,
            "constant",
            "constant; cosine: decays to 0 over the run; exponential: times "
            "lr_decay_rate every epoch.",
            choices=("constant", "cosine", "exponential"),
        ),
        "lr_decay_rate": _O(
            float,
            0.5,
            "Factor per epoch (lr_schedule: exponential).",
            minimum=0.0,
            maximum=1.0,
        ),
        "warmup_epochs": _O(
            float, 0.0, "Linear learning-rate warm-up, in epochs.", minimum=0.0
        ),
        "weight_decay": _O(float, 0.0, "Decoupled weight decay (adamw).", minimum=0.0),
        "momentum": _O(
            float, 0.9, "Momentum (sgd, rmsprop).", minimum=0.0, maximum=1.0
        ),
        "clipnorm": _O(
            float,
            None,
            "Clip each gradient to this L2 norm; null: no clipping.",
            nullable=True,
            minimum=0.0,
        ),
        "epochs": _O(int, 3, "Passes over the training set.", minimum=1),
        "batch_size": _O(int, 64, "Examples per batch.", minimum=1),
        "early_stopping_patience": _O(
            int,
            0,
            "Stop after this many epochs without improvement; 0: off.",
            minimum=0,
        ),
        "early_stopping_monitor": _O(
            str,
            "val_loss",
            "Quantity watched by early stopping.",
            choices=("val_loss", "val_accuracy"),
        ),
        "restore_best_weights": _O(
            bool,
            False,
            "End with the weights of the best epoch of early_stopping_monitor.",
        ),
        "mixed_precision": _O(
            bool, False, "Compute in float16 (mixed_float16 policy; GPUs)."
        ),
        "seed": _O(int, 42, "Seed of data splits, shuffling and initialization."),
        "deterministic": _O(
            bool,
            False,
            "Deterministic ops: same seed, same metrics and weights (slower).",
        ),
        "strategy": _O(
            str,
            "default",
            "tf.distribute strategy: default (one device, Keras fit), mirrored "
            "(this machine's devices), multi_worker (TF_CONFIG's cluster), tpu.",
            choices=("default", "mirrored", "multi_worker", "tpu"),
        ),
        "gradual_unfreezing": _O(
            bool,
            False,
            "ULMFiT's gradual unfreezing: epoch 1 trains only the head, each "
            "later epoch one more layer from the top (model.init_from).",
        ),
        "adversarial": _O(
            float,
            0.0,
            "Adversarial training (Miyato et al. 2017): also train on each "
            "batch with its embedding outputs moved this fraction of their "
            "norm in the direction that raises the loss most; 0: off.",
            minimum=0.0,
            maximum=1.0,
        ),
        "pair_loss": _O(
            float,
            0.0,
            "Weight of the pairwise term (data.pairs): each step also takes a "
            "batch of pairs and pays -log sigmoid of how far the edit moved "
            "the log-odds towards its label; 0: off.",
            minimum=0.0,
        ),
        "pair_batch_size": _O(
            int,
            8,
            "Pairs per training step for train.pair_loss.",
            minimum=1,
        ),
        "jit_compile": _O(
            bool,
            False,
            "Compile the training step with XLA (static batch shapes: no "
            "bucketing, the last partial batch dropped).",
        ),
        "tpu": _O(
            str,
            "local",
            "The TPU of train.strategy tpu: a name or grpc:// address, or local.",
        ),
        "cluster_timeout": _O(
            float,
            120.0,
            "Seconds a multi_worker task waits for the others to join.",
            minimum=1.0,
        ),
    },
    "pretrain": {
        "epochs": _O(int, 3, "Passes of textlstm pretrain over its texts.", minimum=1),
        "batch_size": _O(int, 32, "Texts per language-model batch.", minimum=1),
        "learning_rate": _O(float, 1e-3, "Rate of train.optimizer.", minimum=0.0),
        "validate_every": _O(
            int,
            1,
            "Full-softmax held-out loss every N epochs (and after the last).",
            minimum=1,
        ),
        "num_sampled": _O(int, 512, "Negatives of the sampled softmax.", minimum=1),
        "embedding_dropout": _O(
            float,
            None,
            "Embedding dropout of the language model; null: "
            "model.embedding_dropout (the classifier keeps its own).",
            nullable=True,
            minimum=0.0,
            maximum=0.9,
        ),
        "unlabeled": _O(
            str,
            None,
            "Extra texts: csv/tsv/jsonl/txt file (txt: a text a line) or a "
            "folder of .txt files (a text each); null: train texts only.",
            nullable=True,
            path=True,
        ),
        "text_column": _O(str, "text", "Text column/field of pretrain.unlabeled."),
        "holdout_fraction": _O(
            float,
            0.1,
            "Share of texts held out for perplexity.",
            minimum=0.01,
            maximum=0.5,
        ),
    },
}

#: The keys outside the sections.
TOP_LEVEL: dict[str, Option] = {
    "name": _O(str, "custom", "Name of the config; run folders are named after it."),
    "description": _O(str, "", "One line about what this config is for."),
}


def defaults(section: str) -> dict[str, Any]:
    """The default of every key of `section`, in schema order.

    >>> defaults("text")["sequence_length"]
    200
    """
    return {key: option.default for key, option in SCHEMA[section].items()}
