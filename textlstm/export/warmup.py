"""TensorFlow Serving warm-up requests for `--xla` exports.

XLA compiles one kernel per input shape on first use (half a second and
more each on a small CPU), and the `--xla` signatures round every request
up to a few bucketed shapes (`shapes.py`). TF Serving replays the
`PredictionLog` records of `assets.extra/tf_serving_warmup_requests` when
it loads a version, before the version serves: written here with one
`serving_default` request per (batch bucket up to `WARMUP_BATCH`, length
bucket), so the first real requests pay no compile. `textlstm serve`
replays the same file (`replay_warmup`).

Imports TensorFlow and the TF Serving protos.
"""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

from textlstm.export.shapes import Buckets

__all__ = ["WARMUP_BATCH", "WARMUP_FILE", "replay_warmup", "write_warmup"]

#: TF Serving's name of the warm-up file, under `assets.extra/`.
WARMUP_FILE = "tf_serving_warmup_requests"
#: The largest batch bucket warmed up (larger ones compile on first use).
WARMUP_BATCH = 64


def _requests(buckets: Buckets, text_of_length):
    """One `serving_default` request per (batch, length) bucket pair."""
    texts = [text_of_length(length) for length in buckets.lengths]
    for batch in (b for b in buckets.batches if b <= WARMUP_BATCH):
        for text in texts:
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = "serving_default"
            request.inputs["text"].CopyFrom(
                tf.make_tensor_proto([text] * batch, tf.string)
            )
            yield request


def write_warmup(folder: Path, buckets: Buckets, vectorizer) -> int:
    """Write `folder/assets.extra/tf_serving_warmup_requests`; returns the
    number of requests. Each length bucket gets a text the vectorizer
    turns into as many tokens as fit it."""
    path = folder / "assets.extra" / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with tf.io.TFRecordWriter(str(path)) as writer:
        for request in _requests(buckets, _text_of_length(vectorizer)):
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
            count += 1
    return count


def replay_warmup(folder: Path, signatures) -> int:
    """Run the warm-up requests of an export on its loaded `signatures`
    (none: 0). Returns how many ran."""
    path = Path(folder) / "assets.extra" / WARMUP_FILE
    if not path.is_file():
        return 0
    count = 0
    for record in tf.data.TFRecordDataset(str(path)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        signature = signatures[request.model_spec.signature_name or "serving_default"]
        signature(
            **{key: tf.make_ndarray(proto) for key, proto in request.inputs.items()}
        )
        count += 1
    return count


def _text_of_length(vectorizer):
    """`text_of_length(n)`: a repeated vocabulary word, as many times as
    give at most `n` tokens (bigrams and characters counted as the
    vectorizer counts them)."""
    word = next((w for w in vectorizer.get_vocabulary()[2:] if " " not in w), "the")

    def count(words: int) -> int:
        text = tf.constant([" ".join([word] * words)])
        return int(vectorizer.token_ids(text).row_lengths()[0])

    first, step = count(1), max(1, count(2) - count(1))

    def text_of_length(length: int) -> str:
        words = max(1, (length - first) // step + 1)
        while words > 1 and count(words) > length:
            words -= 1
        return " ".join([word] * words)

    return text_of_length
