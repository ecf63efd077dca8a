"""The server's Prometheus metrics, named as TensorFlow Serving names them,
served at `/monitoring/prometheus/metrics` (TF Serving's path).

```
:tensorflow:serving:request_count_total{model_name, version, signature_name, API,
                                       status}
:tensorflow:serving:request_latency{model_name, signature_name, API, entrypoint}  (µs)
:tensorflow:serving:batching_session:processed_batch_size{model_name, signature_name}
:tensorflow:serving:queue_rejections_total{model_name, signature_name}
```

(`prometheus-client` names counters `..._total`, as OpenMetrics asks; TF
Serving's own exporter leaves the suffix off: a dashboard written for it
matches `request_count` with a regex or a relabelling rule.)

`status` is the TF Serving error code of the answer (`OK`,
`INVALID_ARGUMENT`, `NOT_FOUND`, `UNAVAILABLE`, ...), `API` `predict`,
`metadata` or `status`, `entrypoint` `REST` or `GRPC`. Each server has
its own registry (`prometheus_client.CollectorRegistry`), so several in
one process (tests) count apart.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE", "METRICS_PATH", "ServingMetrics", "status_code_name"]

#: Where TF Serving exposes Prometheus metrics (`--monitoring_config_file`).
METRICS_PATH = "/monitoring/prometheus/metrics"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Microseconds, as TF Serving's request_latency.
_LATENCY_BUCKETS = tuple(10.0 * 1.8**i for i in range(30))
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_CODES = {
    200: "OK",
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    411: "INVALID_ARGUMENT",
    413: "INVALID_ARGUMENT",
    503: "UNAVAILABLE",
}


def status_code_name(http_status: int) -> str:
    """The TF Serving error code of an HTTP status (`UNKNOWN` for others).

    >>> status_code_name(503), status_code_name(500)
    ('UNAVAILABLE', 'UNKNOWN')
    """
    return _CODES.get(http_status, "UNKNOWN")


class ServingMetrics:
    """The counters and histograms of one server."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            ":tensorflow:serving:request_count",
            "Requests answered, by model, version, signature, API and status.",
            ["model_name", "version", "signature_name", "API", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            ":tensorflow:serving:request_latency",
            "Request latency in microseconds, from parsed request to answer.",
            ["model_name", "signature_name", "API", "entrypoint"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            ":tensorflow:serving:batching_session:processed_batch_size",
            "Rows of each batch a signature ran.",
            ["model_name", "signature_name"],
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.rejections = Counter(
            ":tensorflow:serving:queue_rejections",
            "Requests refused because the batch queue was full (503).",
            ["model_name", "signature_name"],
            registry=self.registry,
        )

    def observe_request(
        self,
        *,
        model: str,
        version: int | None,
        signature: str,
        api: str,
        entrypoint: str,
        status: str,
        seconds: float,
    ) -> None:
        """Count one answered request and its latency."""
        self.requests.labels(
            model, "" if version is None else str(version), signature, api, status
        ).inc()
        self.latency.labels(model, signature, api, entrypoint).observe(seconds * 1e6)
        if status == "UNAVAILABLE":
            self.rejections.labels(model, signature).inc()

    def observe_batch(self, model: str, signature: str, rows: int) -> None:
        """Count one batch of `rows` run by a signature."""
        self.batch_size.labels(model, signature).observe(rows)

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes."""
        return generate_latest(self.registry)
