"""A local server speaking TensorFlow Serving's REST API, for exports.

`textlstm serve EXPORT_BASE` answers the same requests as
`tensorflow_model_server --rest_api_port=8501 --model_base_path=EXPORT_BASE`,
so a client written for TF Serving works unchanged against it:

```
GET  /v1/models/NAME[/versions/N]             version status
GET  /v1/models/NAME[/versions/N]/metadata    signature definitions
POST /v1/models/NAME[/versions/N]:predict     {"instances": [...]} (row format)
                                              {"inputs": ...} (columnar format)
```

Bad requests (malformed JSON, a missing field, a value of the wrong type or
shape, an unknown signature) get TF Serving's error shape `{"error": "..."}`
with status 400; an unknown model or version 404. No request can stop the
server: every error becomes a JSON answer.

Like TF Serving, the server watches the base folder: new version folders are
loaded as they appear (an export is renamed into place, so it is complete)
and, with the default `latest` policy, replace the older version.

It is a WSGI application on Werkzeug (`create_app` returns it, so any WSGI
server can host it); it loads SavedModels with `tf.saved_model.load` only.
For production, run TensorFlow Serving itself on the same folder.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np

__all__ = ["ModelRepository", "create_app", "make_server", "serve"]

#: Largest request body accepted (bytes).
MAX_REQUEST_BYTES = 64 * 1024 * 1024

_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+))?"
    r"(?P<suffix>/metadata|:predict|:classify|:regress)?/?$"
)


class _RequestError(Exception):
    """Answered as `{"error": message}` with `status`."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class _Servable:
    """One loaded version: the SavedModel and its signature specs."""

    def __init__(self, path: Path):
        import tensorflow as tf

        self.path = path
        self.loaded = tf.saved_model.load(str(path))
        self.signatures = dict(self.loaded.signatures)
        self.input_specs = {
            name: dict(function.structured_input_signature[1])
            for name, function in self.signatures.items()
        }
        self._metadata = None

    def metadata(self) -> dict:
        """The SignatureDefMap as TF Serving's JSON prints it."""
        if self._metadata is None:
            from google.protobuf import json_format
            from tensorflow.core.protobuf import saved_model_pb2

            saved_model = saved_model_pb2.SavedModel()
            saved_model.ParseFromString((self.path / "saved_model.pb").read_bytes())
            signature_defs = saved_model.meta_graphs[0].signature_def
            self._metadata = {
                key: _message_to_dict(json_format, value)
                for key, value in signature_defs.items()
            }
        return self._metadata


def _message_to_dict(json_format, message) -> dict:
    # TF Serving prints proto field names and default values.
    try:
        return json_format.MessageToDict(
            message,
            preserving_proto_field_name=True,
            always_print_fields_with_no_presence=True,
        )
    except TypeError:  # protobuf < 5
        return json_format.MessageToDict(
            message,
            preserving_proto_field_name=True,
            including_default_value_fields=True,
        )


