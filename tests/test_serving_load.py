"""`textlstm serve` under load and over gRPC: batching, the bounded queue,
limits, Prometheus metrics, TensorFlow Serving's gRPC API."""

import concurrent.futures
import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from types import SimpleNamespace

import numpy as np
import pytest

from textlstm.serving import BatchOptions, QueueFull, make_server
from textlstm.serving.batching import Batcher
from textlstm.serving.metrics import METRICS_PATH

TOLERANCE = 1e-5


def post(port: int, path: str, body: bytes, headers=None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("POST", path, body=body, headers=headers or {})
    response = connection.getresponse()
    status, data = response.status, response.read()
    connection.close()
    return status, json.loads(data) if data[:1] == b"{" else {"raw": data}


@contextlib.contextmanager
def serving(exports, folder, batching: BatchOptions):
    """The cpu export served with `batching` and gRPC on free ports, by a
    server thread."""
    base = folder / "reviews"
    shutil.copytree(exports.base / "cpu" / "1", base / "1")
    server = make_server(base, port=0, poll_seconds=0, grpc_port=0, batching=batching)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(exports, tmp_path_factory):
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("load")
    options = BatchOptions(max_batch_size=16, batch_timeout=0.05, max_queued=64)
    with serving(exports, folder, options) as server:
        yield SimpleNamespace(
            port=server.port,
            grpc_port=server.grpc_port,
            path="/v1/models/reviews:predict",
            signatures=tf.saved_model.load(str(folder / "reviews" / "1")).signatures,
            server=server,
        )


def expected(server, texts):
    import tensorflow as tf

    outputs = server.signatures["serving_default"](text=tf.constant(texts, tf.string))
    return outputs["probabilities"].numpy()


# --------------------------------------------------------------------------- #
# The batcher on its own


def test_concurrent_requests_run_as_one_batch_and_get_their_own_rows():
    calls = []

    def run(inputs):
        calls.append(len(inputs["x"]))
        time.sleep(0.05)  # the others arrive while the first runs
        return {"y": inputs["x"] * 10}

    batcher = Batcher(run, BatchOptions(max_batch_size=100, batch_timeout=0.2))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        parts = [np.arange(i, i + 3) for i in range(0, 24, 3)]
        answers = list(pool.map(lambda x: batcher.submit({"x": x})["y"], parts))
    batcher.stop()
    for part, answer in zip(parts, answers):
        np.testing.assert_array_equal(answer, part * 10)
    assert sum(calls) == 24
    assert len(calls) <= 3  # the first alone, then the others together


def test_a_large_request_runs_in_pieces_of_the_maximum_batch_size():
    calls = []

    def run(inputs):
        calls.append(len(inputs["x"]))
        return {"y": inputs["x"] + 1}

    batcher = Batcher(run, BatchOptions(max_batch_size=100, batch_timeout=0.01))
    answer = batcher.submit({"x": np.arange(250)})["y"]
    batcher.stop()
    np.testing.assert_array_equal(answer, np.arange(250) + 1)
    assert calls == [100, 100, 50]


def test_token_rows_of_different_widths_are_padded_with_zeros():
    seen = []

    def run(inputs):
        seen.append(inputs["ids"].copy())
        return {"n": (inputs["ids"] != 0).sum(axis=1)}

    batcher = Batcher(run, BatchOptions(max_batch_size=10, batch_timeout=0.2))
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(batcher.submit, {"ids": np.ones((1, 2), np.int64)})
        second = pool.submit(batcher.submit, {"ids": np.ones((2, 5), np.int64)})
        assert first.result()["n"].tolist() == [2]
        assert second.result()["n"].tolist() == [5, 5]
    batcher.stop()
    assert max(batch.shape[1] for batch in seen) == 5


def test_a_failing_request_fails_alone():
    sizes = []

    def run(inputs):
        sizes.append(len(inputs["x"]))
        time.sleep(0.05)
        if (inputs["x"] < 0).any():
            raise ValueError("negative")
        return {"y": inputs["x"]}

    batcher = Batcher(run, BatchOptions(max_batch_size=100, batch_timeout=0.2))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        good = [pool.submit(batcher.submit, {"x": np.array([i])}) for i in range(3)]
        bad = pool.submit(batcher.submit, {"x": np.array([-1])})
        assert [f.result()["y"].tolist() for f in good] == [[0], [1], [2]]
        with pytest.raises(ValueError, match="negative"):
            bad.result()
    batcher.stop()
    assert max(sizes) > 1  # the bad request was in a batch, then ran alone


def test_a_full_queue_refuses_at_once():
    release = threading.Event()

    def run(inputs):
        release.wait(10)
        return {"y": inputs["x"]}

    batcher = Batcher(run, BatchOptions(enabled=False, max_queued=2))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        running = pool.submit(batcher.submit, {"x": np.array([0])})
        time.sleep(0.2)  # taken by the worker: the queue is empty again
        waiting = [pool.submit(batcher.submit, {"x": np.array([i])}) for i in (1, 2)]
        time.sleep(0.2)
        start = time.monotonic()
        with pytest.raises(QueueFull, match=r"the batch queue is full \(2 requests"):
            batcher.submit({"x": np.array([3])})
        assert time.monotonic() - start < 1.0
        release.set()
        assert [f.result()["y"].tolist() for f in (running, *waiting)] == [
            [0],
            [1],
            [2],
        ]
    batcher.stop()


@pytest.mark.parametrize(
    "options, message",
    [
        ({"max_batch_size": 0}, "max_batch_size must be >= 1, got 0"),
        ({"batch_timeout": -1}, "batch_timeout must be >= 0, got -1"),
        ({"max_queued": 0}, "max_queued must be >= 1, got 0"),
    ],
)
def test_batch_options_are_checked(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        BatchOptions(**options)


# --------------------------------------------------------------------------- #
# The server under 32 clients


def test_32_clients_get_correct_answers_in_shared_batches(server):
    texts = [f"text number {i} " + "great film " * (i % 7) for i in range(256)]
    reference = expected(server, texts)

    def ask(i):
        body = json.dumps({"instances": [texts[i]]}).encode()
        return i, post(server.port, server.path, body)

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(ask, range(len(texts))))
    for i, (status, body) in answers:
        assert status == 200, body
        got = np.asarray(body["predictions"][0]["probabilities"])
        assert np.abs(got - reference[i]).max() <= TOLERANCE
    metrics = scrape(server.port)
    batches = _value(
        metrics,
        ":tensorflow:serving:batching_session:processed_batch_size_count"
        '{model_name="reviews",signature_name="serving_default"}',
    )
    rows = _value(
        metrics,
        ":tensorflow:serving:batching_session:processed_batch_size_sum"
        '{model_name="reviews",signature_name="serving_default"}',
    )
    assert rows >= 256
    assert batches < rows  # requests were batched together


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{METRICS_PATH}") as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


def _value(metrics: str, series: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


def test_the_metrics_count_each_request_by_status(server):
    before = scrape(server.port)
    ok = (
        ':tensorflow:serving:request_count_total{API="predict",model_name="reviews",'
        'signature_name="serving_default",status="OK",version="1"}'
    )
    bad = (
        ':tensorflow:serving:request_count_total{API="predict",model_name="reviews",'
        'signature_name="serving_default",status="INVALID_ARGUMENT",version="1"}'
    )
    for _ in range(3):
        status, _ = post(server.port, server.path, b'{"instances": ["a film"]}')
        assert status == 200
    status, _ = post(server.port, server.path, b'{"instances": [1]}')
    assert status == 400
    after = scrape(server.port)
    assert _value(after, ok) - _value(before, ok) == 3
    assert _value(after, bad) - _value(before, bad) == 1
    latency = (
        ':tensorflow:serving:request_latency_count{API="predict",entrypoint="REST",'
        'model_name="reviews",signature_name="serving_default"}'
    )
    assert _value(after, latency) - _value(before, latency) == 4


# --------------------------------------------------------------------------- #
# Limits


def test_json_nested_deeper_than_the_parser_takes_gets_400(server):
    body = b'{"instances": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, answer = post(server.port, server.path, body)
    assert (status, answer) == (
        400,
        {"error": "JSON Parse error: the document is nested too deeply"},
    )
    status, _ = post(server.port, server.path, b'{"instances": ["still fine"]}')
    assert status == 200


def _answer(port: int, head: bytes, chunks=()) -> tuple[bytes, dict, bytes]:
    """Send a request by hand; the answer's status line, headers and body
    (all of it: the server closes the connection after an error)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(head)
        try:
            for chunk in chunks:
                connection.sendall(chunk)
        except OSError:  # the server answered and closed early
            pass
        data = b""
        while b"\r\n\r\n" not in data or len(data) < _length(data):
            piece = connection.recv(65536)
            if not piece:
                break
            data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status.encode("latin-1"), headers, body


def _length(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    found = re.search(rb"(?i)content-length: *(\d+)", head)
    return len(head) + 4 + int(found.group(1)) if found else 1 << 62


def _raw(port: int, head: bytes, chunks) -> bytes:
    """Send a request by hand; the status line of the answer."""
    return _answer(port, head, chunks)[0]


def assert_json_error(answer, status: bytes, message: str) -> None:
    """`answer` (from `_answer`) is `status` with TF Serving's JSON error."""
    line, headers, body = answer
    assert line == status
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"error": message}


def test_an_over_limit_body_gets_413_chunked_or_not(server):
    from textlstm.serving import MAX_REQUEST_BYTES

    size = MAX_REQUEST_BYTES + 1024
    head = (
        f"POST {server.path} HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n"
    ).encode()
    assert_json_error(
        _answer(server.port, head, [b" " * 1024 * 1024] * 66),
        b"HTTP/1.1 413 Request Entity Too Large",
        "Request Entity Too Large: exceeds max_body of 67108864",
    )
    head = (
        f"POST {server.path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"%x\r\n" % (1024 * 1024) + b" " * 1024 * 1024 + b"\r\n"
    assert_json_error(
        _answer(server.port, head, [chunk] * 66 + [b"0\r\n\r\n"]),
        b"HTTP/1.1 413 Request Entity Too Large",
        "Request Entity Too Large: exceeds max_body of 67108864",
    )
    status, _ = post(server.port, server.path, b'{"instances": ["alive"]}')
    assert status == 200


def test_a_version_of_100000_digits_is_a_400_and_a_long_name_a_404(server):
    digits = "9" * 100_000
    shown = "9" * 40 + "... (100000 characters)"
    for path in (f"/versions/{digits}", f"/versions/{digits}:predict"):
        method = "POST" if path.endswith(":predict") else "GET"
        head = (
            f"{method} /v1/models/reviews{path} HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: 2\r\n\r\n{}"
        ).encode()
        assert_json_error(
            _answer(server.port, head),
            b"HTTP/1.1 400 BAD REQUEST",  # werkzeug's reason phrases
            f"Failed to convert version: {shown} to numeric.",
        )
    head = b"GET /v1/models/reviews/versions/9223372036854775808 HTTP/1.1\r\n\r\n"
    assert_json_error(
        _answer(server.port, head),
        b"HTTP/1.1 400 BAD REQUEST",
        "Failed to convert version: 9223372036854775808 to numeric.",
    )
    head = f"GET /v1/models/{'n' * 5000} HTTP/1.1\r\n\r\n".encode()
    assert_json_error(
        _answer(server.port, head),
        b"HTTP/1.1 404 NOT FOUND",
        f"Servable not found for request: Latest({'n' * 40}... (5000 characters))",
    )


def test_a_body_without_a_length_is_411_and_huge_headers_431(server):
    head = f"POST {server.path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    assert_json_error(
        _answer(server.port, head),
        b"HTTP/1.1 411 LENGTH REQUIRED",
        "Length Required: a predict request needs a Content-Length header (or "
        "Transfer-Encoding: chunked)",
    )
    head = (
        f"POST {server.path} HTTP/1.1\r\nHost: x\r\nX-Big: {'y' * 300_000}\r\n\r\n"
    ).encode()
    line, headers, body = _answer(server.port, head)
    # Waitress answers before it has read the version of the request line.
    assert line == b"HTTP/1.0 431 Request Header Fields Too Large"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"].startswith("Request Header Fields Too Large: ")
    head = (
        f"POST {server.path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
    ).encode()
    line, headers, body = _answer(server.port, head)
    assert line == b"HTTP/1.1 400 Bad Request"  # waitress: 501; the client's fault
    assert json.loads(body)["error"].startswith("Not Implemented: ")


def test_a_body_shorter_than_its_content_length_gets_408(exports, tmp_path):
    base = tmp_path / "reviews"
    shutil.copytree(exports.base / "cpu" / "1", base / "1")
    server = make_server(base, port=0, poll_seconds=0, stall_seconds=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        path = "/v1/models/reviews:predict"
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
            '{"instances": ["a'
        ).encode()
        started = time.monotonic()
        assert_json_error(
            _answer(server.port, head),
            b"HTTP/1.1 408 Request Timeout",
            "Request Timeout: no bytes of the request for 1 s (a body shorter "
            "than its Content-Length?)",
        )
        assert time.monotonic() - started < 5
        # A head that never ends, likewise; the server still answers others.
        assert _answer(server.port, b"GET /v1/models/rev")[0] == (
            b"HTTP/1.1 408 Request Timeout"
        )
        status, _ = post(server.port, path, b'{"instances": ["alive"]}')
        assert status == 200
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_garbage_request_lines_get_400_not_http_0_9(server):
    for garbage in (b"GARBAGE\r\n\r\n", b"\x16\x03\x01\x02\x00\x01\r\n\r\n"):
        assert _raw(server.port, garbage, []).startswith(b"HTTP/1.")


def test_a_port_in_use_is_one_line_and_exit_2_before_loading(exports, tmp_path):
    base = tmp_path / "reviews"
    shutil.copytree(exports.base / "cpu" / "1", base / "1")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        start = time.monotonic()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "textlstm.cli.main",
                "serve",
                base,
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        elapsed = time.monotonic() - start
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use (is "
        "another server running? choose another --port)\n"
    )
    assert "tensorflow" not in result.stderr.lower()
    assert elapsed < 15  # no TensorFlow import, no model load


# --------------------------------------------------------------------------- #
# gRPC


@pytest.fixture(scope="module")
def grpc_stubs(server):
    import grpc
    from tensorflow_serving.apis import (
        model_service_pb2_grpc,
        prediction_service_pb2_grpc,
    )

    channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
    yield SimpleNamespace(
        predict=prediction_service_pb2_grpc.PredictionServiceStub(channel),
        model=model_service_pb2_grpc.ModelServiceStub(channel),
    )
    channel.close()


def _request(name="reviews", signature="", version=None, **inputs):
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def test_grpc_predict_equals_rest_for_both_signatures(server, grpc_stubs):
    import tensorflow as tf

    texts = ["a wonderful film", "", "dull dull dull", "Très bon 👍"]
    response = grpc_stubs.predict.Predict(_request(text=texts), timeout=60)
    assert (response.model_spec.name, response.model_spec.version.value) == (
        "reviews",
        1,
    )
    probabilities = tf.make_ndarray(response.outputs["probabilities"])
    status, rest = post(
        server.port, server.path, json.dumps({"instances": texts}).encode()
    )
    assert status == 200
    rest_probabilities = np.asarray(
        [row["probabilities"] for row in rest["predictions"]]
    )
    assert np.abs(probabilities - rest_probabilities).max() <= TOLERANCE
    labels = [label.decode() for label in tf.make_ndarray(response.outputs["label"])]
    assert labels == [row["label"] for row in rest["predictions"]]
    ids = np.array([[5, 7, 9, 0], [3, 0, 0, 0]], np.int64)
    response = grpc_stubs.predict.Predict(
        _request(signature="serve_tokens", token_ids=ids), timeout=60
    )
    status, rest = post(
        server.port,
        server.path,
        json.dumps(
            {"signature_name": "serve_tokens", "instances": ids.tolist()}
        ).encode(),
    )
    grpc_probabilities = tf.make_ndarray(response.outputs["probabilities"])
    rest_probabilities = np.asarray(
        [row["probabilities"] for row in rest["predictions"]]
    )
    assert np.abs(grpc_probabilities - rest_probabilities).max() <= TOLERANCE


@pytest.mark.parametrize(
    "kwargs, code, message",
    [
        (
            {"name": "other", "text": ["x"]},
            "NOT_FOUND",
            "Servable not found for request: Latest(other)",
        ),
        (
            {"version": 7, "text": ["x"]},
            "NOT_FOUND",
            "Servable not found for request: Specific(reviews, 7)",
        ),
        (
            {"signature": "nope", "text": ["x"]},
            "INVALID_ARGUMENT",
            'Serving signature name: "nope" not found in signature def',
        ),
        (
            {"token_ids": [[1]]},
            "INVALID_ARGUMENT",
            "input keys: expected ['text'], got ['token_ids'] (missing text)",
        ),
        (
            {"text": np.array([1.5], np.float32)},
            "INVALID_ARGUMENT",
            "input text: expects string, got float32",
        ),
        (
            {"text": [["a", "b"]]},
            "INVALID_ARGUMENT",
            "input text: expected rank 1 (string (None,)), got shape [1, 2]",
        ),
        (
            {"signature": "serve_tokens", "token_ids": [[10**6]]},
            "INVALID_ARGUMENT",
            None,
        ),
    ],
    ids=["model", "version", "signature", "keys", "dtype", "rank", "id_range"],
)
def test_grpc_bad_requests_get_the_rest_errors(
    server, grpc_stubs, kwargs, code, message
):
    import grpc

    with pytest.raises(grpc.RpcError) as caught:
        grpc_stubs.predict.Predict(_request(**kwargs), timeout=60)
    assert caught.value.code().name == code
    if message is not None:
        assert caught.value.details() == message
    else:
        assert "1000000" in caught.value.details()
    response = grpc_stubs.predict.Predict(_request(text=["alive"]), timeout=60)
    assert response.outputs["label"].string_val


def test_grpc_metadata_and_status(grpc_stubs):
    from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2

    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "reviews"
    request.metadata_field.append("signature_def")
    response = grpc_stubs.predict.GetModelMetadata(request, timeout=60)
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signature_map)
    # As REST's metadata and TF Serving: every SignatureDef of the MetaGraph.
    assert sorted(signature_map.signature_def) == [
        "__saved_model_init_op",
        "serve_tokens",
        "serving_default",
    ]
    inputs = signature_map.signature_def["serving_default"].inputs
    assert list(inputs) == ["text"]
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = "reviews"
    status = grpc_stubs.model.GetModelStatus(request, timeout=60)
    assert [(s.version, s.state) for s in status.model_version_status] == [(1, 30)]


