"""A local server speaking TensorFlow Serving's REST API, for exports.

`textlstm serve EXPORT_BASE` answers the same requests as
`tensorflow_model_server --rest_api_port=8501 --model_base_path=EXPORT_BASE`,
so a client written for TF Serving works unchanged against it:

```
GET  /v1/models/NAME[/versions/N]             version status
GET  /v1/models/NAME[/versions/N]/metadata    signature definitions
POST /v1/models/NAME[/versions/N]:predict     {"instances": [...]} (row format)
                                              {"inputs": ...} (columnar format)
GET  /monitoring/prometheus/metrics           Prometheus metrics
```

Bad requests (malformed JSON, a missing field, a value of the wrong type or
shape, an unknown signature, JSON nested too deeply) get TF Serving's error
shape `{"error": "..."}` with status 400; an unknown model or version 404;
a body over 64 MiB 413; a request that finds the batch queue full 503. No
request can stop the server: every error becomes a JSON answer.

Concurrent predict requests are batched (`batching.py`, as TF Serving's
`--enable_batching`): one model call runs the rows of the requests that
arrived within a batch timeout, up to a maximum batch size, from a bounded
queue.

Like TF Serving, the server watches the base folder: new version folders are
loaded as they appear (an export is renamed into place, so it is complete)
and, with the default `latest` policy, replace the older version.

It is a WSGI application (`create_app` returns it, so any WSGI server can
host it) served by waitress; it loads SavedModels with
`tf.saved_model.load` only. For production at scale, TensorFlow Serving
itself serves the same folder.

The parts: `repository.py` (the loaded versions, kept up to date),
`batching.py` (the batch queue), `app.py` (paths, methods, error answers),
`rest.py` (request bodies to arrays and outputs to JSON), `metrics.py`
(Prometheus), and `server.py` (`make_server`,
`serve`). Version folders are found as the export writes them
(`textlstm.export.versions`).
"""

from textlstm.serving.app import MAX_REQUEST_BYTES, create_app
from textlstm.serving.batching import BatchOptions, QueueFull
from textlstm.serving.metrics import METRICS_PATH, ServingMetrics
from textlstm.serving.repository import ModelRepository
from textlstm.serving.rest import predict
from textlstm.serving.server import make_server, serve

__all__ = [
    "METRICS_PATH",
    "MAX_REQUEST_BYTES",
    "BatchOptions",
    "QueueFull",
    "ServingMetrics",
    "ModelRepository",
    "create_app",
    "make_server",
    "predict",
    "serve",
]