class ModelRepository:
    """The loaded versions of one model base folder, kept up to date.

    Args:
        base: The model base folder (`OUT` of `textlstm export --out OUT`).
        name: The model name in URLs.
        policy: `"latest"` (TF Serving's default: only the largest version)
            or `"all"` (every version folder).
        log: Called with one-line messages (versions loaded, unloaded).
    """

    def __init__(
        self,
        base: str | os.PathLike,
        name: str,
        policy: str = "latest",
        log: Callable[[str], None] | None = None,
    ):
        if policy not in ("latest", "all"):
            raise ValueError(f"policy: {policy!r} is not one of latest, all")
        self.base = Path(base)
        self.name = name
        self.policy = policy
        self.log = log or (lambda message: None)
        self._servables: dict[int, _Servable] = {}
        self._failed: dict[int, str] = {}
        self._lock = threading.Lock()

    def wanted_versions(self) -> list[int]:
        """Version folders (with a saved_model.pb) the policy asks for."""
        if not self.base.is_dir():
            return []
        versions = sorted(
            int(p.name)
            for p in self.base.iterdir()
            if p.name.isdigit() and (p / "saved_model.pb").is_file()
        )
        return versions[-1:] if self.policy == "latest" else versions

    def refresh(self) -> None:
        """Load new versions and unload those the policy no longer wants.

        A version that fails to load is reported (`END` in the status) and
        the version served so far stays until a wanted one loads.
        """
        wanted = self.wanted_versions()
        for version in wanted:
            if version in self._servables or version in self._failed:
                continue
            try:
                servable = _Servable(self.base / str(version))
            except Exception as error:  # a broken folder must not stop serving
                self._failed[version] = f"{type(error).__name__}: {error}"
                self.log(f"version {version} failed to load: {self._failed[version]}")
                continue
            with self._lock:
                self._servables[version] = servable
            self.log(f"loaded {self.name} version {version}")
        with self._lock:
            stale = [v for v in self._servables if v not in wanted]
            if wanted and stale and not any(v in self._servables for v in wanted):
                # As TF Serving's availability-preserving policy: a new
                # version that fails to load does not take down the one
                # being served.
                stale.remove(max(stale))
            for version in stale:
                del self._servables[version]
                self.log(f"unloaded {self.name} version {version}")

    def versions(self) -> list[int]:
        with self._lock:
            return sorted(self._servables)

    def get(self, version: int | None) -> tuple[int, _Servable]:
        """The servable of `version` (the latest if None), or a 404 error."""
        with self._lock:
            if version is None:
                if not self._servables:
                    raise _RequestError(
                        f"Servable not found for request: Latest({self.name})", 404
                    )
                version = max(self._servables)
            servable = self._servables.get(version)
        if servable is None:
            raise _RequestError(
                f"Servable not found for request: Specific({self.name}, {version})",
                404,
            )
        return version, servable

    def status(self, version: int | None) -> list[dict]:
        def entry(v, state, code="OK", message=""):
            return {
                "version": str(v),
                "state": state,
                "status": {"error_code": code, "error_message": message},
            }

        if version is not None:
            if version in self._failed:
                return [entry(version, "END", "UNKNOWN", self._failed[version])]
            self.get(version)
            return [entry(version, "AVAILABLE")]
        found = [entry(v, "AVAILABLE") for v in self.versions()]
        found += [entry(v, "END", "UNKNOWN", m) for v, m in self._failed.items()]
        if not found:
            raise _RequestError(
                f"Could not find any versions of model {self.name}", 404
            )
        return sorted(found, key=lambda e: -int(e["version"]))


# --------------------------------------------------------------------------- #
# Request handling


def create_app(repository: ModelRepository):
    """The WSGI application serving `repository`."""
    from werkzeug.exceptions import HTTPException
    from werkzeug.wrappers import Request, Response

    def respond(body, status=200):
        return Response(
            json.dumps(body, ensure_ascii=False, indent=None) + "\n",
            status=status,
            mimetype="application/json",
        )

    def handle(request) -> Response:
        match = _PATH.match(request.path)
        if match is None:
            raise _RequestError(
                f"Malformed request: {request.method} {request.path}", 404
            )
        name, version, suffix = match.group("name", "version", "suffix")
        if name != repository.name:
            what = f"Specific({name}, {version})" if version else f"Latest({name})"
            raise _RequestError(f"Servable not found for request: {what}", 404)
        if version is not None:
            if not version.isdigit():
                raise _RequestError(f"Failed to convert version: {version} to numeric.")
            version = int(version)
        if suffix in (None, "/metadata"):
            if request.method != "GET":
                raise _RequestError(
                    f"Malformed request: {request.method} {request.path}", 405
                )
            if suffix is None:
                return respond({"model_version_status": repository.status(version)})
            number, servable = repository.get(version)
            return respond(
                {
                    "model_spec": {
                        "name": repository.name,
                        "signature_name": "",
                        "version": str(number),
                    },
                    "metadata": {
                        "signature_def": {"signature_def": servable.metadata()}
                    },
                }
            )
        if request.method != "POST":
            raise _RequestError(
                f"Malformed request: {request.method} {request.path}", 405
            )
        if suffix != ":predict":
            raise _RequestError(
                f"{suffix[1:]} is not supported: the signatures of this model are "
                "predict signatures (use :predict)"
            )
        number, servable = repository.get(version)
        return respond(predict(servable, _read_json(request)))

    def app(environ, start_response):
        request = Request(environ)
        request.max_content_length = MAX_REQUEST_BYTES
        try:
            response = handle(request)
        except _RequestError as error:
            response = respond({"error": str(error)}, error.status)
        except HTTPException as error:  # e.g. body too large
            response = respond({"error": error.description}, error.code or 400)
        except Exception as error:
            response = respond(*_internal_error(error))
        return response(environ, start_response)

    return app


def _internal_error(error: Exception) -> tuple[dict, int]:
    import tensorflow as tf

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
        raise _RequestError(f"JSON Parse error: {error}") from None
    if not isinstance(body, dict):
        raise _RequestError("JSON Parse error: the request body must be a JSON object")
    return body