def test_a_full_queue_is_answered_503_over_rest_and_unavailable_over_grpc(
    exports, tmp_path
):
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    release = threading.Event()
    options = BatchOptions(enabled=False, max_queued=1)
    with serving(exports, tmp_path, options) as server:
        _, servable = server.repository.get(None)
        batcher = servable.batchers["serving_default"]
        call = batcher.run

        def slow(inputs):
            release.wait(30)
            return call(inputs)

        batcher.run = slow
        path = "/v1/models/reviews:predict"
        full = {"error": "the batch queue is full (1 requests waiting); retry later"}
        try:
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                first = pool.submit(post, server.port, path, b'{"instances": ["a"]}')
                time.sleep(0.5)  # running: the queue is empty again
                second = pool.submit(post, server.port, path, b'{"instances": ["b"]}')
                time.sleep(0.5)  # waiting: the queue is full
                status, body = post(server.port, path, b'{"instances": ["c"]}')
                assert (status, body) == (503, full)
                channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")
                stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
                with pytest.raises(grpc.RpcError) as caught:
                    stub.Predict(_request(text=["d"]), timeout=30)
                assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
                release.set()
                assert first.result()[0] == second.result()[0] == 200
        finally:
            release.set()
        rejections = _value(
            scrape(server.port),
            ':tensorflow:serving:queue_rejections_total{model_name="reviews",'
            'signature_name="serving_default"}',
        )
        assert rejections == 2
        status, body = post(server.port, path, b'{"instances": ["alive"]}')
        assert status == 200
        assert body["predictions"][0]["label"] in ("neg", "pos")
