"""The WSGI application: TF Serving's REST paths, methods and error shape.

```
GET  /v1/models/NAME[/versions/N]             version status
GET  /v1/models/NAME[/versions/N]/metadata    signature definitions
POST /v1/models/NAME[/versions/N]:predict     a predict request (`rest.py`)
GET  /monitoring/prometheus/metrics           Prometheus metrics (`metrics.py`)
```

No request can stop the server: every error becomes a JSON answer. A full
batch queue is answered 503, JSON nested deeper than Python's parser
takes 400, a body over `MAX_REQUEST_BYTES` 413.
"""

from __future__ import annotations

import json
import os
import re
import time
import traceback

import tensorflow as tf
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from textlstm.serving.metrics import (
    CONTENT_TYPE,
    METRICS_PATH,
    ServingMetrics,
    status_code_name,
)
from textlstm.serving.repository import ModelRepository
from textlstm.serving.rest import RequestError, predict

__all__ = ["MAX_REQUEST_BYTES", "create_app"]

#: Largest request body accepted (bytes).
MAX_REQUEST_BYTES = 64 * 1024 * 1024

_INT64_MAX = 2**63 - 1

_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+))?"
    r"(?P<suffix>/metadata|:predict|:classify|:regress)?/?$"
)


def create_app(repository: ModelRepository, metrics: ServingMetrics | None = None):
    """The WSGI application serving `repository`, counting in `metrics`."""

    def app(environ, start_response):
        request = Request(environ)
        request.max_content_length = MAX_REQUEST_BYTES
        if metrics is not None and request.path == METRICS_PATH:
            response = Response(metrics.exposition(), mimetype=None)
            response.headers["Content-Type"] = CONTENT_TYPE
            return response(environ, start_response)
        start = time.perf_counter()
        record = {"api": None, "version": None, "signature": ""}
        try:
            response = _handle(repository, request, record)
        except RequestError as error:
            response = _respond({"error": str(error)}, error.status)
        except HTTPException as error:  # e.g. body too large
            response = _respond({"error": error.description}, error.code or 400)
        except Exception as error:
            response = _respond(*internal_error(error))
        if metrics is not None and record["api"] is not None:
            metrics.observe_request(
                model=repository.name,
                version=record["version"],
                signature=record["signature"],
                api=record["api"],
                entrypoint="REST",
                status=status_code_name(response.status_code),
                seconds=time.perf_counter() - start,
            )
        return response(environ, start_response)

    return app


def _respond(body, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, indent=None) + "\n",
        status=status,
        mimetype="application/json",
    )


def _handle(repository: ModelRepository, request, record: dict) -> Response:
    """Answer a request; `record` gets the API, version and signature the
    metrics count it under."""
    version, suffix = _route(repository, request)
    record["version"] = version
    if suffix in (None, "/metadata"):
        record["api"] = "status" if suffix is None else "metadata"
        _require_method(request, "GET")
        if suffix is None:
            return _respond({"model_version_status": repository.status(version)})
        return _respond(_metadata(repository, version))
    record["api"] = suffix[1:]
    _require_method(request, "POST")
    if suffix != ":predict":
        raise RequestError(
            f"{suffix[1:]} is not supported: the signatures of this model are "
            "predict signatures (use :predict)"
        )
    number, servable = repository.get(version)
    record["version"] = number
    _require_length(request)
    body = _read_json(request)
    signature = body.get("signature_name", "serving_default")
    record["signature"] = signature if isinstance(signature, str) else ""
    return _respond(predict(servable, body))


def _route(repository: ModelRepository, request) -> tuple[int | None, str | None]:
    """The version (None: the latest) and suffix a request path names."""
    match = _PATH.match(request.path)
    if match is None:
        raise RequestError(f"Malformed request: {request.method} {request.path}", 404)
    name, version, suffix = match.group("name", "version", "suffix")
    if name != repository.name:
        name = _shown(name)
        what = f"Specific({name}, {_shown(version)})" if version else f"Latest({name})"
        raise RequestError(f"Servable not found for request: {what}", 404)
    if version is not None:
        # TF Serving's versions are int64: anything else (and a string of
        # 100,000 digits, which `int` refuses to convert) is a 400.
        digits = version.isascii() and version.isdigit() and len(version) <= 19
        if not digits or int(version) > _INT64_MAX:
            raise RequestError(
                f"Failed to convert version: {_shown(version)} to numeric."
            )
        version = int(version)
    return version, suffix


def _shown(part: str, limit: int = 40) -> str:
    """A URL part as an error message quotes it: at most `limit` characters.

    >>> _shown("7" * 100_000)
    '7777777777777777777777777777777777777777... (100000 characters)'
    """
    if len(part) <= limit:
        return part
    return f"{part[:limit]}... ({len(part)} characters)"


def _require_method(request, method: str) -> None:
    if request.method != method:
        raise RequestError(f"Malformed request: {request.method} {request.path}", 405)


def _require_length(request) -> None:
    """A body needs a Content-Length or chunked transfer coding (411)."""
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if request.content_length is None and not chunked:
        raise RequestError(
            "Length Required: a predict request needs a Content-Length header "
            "(or Transfer-Encoding: chunked)",
            411,
        )


def _metadata(repository: ModelRepository, version: int | None) -> dict:
    number, servable = repository.get(version)
    return {
        "model_spec": {
            "name": repository.name,
            "signature_name": "",
            "version": str(number),
        },
        "metadata": {"signature_def": {"signature_def": servable.metadata()}},
    }


def internal_error(error: Exception) -> tuple[dict, int]:
    if isinstance(error, tf.errors.InvalidArgumentError):
        # Keep the cause ("indices[0,0] = 70000 is not in [0, 20000)"), not
        # the graph execution boilerplate around it.
        noise = ("Graph execution error", "Detected at node", "<stack", "\t [[")
        lines = [
            line.strip()
            for line in error.message.splitlines()
            if line.strip() and not line.startswith(noise)
        ]
        return {"error": " ".join(lines) or error.message}, 400
    if os.environ.get("TEXTLSTM_DEBUG"):
        traceback.print_exc()
    return {"error": f"{type(error).__name__}: {error}"}, 500


def _read_json(request) -> dict:
    data = request.get_data(cache=False)
    try:
        body = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise RequestError(
            "JSON Parse error: the document is nested too deeply"
        ) from None
    except (UnicodeDecodeError, ValueError) as error:
        raise RequestError(f"JSON Parse error: {error}") from None
    if not isinstance(body, dict):
        raise RequestError("JSON Parse error: the request body must be a JSON object")
    return body
