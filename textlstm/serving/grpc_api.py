"""TensorFlow Serving's gRPC API: `PredictionService` (`Predict`,
`GetModelMetadata`) and `ModelService` (`GetModelStatus`), built from the
`tensorflow-serving-api` protos with `grpcio`, so a gRPC client written
for TF Serving works unchanged:

```python
channel = grpc.insecure_channel("127.0.0.1:8500")
stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
request = predict_pb2.PredictRequest()
request.model_spec.name = "reviews"
request.inputs["text"].CopyFrom(tf.make_tensor_proto(["what a film"]))
stub.Predict(request).outputs["probabilities"]
```

Requests go through the same repository, batcher and error messages as
REST: a bad request is `INVALID_ARGUMENT`, an unknown model or version
`NOT_FOUND`, a full batch queue `UNAVAILABLE`; `Classify`, `Regress` and
`MultiInference` are `UNIMPLEMENTED` (the signatures are predict
signatures), as REST's `:classify` is refused.
"""

from __future__ import annotations

import time
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import any_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from textlstm.serving.app import internal_error
from textlstm.serving.batching import QueueFull
from textlstm.serving.metrics import ServingMetrics, status_code_name
from textlstm.serving.repository import ModelRepository
from textlstm.serving.rest import RequestError

__all__ = ["GRPC_CODES", "grpc_server"]

#: The gRPC status of each HTTP status the REST API answers.
GRPC_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    404: grpc.StatusCode.NOT_FOUND,
    405: grpc.StatusCode.UNIMPLEMENTED,
    413: grpc.StatusCode.INVALID_ARGUMENT,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
}
_STATES = {"AVAILABLE": 30, "END": 50}
_ERROR_CODES = {"OK": 0, "UNKNOWN": 2}


def grpc_server(
    repository: ModelRepository,
    metrics: ServingMetrics,
    address: str,
    threads: int,
):
    """A gRPC server bound to `address` (`host:port`, port 0: a free one),
    not started. Returns `(server, port)`.

    Raises:
        OSError: the address cannot be bound.
    """
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads),
        # Another server on the port must be an error, not a shared port.
        options=[("grpc.so_reuseport", 0)],
        maximum_concurrent_rpcs=None,
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        _PredictionService(repository, metrics), server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(
        _ModelService(repository), server
    )
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as error:  # grpcio >= 1.60 raises, older returns 0
        raise OSError(str(error)) from None
    if port == 0:
        raise OSError(f"failed to bind to address {address}")
    return server, port


def _abort(context, status: int, message: str):
    context.abort(GRPC_CODES.get(status, grpc.StatusCode.UNKNOWN), message)


