"""The WSGI application: TF Serving's REST paths, methods and error shape.

```
GET  /v1/models/NAME[/versions/N]             version status
GET  /v1/models/NAME[/versions/N]/metadata    signature definitions
POST /v1/models/NAME[/versions/N]:predict     a predict request (`rest.py`)
```

No request can stop the server: every error becomes a JSON answer.
"""

from __future__ import annotations

import json
import os
import re
import traceback

import tensorflow as tf
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from textlstm.serving.repository import ModelRepository
from textlstm.serving.rest import RequestError, predict

__all__ = ["MAX_REQUEST_BYTES", "create_app"]

#: Largest request body accepted (bytes).
MAX_REQUEST_BYTES = 64 * 1024 * 1024

_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+))?"
    r"(?P<suffix>/metadata|:predict|:classify|:regress)?/?$"
)


def create_app(repository: ModelRepository):
    """The WSGI application serving `repository`."""

    def app(environ, start_response):
        request = Request(environ)
        request.max_content_length = MAX_REQUEST_BYTES
        try:
            response = _handle(repository, request)
        except RequestError as error:
            response = _respond({"error": str(error)}, error.status)
        except HTTPException as error:  # e.g. body too large
            response = _respond({"error": error.description}, error.code or 400)
        except Exception as error:
            response = _respond(*_internal_error(error))
        return response(environ, start_response)

    return app


def _respond(body, status: int = 200) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, indent=None) + "\n",
        status=status,
        mimetype="application/json",
    )


def _handle(repository: ModelRepository, request) -> Response:
    version, suffix = _route(repository, request)
    if suffix in (None, "/metadata"):
        _require_method(request, "GET")
        if suffix is None:
            return _respond({"model_version_status": repository.status(version)})
        return _respond(_metadata(repository, version))
    _require_method(request, "POST")
    if suffix != ":predict":
        raise RequestError(
            f"{suffix[1:]} is not supported: the signatures of this model are "
            "predict signatures (use :predict)"
        )
    _, servable = repository.get(version)
    return _respond(predict(servable, _read_json(request)))


def _route(repository: ModelRepository, request) -> tuple[int | None, str | None]:
    """The version (None: the latest) and suffix a request path names."""
    match = _PATH.match(request.path)
    if match is None:
        raise RequestError(f"Malformed request: {request.method} {request.path}", 404)
    name, version, suffix = match.group("name", "version", "suffix")
    if name != repository.name:
        what = f"Specific({name}, {version})" if version else f"Latest({name})"
        raise RequestError(f"Servable not found for request: {what}", 404)
    if version is not None:
        if not version.isdigit():
            raise RequestError(f"Failed to convert version: {version} to numeric.")
        version = int(version)
    return version, suffix


def _require_method(request, method: str) -> None:
    if request.method != method:
        raise RequestError(f"Malformed request: {request.method} {request.path}", 405)


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


def _internal_error(error: Exception) -> tuple[dict, int]:
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
    except (UnicodeDecodeError, ValueError) as error:
        raise RequestError(f"JSON Parse error: {error}") from None
    if not isinstance(body, dict):
        raise RequestError("JSON Parse error: the request body must be a JSON object")
    return body