def predict(servable: _Servable, body: dict) -> dict:
    """Run a TF Serving predict request body on a servable.

    Returns:
        `{"predictions": [...]}` for `instances`, `{"outputs": ...}` for
        `inputs`, as TF Serving does.
    """
    import tensorflow as tf

    signature_name = body.get("signature_name", "serving_default")
    if not isinstance(signature_name, str) or signature_name not in servable.signatures:
        raise _RequestError(
            f'Serving signature name: "{signature_name}" not found in signature def'
        )
    specs = servable.input_specs[signature_name]
    has_instances, has_inputs = "instances" in body, "inputs" in body
    if has_instances == has_inputs:
        raise _RequestError(
            "Missing 'inputs' or 'instances' key"
            if not has_instances
            else "Request can have either 'instances' or 'inputs', not both"
        )
    if has_instances:
        columns = _rows_to_columns(body["instances"], specs)
    else:
        columns = _columnar(body["inputs"], specs)
    tensors = {
        key: tf.constant(_to_array(value, specs[key], key), specs[key].dtype)
        for key, value in columns.items()
    }
    outputs = servable.signatures[signature_name](**tensors)
    outputs = {key: value.numpy() for key, value in outputs.items()}
    if has_inputs:
        jsonable = {key: _to_json(key, value) for key, value in outputs.items()}
        return {
            "outputs": jsonable if len(jsonable) > 1 else next(iter(jsonable.values()))
        }
    rows = len(next(iter(outputs.values())))
    if any(len(value) != rows for value in outputs.values()):
        raise _RequestError(
            "Output tensors do not share their first dimension: use the 'inputs' "
            "(columnar) format"
        )
    keys = list(outputs)
    predictions = [
        {key: _to_json(key, outputs[key][i]) for key in keys}
        if len(keys) > 1
        else _to_json(keys[0], outputs[keys[0]][i])
        for i in range(rows)
    ]
    return {"predictions": predictions}


def _rows_to_columns(instances, specs: dict) -> dict:
    if not isinstance(instances, list):
        raise _RequestError("'instances' must be a JSON array")
    if not instances:  # as TF Serving: a row request needs at least one row
        raise _RequestError("No values in 'instances' array")
    keys = list(specs)
    named = bool(instances) and all(
        isinstance(i, dict) and "b64" not in i for i in instances
    )
    if not named:
        if len(keys) != 1:
            raise _RequestError(
                f"The signature has several inputs ({', '.join(keys)}): each "
                "instance must be an object with one key per input"
            )
        return {keys[0]: instances}
    columns = {key: [] for key in keys}
    for index, instance in enumerate(instances):
        missing = [key for key in keys if key not in instance]
        unknown = [key for key in instance if key not in specs]
        if missing or unknown:
            raise _RequestError(
                f"instances[{index}]: "
                + (
                    f"missing input {missing[0]!r}"
                    if missing
                    else f"unknown input {unknown[0]!r}"
                )
                + f" (inputs: {', '.join(keys)})"
            )
        for key in keys:
            columns[key].append(instance[key])
    return columns


def _columnar(inputs, specs: dict) -> dict:
    keys = list(specs)
    if isinstance(inputs, dict) and "b64" not in inputs:
        missing = [key for key in keys if key not in inputs]
        unknown = [key for key in inputs if key not in specs]
        if missing or unknown:
            raise _RequestError(
                (
                    "missing input " + repr(missing[0])
                    if missing
                    else f"unknown input {unknown[0]!r}"
                )
                + f" (inputs: {', '.join(keys)})"
            )
        return {key: inputs[key] for key in keys}
    if len(keys) != 1:
        raise _RequestError(
            f"The signature has several inputs ({', '.join(keys)}): 'inputs' must be "
            "an object with one key per input"
        )
    return {keys[0]: inputs}


_JSON_TYPES = {
    dict: "Object",
    list: "Array",
    str: "String",
    bool: "Bool",
    type(None): "Null",
}