def _version(repository: ModelRepository, model_spec):
    """The version a request's `ModelSpec` names (None: the latest)."""
    if model_spec.name != repository.name:
        version = model_spec.version.value if model_spec.HasField("version") else None
        what = (
            f"Specific({model_spec.name}, {version})"
            if version is not None
            else f"Latest({model_spec.name})"
        )
        raise RequestError(f"Servable not found for request: {what}", 404)
    if model_spec.HasField("version_label"):
        raise RequestError("version labels are not supported: give a version number")
    return model_spec.version.value if model_spec.HasField("version") else None


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, repository: ModelRepository, metrics: ServingMetrics):
        self.repository = repository
        self.metrics = metrics

    def Predict(self, request, context):  # noqa: N802 (the proto's name)
        start = time.perf_counter()
        record = {"version": None, "signature": request.model_spec.signature_name}
        status = 200
        try:
            return self._predict(request, record)
        except RequestError as error:
            status = error.status
            _abort(context, error.status, str(error))
        except Exception as error:  # never a crashed server
            body, status = internal_error(error)
            _abort(context, status, body["error"])
        finally:
            self.metrics.observe_request(
                model=self.repository.name,
                version=record["version"],
                signature=record["signature"] or "serving_default",
                api="predict",
                entrypoint="GRPC",
                status=status_code_name(status),
                seconds=time.perf_counter() - start,
            )

    def _predict(self, request, record: dict):
        version = _version(self.repository, request.model_spec)
        number, servable = self.repository.get(version)
        record["version"] = number
        signature = request.model_spec.signature_name or "serving_default"
        if signature not in servable.signatures:
            raise RequestError(
                f'Serving signature name: "{signature}" not found in signature def'
            )
        specs = servable.input_specs[signature]
        arrays = _input_arrays(request.inputs, specs)
        try:
            outputs = servable.run(signature, arrays)
        except QueueFull as error:
            raise RequestError(str(error), 503) from None
        wanted = list(request.output_filter) or list(outputs)
        unknown = [key for key in wanted if key not in outputs]
        if unknown:
            raise RequestError(
                f"output tensor alias not found in signature: {unknown[0]} "
                f"(outputs: {', '.join(sorted(outputs))})"
            )
        response = predict_pb2.PredictResponse()
        response.model_spec.name = self.repository.name
        response.model_spec.version.value = number
        response.model_spec.signature_name = signature
        for key in wanted:
            response.outputs[key].CopyFrom(tf.make_tensor_proto(outputs[key]))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        try:
            fields = list(request.metadata_field)
            if fields != ["signature_def"]:
                raise RequestError(
                    "Metadata field(s) not supported: give metadata_field "
                    f"['signature_def'], not {fields}"
                )
            version = _version(self.repository, request.model_spec)
            number, servable = self.repository.get(version)
        except RequestError as error:
            _abort(context, error.status, str(error))
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, signature_def in servable.signature_defs().items():
            signature_map.signature_def[name].CopyFrom(signature_def)
        packed = any_pb2.Any()
        packed.Pack(signature_map)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = self.repository.name
        response.model_spec.version.value = number
        response.metadata["signature_def"].CopyFrom(packed)
        return response


class _ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, repository: ModelRepository):
        self.repository = repository

    def GetModelStatus(self, request, context):  # noqa: N802
        try:
            version = _version(self.repository, request.model_spec)
            entries = self.repository.status(version)
        except RequestError as error:
            _abort(context, error.status, str(error))
        response = get_model_status_pb2.GetModelStatusResponse()
        for entry in entries:
            status = response.model_version_status.add()
            status.version = int(entry["version"])
            status.state = _STATES[entry["state"]]
            status.status.error_code = _ERROR_CODES[entry["status"]["error_code"]]
            status.status.error_message = entry["status"]["error_message"]
        return response


def _input_arrays(inputs, specs: dict) -> dict:
    """The request's `TensorProto`s as the signature's NumPy arrays, with
    REST's messages for a missing, unknown, mistyped or misshapen input."""
    missing = sorted(set(specs) - set(inputs))
    extra = sorted(set(inputs) - set(specs))
    if missing or extra:
        raise RequestError(
            f"input keys: expected {sorted(specs)}, got {sorted(inputs)}"
            + (f" (missing {missing[0]})" if missing else f" (unknown {extra[0]})")
        )
    arrays = {}
    for key, spec in specs.items():
        proto = inputs[key]
        try:
            array = tf.make_ndarray(proto)
        except Exception as error:
            raise RequestError(
                f"input {key}: not a valid TensorProto ({error})"
            ) from None
        array = _cast(key, array, spec)
        rank = len(spec.shape)
        if array.ndim != rank:
            raise RequestError(
                f"input {key}: expected rank {rank} ({spec.dtype.name} "
                f"{spec.shape}), got shape {list(array.shape)}"
            )
        arrays[key] = array
    return arrays


def _cast(key: str, array: np.ndarray, spec) -> np.ndarray:
    """`array` as the spec's dtype, if it holds that kind of value."""
    if spec.dtype == tf.string:
        if array.dtype != object:
            raise RequestError(
                f"input {key}: expects {spec.dtype.name}, got {array.dtype.name}"
            )
        return array
    if array.dtype == object or not np.issubdtype(array.dtype, np.integer):
        raise RequestError(
            f"input {key}: expects {spec.dtype.name}, got "
            f"{'string' if array.dtype == object else array.dtype.name}"
        )
    return array.astype(spec.dtype.as_numpy_dtype)
