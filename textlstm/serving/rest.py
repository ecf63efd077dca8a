"""TF Serving's REST JSON: predict request bodies to tensors, outputs to
JSON, and the errors a bad request gets (`{"error": ...}`, status 400)."""

from __future__ import annotations

import base64
import json

import numpy as np

from textlstm.serving.batching import QueueFull

__all__ = ["RequestError", "predict"]


class RequestError(Exception):
    """Answered as `{"error": message}` with `status`."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def predict(servable, body: dict) -> dict:
    """Run a TF Serving predict request body on a servable
    (`Servable.run`: batched with other requests when the server batches).

    Returns:
        `{"predictions": [...]}` for `instances`, `{"outputs": ...}` for
        `inputs`, as TF Serving does.
    """
    signature_name = body.get("signature_name", "serving_default")
    if not isinstance(signature_name, str) or signature_name not in servable.signatures:
        raise RequestError(
            f'Serving signature name: "{signature_name}" not found in signature def'
        )
    specs = servable.input_specs[signature_name]
    has_instances, has_inputs = "instances" in body, "inputs" in body
    if has_instances == has_inputs:
        raise RequestError(
            "Missing 'inputs' or 'instances' key"
            if not has_instances
            else "Request can have either 'instances' or 'inputs', not both"
        )
    if has_instances:
        columns = _rows_to_columns(body["instances"], specs)
    else:
        columns = _columnar(body["inputs"], specs)
    arrays = {key: _to_array(value, specs[key], key) for key, value in columns.items()}
    try:
        outputs = servable.run(signature_name, arrays)
    except QueueFull as error:
        raise RequestError(str(error), 503) from None
    if has_inputs:
        jsonable = {key: _to_json(key, value) for key, value in outputs.items()}
        return {
            "outputs": jsonable if len(jsonable) > 1 else next(iter(jsonable.values()))
        }
    rows = len(next(iter(outputs.values())))
    if any(len(value) != rows for value in outputs.values()):
        raise RequestError(
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
        raise RequestError("'instances' must be a JSON array")
    if not instances:  # as TF Serving: a row request needs at least one row
        raise RequestError("No values in 'instances' array")
    keys = list(specs)
    named = bool(instances) and all(
        isinstance(i, dict) and "b64" not in i for i in instances
    )
    if not named:
        if len(keys) != 1:
            raise RequestError(
                f"The signature has several inputs ({', '.join(keys)}): each "
                "instance must be an object with one key per input"
            )
        return {keys[0]: instances}
    columns = {key: [] for key in keys}
    for index, instance in enumerate(instances):
        missing = [key for key in keys if key not in instance]
        unknown = [key for key in instance if key not in specs]
        if missing or unknown:
            raise RequestError(
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
            raise RequestError(
                (
                    "missing input " + repr(missing[0])
                    if missing
                    else f"unknown input {unknown[0]!r}"
                )
                + f" (inputs: {', '.join(keys)})"
            )
        return {key: inputs[key] for key in keys}
    if len(keys) != 1:
        raise RequestError(
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
        raise RequestError(
            f"input {key!r}: expected a tensor of rank {rank} "
            f"(shape {spec.shape.as_list()}), got rank {len(shape)}"
        )
    for expected, got in zip(spec.shape.as_list() if rank else [], shape):
        if expected is not None and expected != got:
            raise RequestError(
                f"input {key!r}: expected shape {spec.shape.as_list()}, "
                f"got {list(shape)}"
            )
    if dtype.name == "string":
        converted = [_to_bytes(v, key) for v in flat]
        return np.array(converted, dtype=object).reshape(shape)
    if dtype.is_integer:
        for v in flat:
            if isinstance(v, bool) or not isinstance(v, int):
                raise RequestError(
                    f"JSON Value: {json.dumps(v)} Type: {_type_name(v)} is not of "
                    f"expected type: {dtype.name}"
                )
        info = np.iinfo(dtype.as_numpy_dtype)
        if any(v < info.min or v > info.max for v in flat):
            raise RequestError(
                f"input {key!r}: a value is out of range for {dtype.name}"
            )
        return np.array(flat, dtype=dtype.as_numpy_dtype).reshape(shape)
    if dtype.is_floating:
        for v in flat:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise RequestError(
                    f"JSON Value: {json.dumps(v)} Type: {_type_name(v)} is not of "
                    f"expected type: {dtype.name}"
                )
        return np.array(flat, dtype=dtype.as_numpy_dtype).reshape(shape)
    if dtype.is_bool:
        if any(not isinstance(v, bool) for v in flat):
            raise RequestError(f"input {key!r}: expected booleans")
        return np.array(flat, dtype=bool).reshape(shape)
    raise RequestError(f"input {key!r}: dtype {dtype.name} is not supported here")


def _flatten(value, flat: list, key: str, depth: int = 0) -> tuple:
    """Append the leaves of a rectangular nested list; return its shape."""
    if depth > 32:
        raise RequestError(f"input {key!r}: nested too deeply")
    if not isinstance(value, list):
        flat.append(value)
        return ()
    if not value:
        return (0,)
    shapes = {_flatten(item, flat, key, depth + 1) for item in value}
    if len(shapes) != 1:
        raise RequestError(
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
            raise RequestError(f"input {key!r}: invalid base64 in 'b64'") from None
    raise RequestError(
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
