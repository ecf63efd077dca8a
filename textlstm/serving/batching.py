"""Server-side batching with a bounded queue, as TF Serving's
`--enable_batching` does.

Each signature of a loaded version gets a `Batcher`: request handlers
`submit` their input tensors and wait; one worker thread takes the oldest
request, adds the requests that arrive within `batch_timeout` seconds
while the batch holds fewer than `max_batch_size` rows, runs the signature
once on the concatenated inputs and hands each request its rows of the
outputs. A request of more than `max_batch_size` rows is cut into pieces of
that size, submitted one after the other, so the small requests of other
clients run between its pieces instead of waiting behind all of it (TF
Serving's large batch splitting).

The queue holds at most `max_queued` requests; one more is refused at once
with `QueueFull` (503 over REST, `UNAVAILABLE` over gRPC), so a burst never
grows memory or latency without bound.

Concatenation is exact: `text` rows are independent, and `token_ids` rows
of different widths are padded with 0 (padding, which the export drops).
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable

import numpy as np

__all__ = ["BatchOptions", "Batcher", "QueueFull"]

_STOP = object()  # queued by `stop`: the worker ends


class QueueFull(RuntimeError):
    """The batch queue of a signature is full: the request is refused."""


@dataclasses.dataclass(frozen=True)
class BatchOptions:
    """How requests are batched (TF Serving's batching parameters).

    Attributes:
        enabled: Batch concurrent requests (else each runs on its own, but
            still through the bounded queue, one at a time).
        max_batch_size: Rows a batch grows to (`max_batch_size`).
        batch_timeout: Seconds the oldest request waits for others
            (`batch_timeout_micros` / 1e6).
        max_queued: Requests waiting at most (`max_enqueued_batches`, in
            requests); one more gets 503.
    """

    enabled: bool = True
    max_batch_size: int = 64
    batch_timeout: float = 0.002
    max_queued: int = 256

    def __post_init__(self):
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if self.batch_timeout < 0:
            raise ValueError(f"batch_timeout must be >= 0, got {self.batch_timeout}")
        if self.max_queued < 1:
            raise ValueError(f"max_queued must be >= 1, got {self.max_queued}")


@dataclasses.dataclass
class _Request:
    inputs: dict
    rows: int
    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    outputs: dict | None = None
    error: BaseException | None = None


class Batcher:
    """Batches the calls of one signature (see the module docstring).

    Args:
        run: `run(inputs: dict of arrays) -> dict of arrays`, the signature
            call; every output's first dimension is the batch.
        options: `BatchOptions`.
        observe: Called with the rows of each batch run (metrics).
    """

    def __init__(
        self,
        run: Callable[[dict], dict],
        options: BatchOptions,
        observe: Callable[[int], None] | None = None,
    ):
        self.run = run
        self.options = options
        self.observe = observe or (lambda rows: None)
        self._queue: queue.Queue[_Request] = queue.Queue(options.max_queued)
        self._last_requests = 0  # requests in the last batch run
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def submit(self, inputs: dict) -> dict:
        """Run `inputs` (arrays with one batch dimension) in a batch and
        return their rows of the outputs.

        Raises:
            QueueFull: the queue holds `max_queued` requests already.
            Exception: what the signature raised on the batch.
        """
        rows = len(next(iter(inputs.values())))
        limit = self.options.max_batch_size
        if self.options.enabled and rows > limit:
            pieces = [
                self.submit({k: v[start : start + limit] for k, v in inputs.items()})
                for start in range(0, rows, limit)
            ]
            return {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}
        request = _Request(inputs, rows)
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            raise QueueFull(
                f"the batch queue is full ({self.options.max_queued} requests "
                "waiting); retry later"
            ) from None
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.outputs

    def stop(self) -> None:
        """Stop the worker thread once the queue is empty."""
        self._queue.put(_STOP)

    def _work(self) -> None:
        pending = None
        while True:
            first = self._queue.get() if pending is None else pending
            pending = None
            if first is _STOP:
                return
            batch = [first]
            if self.options.enabled:
                pending = self._gather(batch)
            self._run(batch)

    def _gather(self, batch: list) -> _Request | None:
        """Add waiting requests to `batch` until it is full or the timeout
        passes; returns a request that did not fit (the next batch's).

        When the last batch held one request and none is waiting, there is
        nobody to wait for (a single client): the batch runs at once rather
        than after the timeout. Under concurrency requests queue up while a
        batch runs, and the timeout applies.
        """
        limit = self.options.max_batch_size
        rows = batch[0].rows
        if self._last_requests == 1 and self._queue.empty():
            return None
        deadline = time.monotonic() + self.options.batch_timeout
        while rows < limit:
            timeout = deadline - time.monotonic()
            try:
                request = (
                    self._queue.get(timeout=timeout)
                    if timeout > 0
                    else self._queue.get_nowait()
                )
            except queue.Empty:
                return None
            if request is _STOP or rows + request.rows > limit:
                return request
            batch.append(request)
            rows += request.rows
        return None

    def _run(self, batch: list) -> None:
        self._last_requests = len(batch)
        try:
            inputs = _concatenate([request.inputs for request in batch])
            outputs = self.run(inputs)
            self.observe(sum(request.rows for request in batch))
            start = 0
            for request in batch:
                stop = start + request.rows
                request.outputs = {k: v[start:stop] for k, v in outputs.items()}
                start = stop
        except Exception as error:
            if len(batch) > 1:
                # One bad request (an id out of range, ...) must not fail
                # the others: each runs alone, and only it gets its error.
                for request in batch:
                    self._run([request])
                return
            batch[0].error = error
        for request in batch:
            request.done.set()


def _concatenate(parts: list) -> dict:
    """The inputs of several requests as one batch (token id rows of
    different widths padded with 0)."""
    if len(parts) == 1:
        return parts[0]
    joined = {}
    for key in parts[0]:
        arrays = [part[key] for part in parts]
        if arrays[0].ndim == 2:
            width = max(array.shape[1] for array in arrays)
            arrays = [
                np.pad(array, [(0, 0), (0, width - array.shape[1])]) for array in arrays
            ]
        joined[key] = np.concatenate(arrays)
    return joined
