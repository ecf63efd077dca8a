"""Tests of `textlstm serve` (textlstm.serving): TensorFlow Serving's REST
API over real HTTP on 127.0.0.1 (status, metadata, predict in row and
columnar formats, `/versions/N`), its error shape `{"error": ...}` with
status 400/404, version loading, and the command in a real process.

The export served is the cpu export built once per session in
`conftest.py`; predictions are compared with its own signatures.
"""

import base64
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner

from textlstm.cli.main import cli
from textlstm.serving import ModelRepository, make_server

TOLERANCE = 1e-5
TEXTS = [
    "at first i found it dull . but by the end , i found it brilliant .",
    "",
    "  \t ",
    "Très bon film 日本語 👍🏽",
    "nul\x00 bell\x07 crlf\r\n end",
    "x" * 100_000,
]


def call(url: str, body=None, method: str | None = None) -> tuple[int, dict]:
    """One HTTP request; the status and the JSON body, errors included."""
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            assert response.headers["Content-Type"] == "application/json"
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        assert error.headers["Content-Type"] == "application/json"
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def served(exports, tmp_path_factory):
    """Versions 1 and 2 of the cpu export, served with `--versions all` by a
    server thread on a free port."""
    import tensorflow as tf

    base = tmp_path_factory.mktemp("serving") / "reviews"
    for version in ("1", "2"):
        shutil.copytree(exports.base / "cpu" / "1", base / version)
    server = make_server(base, port=0, policy="all", poll_seconds=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    loaded = tf.saved_model.load(str(base / "2"))
    vocabulary = (base / "2" / "assets" / "vocab.txt").read_text(encoding="utf-8")
    yield SimpleNamespace(
        url=f"http://127.0.0.1:{server.port}/v1/models/reviews",
        base=base,
        signatures=loaded.signatures,
        vocabulary_size=len(vocabulary.splitlines()),
    )
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def expected_outputs(served, texts, signature="serving_default") -> dict:
    import tensorflow as tf

    if signature == "serving_default":
        inputs = {"text": tf.constant(texts, tf.string)}
    else:
        inputs = {"token_ids": tf.constant(texts, tf.int64)}
    outputs = served.signatures[signature](**inputs)
    return {
        "probabilities": outputs["probabilities"].numpy(),
        "label_id": outputs["label_id"].numpy().tolist(),
        "label": [label.decode() for label in outputs["label"].numpy()],
    }


def assert_rows_match(predictions, expected) -> None:
    assert len(predictions) == len(expected["label"])
    for i, row in enumerate(predictions):
        assert sorted(row) == ["label", "label_id", "probabilities"]
        assert (row["label"], row["label_id"]) == (
            expected["label"][i],
            expected["label_id"][i],
        )
        difference = np.abs(
            np.asarray(row["probabilities"]) - expected["probabilities"][i]
        )
        assert difference.max() <= TOLERANCE


def assert_columns_match(outputs, expected) -> None:
    assert sorted(outputs) == ["label", "label_id", "probabilities"]
    assert outputs["label"] == expected["label"]
    assert outputs["label_id"] == expected["label_id"]
    difference = np.abs(
        np.asarray(outputs["probabilities"]) - expected["probabilities"]
    )
    assert difference.max() <= TOLERANCE


# --------------------------------------------------------------------------- #
# Status and metadata


def available(version: str) -> dict:
    return {
        "version": version,
        "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""},
    }


def test_model_status_lists_the_versions_newest_first(served):
    assert call(served.url) == (
        200,
        {"model_version_status": [available("2"), available("1")]},
    )
    assert call(served.url + "/versions/1") == (
        200,
        {"model_version_status": [available("1")]},
    )


@pytest.mark.parametrize("path, version", [("", "2"), ("/versions/1", "1")])
def test_metadata_gives_the_signature_defs(served, path, version):
    status, body = call(served.url + path + "/metadata")
    assert status == 200
    assert body["model_spec"] == {
        "name": "reviews",
        "signature_name": "",
        "version": version,
    }
    signatures = body["metadata"]["signature_def"]["signature_def"]
    assert sorted(signatures) == [
        "__saved_model_init_op",
        "serve_tokens",
        "serving_default",
    ]

    def specs(tensors):
        return {
            key: (value["dtype"], [d["size"] for d in value["tensor_shape"]["dim"]])
            for key, value in tensors.items()
        }

    outputs = {
        "probabilities": ("DT_FLOAT", ["-1", "2"]),
        "label_id": ("DT_INT64", ["-1"]),
        "label": ("DT_STRING", ["-1"]),
    }
    default, tokens = signatures["serving_default"], signatures["serve_tokens"]
    assert specs(default["inputs"]) == {"text": ("DT_STRING", ["-1"])}
    assert specs(tokens["inputs"]) == {"token_ids": ("DT_INT64", ["-1", "-1"])}
    for signature in (default, tokens):
        assert specs(signature["outputs"]) == outputs
        assert signature["method_name"] == "tensorflow/serving/predict"


# --------------------------------------------------------------------------- #
# Predict


def test_predict_rows_of_strings(served):
    status, body = call(served.url + ":predict", {"instances": TEXTS})
    assert status == 200 and list(body) == ["predictions"]
    assert_rows_match(body["predictions"], expected_outputs(served, TEXTS))


def test_predict_rows_of_named_objects_and_base64(served):
    instances = [{"text": text} for text in TEXTS]
    instances.append({"text": {"b64": base64.b64encode(b"\xff\xfe ok").decode()}})
    status, body = call(served.url + ":predict", {"instances": instances})
    assert status == 200
    expected = expected_outputs(served, [*TEXTS, b"\xff\xfe ok"])
    assert_rows_match(body["predictions"], expected)
    status, body = call(
        served.url + ":predict",
        {"instances": [{"b64": base64.b64encode(b"\xff\xfe ok").decode()}]},
    )
    assert status == 200
    assert_rows_match(body["predictions"], expected_outputs(served, [b"\xff\xfe ok"]))


@pytest.mark.parametrize("named", [False, True], ids=["list", "object"])
def test_predict_columnar_inputs(served, named):
    inputs = {"text": TEXTS} if named else TEXTS
    status, body = call(served.url + ":predict", {"inputs": inputs})
    assert status == 200 and list(body) == ["outputs"]
    assert_columns_match(body["outputs"], expected_outputs(served, TEXTS))


@pytest.mark.parametrize("version", ["1", "2"])
def test_predict_on_a_version(served, version):
    status, body = call(
        served.url + f"/versions/{version}:predict",
        {"signature_name": "serving_default", "instances": TEXTS[:3]},
    )
    assert status == 200
    assert_rows_match(body["predictions"], expected_outputs(served, TEXTS[:3]))


def test_predict_token_ids_with_the_serve_tokens_signature(served):
    ids = [[3, 4, 5, 0, 0], [6, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    status, body = call(
        served.url + ":predict", {"signature_name": "serve_tokens", "instances": ids}
    )
    assert status == 200
    expected = expected_outputs(served, ids, "serve_tokens")
    assert_rows_match(body["predictions"], expected)
    status, body = call(
        served.url + ":predict",
        {"signature_name": "serve_tokens", "inputs": {"token_ids": ids}},
    )
    assert status == 200
    assert_columns_match(body["outputs"], expected)


# --------------------------------------------------------------------------- #
# Errors: TF Serving's {"error": ...}, and the server keeps answering


BAD_REQUESTS = [
    # (method, path after /v1/models, body, status, error)
    (
        "POST",
        "reviews:predict",
        b"{not json",
        400,
        "JSON Parse error: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
    ),
    (
        "POST",
        "reviews:predict",
        b"",
        400,
        "JSON Parse error: Expecting value: line 1 column 1 (char 0)",
    ),
    (
        "POST",
        "reviews:predict",
        b"\xff\xfe",
        400,
        "JSON Parse error: 'utf-8' codec can't decode byte 0xff in position 0: "
        "invalid start byte",
    ),
    (
        "POST",
        "reviews:predict",
        b'["a"]',
        400,
        "JSON Parse error: the request body must be a JSON object",
    ),
    ("POST", "reviews:predict", {}, 400, "Missing 'inputs' or 'instances' key"),
    (
        "POST",
        "reviews:predict",
        {"signature_name": "serving_default", "texts": ["a"]},
        400,
        "Missing 'inputs' or 'instances' key",
    ),
    (
        "POST",
        "reviews:predict",
        {"instances": ["a"], "inputs": ["a"]},
        400,
        "Request can have either 'instances' or 'inputs', not both",
    ),
    (
        "POST",
        "reviews:predict",
        {"instances": [1, 2]},
        400,
        "JSON Value: 1 Type: Number is not of expected type: string",
    ),
    (
        "POST",
        "reviews:predict",
        {"inputs": {"text": ["a", 2.5]}},
        400,
        "JSON Value: 2.5 Type: Number is not of expected type: string",
    ),
    (
        "POST",
        "reviews:predict",
        {"instances": [True]},
        400,
        "JSON Value: true Type: Bool is not of expected type: string",
    ),
    (
        "POST",
        "reviews:predict",
        {"instances": [None]},
        400,
        "JSON Value: null Type: Null is not of expected type: string",
    ),
    (
        "POST",
        "reviews:predict",
        {"instances": []},
        400,
        "No values in 'instances' array",
    ),
    (
        "POST",
        "reviews:predict",
        {"instances": "a"},
        400,
        "'instances' must be a JSON array",
    ),
    (
        "POST",
        "reviews:predict",
        {"instances": [["a"]]},
        400,
        "input 'text': expected a tensor of rank 1 (shape [None]), got rank 2",
    ),
    (
        "POST",
        "reviews:predict",
        {"instances": [{"txt": "a"}]},
        400,
        "instances[0]: missing input 'text' (inputs: text)",
    ),
    (
        "POST",
        "reviews:predict",
        {"instances": [{"b64": "not base64!"}]},
        400,
        "input 'text': invalid base64 in 'b64'",
    ),
    (
        "POST",
        "reviews:predict",
        {"signature_name": "nope", "instances": ["a"]},
        400,
        'Serving signature name: "nope" not found in signature def',
    ),
    (
        "POST",
        "reviews:predict",
        {"signature_name": "serve_tokens", "instances": [[1, 2], [3]]},
        400,
        "input 'token_ids': the lists are not rectangular (rows of different "
        "lengths or depths)",
    ),
    (
        "POST",
        "reviews:predict",
        {"signature_name": "serve_tokens", "instances": [[1.5]]},
        400,
        "JSON Value: 1.5 Type: Number is not of expected type: int64",
    ),
    (
        "POST",
        "reviews:predict",
        {"signature_name": "serve_tokens", "instances": [[2**63]]},
        400,
        "input 'token_ids': a value is out of range for int64",
    ),
    (
        "POST",
        "reviews:classify",
        {"instances": ["a"]},
        400,
        "classify is not supported: the signatures of this model are predict "
        "signatures (use :predict)",
    ),
    (
        "GET",
        "reviews/versions/x",
        None,
        400,
        "Failed to convert version: x to numeric.",
    ),
    ("GET", "other", None, 404, "Servable not found for request: Latest(other)"),
    (
        "POST",
        "other:predict",
        {"instances": ["a"]},
        404,
        "Servable not found for request: Latest(other)",
    ),
    (
        "POST",
        "reviews/versions/7:predict",
        {"instances": ["a"]},
        404,
        "Servable not found for request: Specific(reviews, 7)",
    ),
    (
        "GET",
        "reviews/versions/7",
        None,
        404,
        "Servable not found for request: Specific(reviews, 7)",
    ),
    (
        "GET",
        "reviews/versions/7/metadata",
        None,
        404,
        "Servable not found for request: Specific(reviews, 7)",
    ),
    (
        "GET",
        "reviews:predict",
        None,
        405,
        "Malformed request: GET /v1/models/reviews:predict",
    ),
]


@pytest.mark.parametrize(
    "method, path, body, status, error",
    BAD_REQUESTS,
    ids=[f"{m} {p} {str(b)[:30]}" for m, p, b, _, _ in BAD_REQUESTS],
)
def test_bad_requests_get_tf_serving_errors_and_the_server_keeps_answering(
    served, method, path, body, status, error
):
    root = served.url.rsplit("/", 1)[0]  # .../v1/models
    assert call(f"{root}/{path}", body, method) == (status, {"error": error})
    # Still serving.
    status, answer = call(served.url + ":predict", {"instances": ["still there"]})
    assert status == 200 and len(answer["predictions"]) == 1


def test_an_out_of_vocabulary_token_id_is_a_400_naming_it(served):
    size = served.vocabulary_size
    assert call(
        served.url + ":predict",
        {"signature_name": "serve_tokens", "instances": [[size + 5]]},
    ) == (400, {"error": f"indices[0,0] = {size + 5} is not in [0, {size})"})


def test_unknown_paths_are_404(served):
    root = served.url.split("/v1/")[0]
    assert call(root + "/v1/foo") == (404, {"error": "Malformed request: GET /v1/foo"})


# --------------------------------------------------------------------------- #
# Versions appearing on disk


def test_a_broken_new_version_does_not_take_down_the_served_one(exports, tmp_path):
    base = tmp_path / "reviews"
    shutil.copytree(exports.base / "cpu" / "1", base / "1")
    repository = ModelRepository(base, "reviews")
    repository.refresh()
    assert repository.versions() == [1]
    broken = base / "2"
    shutil.copytree(exports.base / "cpu" / "1", broken)
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    repository.refresh()
    assert repository.versions() == [1]
    assert repository.get(None)[0] == 1
    statuses = repository.status(None)
    assert [(s["version"], s["state"]) for s in statuses] == [
        ("2", "END"),
        ("1", "AVAILABLE"),
    ]
    assert statuses[0]["status"]["error_code"] == "UNKNOWN"
    assert statuses[0]["status"]["error_message"] != ""
    # A good version 3, renamed into place as `textlstm export` does, replaces
    # version 1 (policy latest).
    shutil.copytree(exports.base / "cpu" / "1", base / ".tmp-3")
    (base / ".tmp-3").rename(base / "3")
    repository.refresh()
    assert repository.versions() == [3]


def test_serve_refuses_a_version_folder_and_an_empty_base(exports, tmp_path):
    version = exports.base / "cpu" / "1"
    result = CliRunner().invoke(cli, ["serve", str(version)])
    assert (result.exit_code, result.output) == (
        2,
        f"Error: {version} is a version folder; give its parent, the model base "
        f"({version.parent})\n",
    )
    result = CliRunner().invoke(cli, ["serve", str(tmp_path)])
    assert (result.exit_code, result.output) == (
        2,
        f"Error: {tmp_path} has no loadable version folder (1/, 2/, ...)\n",
    )


# --------------------------------------------------------------------------- #
# The command in a real process


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_command_in_a_real_process_stops_on_a_signal(exports, signum):
    base = exports.base / "tpu"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "textlstm.cli.main",
            "serve",
            str(base),
            "--port",
            "0",
            "--model-name",
            "reviews",
            "--poll-seconds",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in process.stderr], daemon=True
    )
    reader.start()
    try:
        while True:
            line = lines.get(timeout=120)
            match = re.match(
                r"Serving reviews \(versions 1\) at (http://127\.0\.0\.1:\d+"
                r"/v1/models/reviews)  \(Ctrl-C to stop\)",
                line,
            )
            if match:
                break
        url = match.group(1)
        assert call(url) == (200, {"model_version_status": [available("1")]})
        status, body = call(url + ":predict", {"instances": TEXTS[:2]})
        assert status == 200 and len(body["predictions"]) == 2
    finally:
        process.send_signal(signum)
        returncode = process.wait(timeout=60)
    assert returncode == 0
    reader.join(timeout=10)
    rest = [lines.get_nowait() for _ in range(lines.qsize())]
    assert rest[-1] == "Stopped.\n"
