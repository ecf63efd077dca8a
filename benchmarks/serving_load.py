"""`python benchmarks/serving.py --load`: `textlstm serve` under 1, 8 and
32 concurrent clients, with and without batching.

The server runs as the real command in its own process (`textlstm serve
EXPORT --port P`), the clients are threads of this process, each with its
own keep-alive HTTP connection, sending requests of one review one after
the other for a fixed number of requests (a bounded run). Every answer is
compared with the export's own signature on the same text (1e-5). Per run:
throughput, p50 / p99 latency, statuses, the server's resident memory
before and after (`/proc/PID/status`), and a last request after the run
(the server alive and correct). Written to
`benchmarks/results/serving_load.json`.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results" / "serving_load.json"
CLIENTS = (1, 8, 32)
#: Reviews in each large request of the mixed run.
LARGE = 2000
TOLERANCE = 1e-5


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _resident_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


class _Server:
    """`textlstm serve BASE` in a child process, until `stop`."""

    def __init__(self, base: Path, batching: bool):
        self.port = _free_port()
        command = [
            sys.executable,
            "-m",
            "textlstm.cli.main",
            "serve",
            str(base),
            "--port",
            str(self.port),
            "--model-name",
            "reviews",
            "--poll-seconds",
            "0",
            "--batching" if batching else "--no-batching",
        ]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                status, _ = _post(self._connection(), ["warm up"])
                if status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"the server did not start: {self.process.stderr.read()}")

    def _connection(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


def _post(connection, texts) -> tuple[int, dict]:
    body = json.dumps({"instances": texts})
    connection.request(
        "POST", "/v1/models/reviews:predict", body, {"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def _client(
    server: _Server, texts, expected, count: int, offset: int, large: bool
) -> dict:
    """`count` requests one after the other; with `large`, every 25th is
    `LARGE` reviews (timed apart: the latencies are the small requests')."""
    connection = server._connection()
    latencies, statuses, wrong = [], {}, 0
    for i in range(count):
        index = (offset + i) % len(texts)
        rows = (
            [index]
            if not (large and i % 25 == 0)
            else [(index + j) % len(texts) for j in range(LARGE)]
        )
        start = time.perf_counter()
        status, body = _post(connection, [texts[j] for j in rows])
        if len(rows) == 1:
            latencies.append((time.perf_counter() - start) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
        if status == 200:
            got = np.asarray([row["probabilities"] for row in body["predictions"]])
            wrong += int(np.abs(got - expected[rows]).max() > TOLERANCE)
    connection.close()
    return {"latencies": latencies, "statuses": statuses, "wrong": wrong}


def load_run(
    base: Path,
    texts,
    expected,
    *,
    batching: bool,
    clients: int,
    count: int,
    mixed: bool = False,
):
    """One bounded run: `clients` threads, `count` requests each (`mixed`:
    a quarter of the clients also send large requests)."""
    server = _Server(base, batching)
    try:
        before = _resident_mb(server.process.pid)
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(clients) as pool:
            parts = list(
                pool.map(
                    lambda k: _client(
                        server, texts, expected, count, k * 37, mixed and k % 4 == 0
                    ),
                    range(clients),
                )
            )
        wall = time.perf_counter() - start
        after = _resident_mb(server.process.pid)
        status, body = _post(server._connection(), [texts[0]])
        alive = status == 200 and bool(
            np.abs(
                np.asarray(body["predictions"][0]["probabilities"]) - expected[0]
            ).max()
            <= TOLERANCE
        )
    finally:
        exit_code = server.stop()
    latencies = np.concatenate([part["latencies"] for part in parts])
    statuses = {}
    for part in parts:
        for code, n in part["statuses"].items():
            statuses[str(code)] = statuses.get(str(code), 0) + n
    p50, p99 = (float(np.percentile(latencies, q)) for q in (50, 99))
    row = {
        "batching": batching,
        "clients": clients,
        "mixed": f"every 25th request of 1 client in 4 has {LARGE} reviews"
        if mixed
        else None,
        "requests": int(latencies.size),
        "throughput_rps": round(latencies.size / wall, 1),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "p99_over_p50": round(p99 / p50, 2),
        "statuses": statuses,
        "wrong_answers": sum(part["wrong"] for part in parts),
        "rss_mb_before": before,
        "rss_mb_after": after,
        "alive_and_correct_after": alive,
        "server_exit_code": exit_code,
    }
    print(json.dumps(row), flush=True)
    return row


def table(rows) -> str:
    lines = [
        "| batching | clients | requests/s | p50 / p99 ms | p99 / p50 | statuses "
        "| RSS before / after MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
        lines.append(
            f"| {'on' if r['batching'] else 'off'} | {r['clients']}"
            f"{' mixed' if r.get('mixed') else ''} | "
            f"{r['throughput_rps']} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | "
            f"{r['p99_over_p50']} | {statuses} | {r['rss_mb_before']} / "
            f"{r['rss_mb_after']} |"
        )
    return "\n".join(lines)


def main(export_dir: Path, texts: list[str], requests: int, out: Path) -> None:
    """Time every (batching, clients) case on `export_dir`'s model base,
    then the mixed run."""
    import tensorflow as tf

    serve = tf.saved_model.load(str(export_dir)).signatures["serving_default"]
    expected = serve(text=tf.constant(texts))["probabilities"].numpy()
    base = export_dir.parent
    rows = []
    for batching in (False, True):
        for clients in CLIENTS:
            count = max(1, requests // clients)
            rows.append(
                load_run(
                    base,
                    texts,
                    expected,
                    batching=batching,
                    clients=clients,
                    count=count,
                )
            )
    rows.append(
        load_run(
            base,
            texts,
            expected,
            batching=True,
            clients=32,
            count=max(1, requests // 32),
            mixed=True,
        )
    )
    print(table(rows))
    result = {
        "benchmark": "serving_load",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "server": "textlstm serve (waitress, 64 threads; batching: max 64 rows, "
        "2 ms timeout, 256 queued)",
        "requests_per_run": requests,
        "request": "one review per request (synthetic test split); the mixed run "
        f"adds requests of {LARGE} reviews, not counted in the latencies",
        "rows": rows,
        "table": table(rows),
    }
    write_result(out, result)


def machine() -> dict:
    """What the benchmark ran on (both serving benchmarks record it)."""
    import tensorflow as tf

    return {
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def write_result(out: Path, result: dict) -> None:
    """Write a results file atomically (a killed run leaves the old one)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_suffix(".tmp")
    temporary.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(temporary, out)