def _type_name(value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "Number"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _to_array(value, spec, key: str) -> np.ndarray:
    """A nested JSON list -> a NumPy array of the spec's dtype and rank."""
    dtype = spec.dtype
    rank = spec.shape.rank
    flat: list = []
    shape = _flatten(value, flat, key)
    if rank is not None and len(shape) != rank:
        raise _RequestError(
            f"input {key!r}: expected a tensor of rank {rank} "
            f"(shape {spec.shape.as_list()}), got rank {len(shape)}"
        )
    for expected, got in zip(spec.shape.as_list() if rank else [], shape):
        if expected is not None and expected != got:
            raise _RequestError(
                f"input {key!r}: expected shape {spec.shape.as_list()}, "
                f"got {list(shape)}"
            )
    if dtype.name == "string":
        converted = [_to_bytes(v, key) for v in flat]
        return np.array(converted, dtype=object).reshape(shape)
    if dtype.is_integer:
        for v in flat:
            if isinstance(v, bool) or not isinstance(v, int):
                raise _RequestError(
                    f"JSON Value: {json.dumps(v)} Type: {_type_name(v)} is not of "
                    f"expected type: {dtype.name}"
                )
        info = np.iinfo(dtype.as_numpy_dtype)
        if any(v < info.min or v > info.max for v in flat):
            raise _RequestError(
                f"input {key!r}: a value is out of range for {dtype.name}"
            )
        return np.array(flat, dtype=dtype.as_numpy_dtype).reshape(shape)
    if dtype.is_floating:
        for v in flat:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise _RequestError(
                    f"JSON Value: {json.dumps(v)} Type: {_type_name(v)} is not of "
                    f"expected type: {dtype.name}"
                )
        return np.array(flat, dtype=dtype.as_numpy_dtype).reshape(shape)
    if dtype.is_bool:
        if any(not isinstance(v, bool) for v in flat):
            raise _RequestError(f"input {key!r}: expected booleans")
        return np.array(flat, dtype=bool).reshape(shape)
    raise _RequestError(f"input {key!r}: dtype {dtype.name} is not supported here")


def _flatten(value, flat: list, key: str, depth: int = 0) -> tuple:
    """Append the leaves of a rectangular nested list; return its shape."""
    if depth > 32:
        raise _RequestError(f"input {key!r}: nested too deeply")
    if not isinstance(value, list):
        flat.append(value)
        return ()
    if not value:
        return (0,)
    shapes = {_flatten(item, flat, key, depth + 1) for item in value}
    if len(shapes) != 1:
        raise _RequestError(
            f"input {key!r}: the lists are not rectangular (rows of different "
            "lengths or depths)"
        )
    return (len(value), *shapes.pop())


def _to_bytes(value, key: str) -> bytes:
    if isinstance(value, str):
        # Lone surrogates (\ud800 in JSON) cannot be UTF-8: replaced.
        return value.encode("utf-8", "replace")
    if (
        isinstance(value, dict)
        and set(value) == {"b64"}
        and isinstance(value["b64"], str)
    ):
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError:
            raise _RequestError(f"input {key!r}: invalid base64 in 'b64'") from None
    raise _RequestError(
        f"JSON Value: {json.dumps(value)[:80]} Type: {_type_name(value)} is not of "
        "expected type: string"
    )


def _to_json(key: str, value):
    """A NumPy output -> JSON, strings as text (`{"b64"}` for `*_bytes`)."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [_to_json(key, v) for v in value]
        return value.tolist()
    if isinstance(value, bytes):
        if key.endswith("_bytes"):
            return {"b64": base64.b64encode(value).decode("ascii")}
        return value.decode("utf-8", "replace")
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------------- #
# Running


def make_server(
    base: str | os.PathLike,
    *,
    host: str = "127.0.0.1",
    port: int = 8501,
    model_name: str | None = None,
    policy: str = "latest",
    poll_seconds: float = 2.0,
    log: Callable[[str], None] | None = None,
):
    """Load the model base and return a ready, not yet running, server.

    Call `serve_forever()` on it (and `shutdown()` from another thread to
    stop it). `port=0` picks a free port (`server.port`).

    Args:
        base: The model base folder (with version folders `1/`, `2/`...).
        host: Interface to listen on.
        port: TCP port (TF Serving's REST default is 8501).
        model_name: Name in the URLs; default the base folder's name.
        policy: `"latest"` or `"all"` versions.
        poll_seconds: How often to look for new versions (0: never).
        log: Called with one-line messages.

    Returns:
        A `werkzeug.serving.BaseWSGIServer` with `.repository` set.

    Raises:
        ValueError: `base` has no version folder to serve.
    """
    from werkzeug.serving import make_server as werkzeug_server

    base = Path(base)
    if (base / "saved_model.pb").is_file():
        raise ValueError(
            f"{base} is a version folder; give its parent, the model base "
            f"({base.parent})"
        )
    repository = ModelRepository(base, model_name or base.resolve().name, policy, log)
    repository.refresh()
    if not repository.versions():
        raise ValueError(f"{base} has no loadable version folder (1/, 2/, ...)")
    server = werkzeug_server(host, port, create_app(repository), threaded=True)
    server.repository = repository
    if poll_seconds > 0:
        threading.Thread(
            target=_poll, args=(repository, poll_seconds), daemon=True
        ).start()
    return server


def _poll(repository: ModelRepository, seconds: float) -> None:
    while True:
        time.sleep(seconds)
        try:
            repository.refresh()
        except Exception as error:  # keep polling; the folder may come back
            repository.log(f"polling {repository.base}: {error}")


def serve(base: str | os.PathLike, **options) -> None:
    """Serve a model base until interrupted (see `make_server`)."""
    server = make_server(base, **options)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
