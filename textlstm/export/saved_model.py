"""The SavedModel writer: a run's text model -> the TensorFlow Serving graph.

Only what the graph needs is tracked: the vectorizer (its lookup table) and
the classifier's variables, not the Keras model itself, whose traced
train/predict functions would be saved along. Both signatures call the
target's token function (`targets.token_function`) on ids without the
vectorizer's padding (`shapes.py`); the recurrent fast path is traced as
plain TensorFlow ops (`fast_path_options(xla=False)`), or with `xla=True`
as XLA-compiled loops on bucketed shapes.

Imports TensorFlow: used only while an export is written.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from textlstm.errors import ExportError
from textlstm.export.shapes import Buckets, classify_compact, compact_ids, text_ids
from textlstm.export.targets import target_tracing, token_function
from textlstm.export.warmup import write_warmup
from textlstm.layers.fast.compile import fast_path_options
from textlstm.runs import Run
from textlstm.text import write_vocabulary

__all__ = ["model_parts", "token_model", "write_saved_model"]


def model_parts(text_model):
    """The vectorizer layer and the token classifier of a text model."""
    classifier = text_model.get_layer("classifier")
    vectorizer = next(
        layer for layer in text_model.layers if hasattr(layer, "get_vocabulary")
    )
    return vectorizer, classifier


def token_model(text_model):
    """The model from token ids to the text model's probabilities: the
    classifier, or with `model.ngram_ensemble` the classifier and the
    n-gram model averaged (`textlstm.model.ngrams`)."""
    import keras

    _, classifier = model_parts(text_model)
    try:
        mixer = text_model.get_layer("mixed_probabilities")
    except ValueError:
        return classifier
    token_ids = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    outputs = mixer([classifier(token_ids), text_model.get_layer("ngrams")(token_ids)])
    return keras.Model(token_ids, outputs, name="ensemble")


def has_ngram_model(text_model) -> bool:
    """Whether the run averages its network with an n-gram model."""
    return any(layer.name == "ngrams" for layer in text_model.layers)


def write_saved_model(
    text_model,
    run: Run,
    folder: Path,
    *,
    target: str,
    tpu_batch_size: int | None,
    scratch: Path,
    xla: bool = False,
) -> dict:
    """Write the SavedModel of `target` to `folder`.

    Args:
        text_model: The run's end-to-end model (strings -> probabilities).
        run: The run folder (its class names and config).
        folder: The (new) SavedModel folder.
        target: `"cpu"`, `"gpu"` or `"tpu"`.
        tpu_batch_size: Static batch of `tpu_func` (default the config's
            `train.batch_size`).
        scratch: A folder for the files saved along (the vocabulary asset).
        xla: Trace the recurrent loops as XLA-compiled functions (the
            signatures then need a runtime with XLA's JIT enabled).

    Returns:
        The fields `export.json` adds for this target.
    """
    vectorizer, classifier = model_parts(text_model)
    if target == "tpu" and has_ngram_model(text_model):
        raise ExportError(
            "the tpu target cannot take a run with model.ngram_ensemble (its "
            "n-gram features have data-dependent shapes); export cpu or gpu"
        )
    heads = _heads(_class_names(run, classifier))
    batch_size = int(tpu_batch_size or run.config["train"]["batch_size"])
    scorer = token_model(text_model)
    tokens = token_function(target, scorer, vectorizer, heads, batch_size=batch_size)
    module = _module(vectorizer, scorer, scratch / "vocab.txt")
    for name, function in tokens.functions.items():
        setattr(module, name, function)
    # tpu: `run_fixed_shape` shapes the ids itself.
    buckets = Buckets.for_length(int(vectorizer.sequence_length)) if xla else None
    serve_text, serve_tokens = _serving_functions(
        vectorizer, tokens.classify, compact=target != "tpu", buckets=buckets
    )
    with fast_path_options(xla=xla), target_tracing(target, classifier) as traced:
        for function in tokens.functions.values():
            function.get_concrete_function()
        signatures = {
            "serving_default": serve_text.get_concrete_function(),
            "serve_tokens": serve_tokens.get_concrete_function(),
        }
        module.serve_text, module.serve_tokens = serve_text, serve_tokens
        # Still inside the block: saving traces the custom gradients.
        tf.saved_model.save(
            module,
            str(folder),
            signatures=signatures,
            options=tf.saved_model.SaveOptions(**tokens.options),
        )
    shapes = {"xla": bool(xla)}
    if buckets is not None and target != "tpu":
        shapes["buckets"] = buckets.to_json()
        # TF Serving compiles every bucket before serving (and so does
        # `textlstm serve`): the first requests pay no XLA compile.
        shapes["warmup_requests"] = write_warmup(folder, buckets, vectorizer)
    return {**tokens.info, **traced, **shapes}


def _class_names(run: Run, classifier) -> list[str]:
    class_names = list(run.class_names)
    num_classes = int(classifier.output.shape[-1])
    if len(class_names) != num_classes:
        raise ExportError(
            f"run.json has {len(class_names)} class names, the model {num_classes} "
            "outputs"
        )
    return class_names


def _heads(class_names: list[str]):
    """`(scored, labelled)`: probabilities -> the outputs without and with
    the `label` strings (kept out of the `tpu_func` alias)."""
    names = tf.constant(class_names, tf.string)

    def scored(probabilities):
        probabilities = tf.cast(probabilities, tf.float32)
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {"probabilities": probabilities, "label_id": label_id}

    def labelled(probabilities):
        outputs = scored(probabilities)
        return {**outputs, "label": tf.gather(names, outputs["label_id"])}

    return scored, labelled


def _module(vectorizer, classifier, vocabulary: Path) -> tf.Module:
    """The module saved: the vectorizer, the classifier's variables and the
    vocabulary asset (line i = token id i, for `serve_tokens` clients)."""
    write_vocabulary(vectorizer, vocabulary)
    module = tf.Module(name="textlstm_export")
    module.vectorizer = vectorizer
    module.classifier_variables = list(classifier.variables)
    module.vocabulary = tf.saved_model.Asset(str(vocabulary))
    return module


def _serving_functions(vectorizer, classify, *, compact: bool, buckets):
    """The functions of `serving_default` (text) and `serve_tokens` (ids).

    With `compact`, the classifier sees the ids without padding, bucketed
    with `buckets` (`shapes.py`); else what the vectorizer or client gave.
    """

    @tf.function(
        input_signature=[tf.TensorSpec([None], tf.string, "text")], autograph=False
    )
    def serve_text(text):
        if compact:
            return classify_compact(classify, text_ids(vectorizer, text, buckets))
        return classify(vectorizer(text))

    @tf.function(
        input_signature=[tf.TensorSpec([None, None], tf.int64, "token_ids")],
        autograph=False,
    )
    def serve_tokens(token_ids):
        if compact:
            return classify_compact(classify, compact_ids(token_ids, buckets))
        return classify(token_ids)

    return serve_text, serve_tokens
