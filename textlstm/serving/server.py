"""Running the server: `make_server` (ready, not running) and `serve` (until
stopped by Ctrl-C or SIGTERM).

The HTTP server is waitress: a production WSGI server in pure Python (no
compiler, every platform TensorFlow runs on) with a fixed pool of worker
threads, HTTP/1.1 parsing that answers malformed request lines 400, and
a body limit applied to chunked bodies too (413). Werkzeug's development
server, used before, started a thread per request, cut chunked bodies at
the limit silently and answered garbage request lines HTTP/0.9-style. A
pre-forking server (gunicorn) would load the model once per process and
cannot batch across them. The socket is bound before the model loads, so
a port in use fails at once (`listening_socket`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import waitress.server

from textlstm.cluster.listening import listening_socket
from textlstm.errors import ExportError
from textlstm.export.versions import check_model_base
from textlstm.serving.app import MAX_REQUEST_BYTES, create_app
from textlstm.serving.batching import BatchOptions
from textlstm.serving.http_errors import JsonErrorChannel, answer_stalled_requests
from textlstm.serving.metrics import ServingMetrics
from textlstm.serving.repository import ModelRepository

__all__ = ["Server", "make_server", "serve"]

#: The batching of `make_server` unless told otherwise.
DEFAULT_BATCHING = BatchOptions()
#: HTTP worker threads: a request waits in one while its batch runs, so as
#: many as the concurrent clients a batch should gather.
THREADS = 64

#: Seconds without a byte of a begun request before it is answered 408.
STALL_SECONDS = 30

#: The signals that stop `serve`: Ctrl-C, and `docker stop` / Kubernetes.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def make_server(
    base: str | os.PathLike,
    *,
    host: str = "127.0.0.1",
    port: int = 8501,
    model_name: str | None = None,
    policy: str = "latest",
    poll_seconds: float = 2.0,
    log: Callable[[str], None] | None = None,
    batching: BatchOptions | None = DEFAULT_BATCHING,
    threads: int = THREADS,
    sock=None,
    grpc_port: int | None = None,
    stall_seconds: int = STALL_SECONDS,
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
        batching: How concurrent predict requests are batched and queued
            (`BatchOptions`); None: no batching, each request runs its own
            call (at most `DIRECT_LIMIT` at once).
        threads: HTTP worker threads.
        sock: A socket already bound to `host:port` (`listening_socket`);
            default: bind one now, before the model loads.
        grpc_port: Also serve TF Serving's gRPC API on this port (0: a
            free one, `server.grpc_port`); None: no gRPC.
        stall_seconds: A request (its head, or a body shorter than its
            Content-Length) that gets no byte for this long is answered
            408 and its connection closed; idle connections between
            requests are closed after it too.

    Returns:
        A `Server`.

    Raises:
        ExportError: `base` is a version folder, has no version folder
            to serve, or `host:port` cannot be listened on (an
            `ExportError` is a `ValueError`).
    """
    base = Path(base)
    check_model_base(base)
    sock = sock if sock is not None else listening_socket(host, port)
    metrics = ServingMetrics()
    repository = ModelRepository(
        base,
        model_name or base.resolve().name,
        policy,
        log,
        batching=batching,
        metrics=metrics,
    )
    grpc = None
    try:
        if grpc_port is not None:
            grpc = _grpc(repository, metrics, host, grpc_port, threads)
        repository.refresh()
        if not repository.versions():
            raise ExportError(f"{base} has no loadable version folder (1/, 2/, ...)")
    except BaseException:
        sock.close()
        if grpc is not None:
            grpc[0].stop(None)
        raise
    server = Server(
        create_app(repository, metrics),
        sock,
        repository,
        metrics,
        threads,
        grpc,
        stall_seconds=stall_seconds,
    )
    if poll_seconds > 0:
        threading.Thread(
            target=_poll, args=(repository, poll_seconds), daemon=True
        ).start()
    return server


class Server:
    """A waitress server on a bound socket, and the repository it serves.

    Attributes:
        port: The port it listens on.
        repository: The `ModelRepository`.
        metrics: The `ServingMetrics` it counts in.
        grpc, grpc_port: The gRPC server (started with this one) and its
            port, or None.
    """

    def __init__(
        self,
        app,
        sock,
        repository: ModelRepository,
        metrics: ServingMetrics,
        threads: int,
        grpc: tuple | None = None,
        stall_seconds: int = STALL_SECONDS,
    ):
        self.repository = repository
        self.metrics = metrics
        self.port = sock.getsockname()[1]
        self.grpc, self.grpc_port = grpc or (None, None)
        self._server = waitress.server.create_server(
            app,
            sockets=[sock],
            threads=threads,
            max_request_body_size=MAX_REQUEST_BYTES,
            asyncore_loop_timeout=0.2,  # how soon `shutdown` takes effect
            ident="textlstm",
            channel_timeout=stall_seconds,
            cleanup_interval=max(1, min(30, stall_seconds // 2)),
        )
        # Waitress' own answers (413, 431, 400, 408) as TF Serving's JSON.
        self._server.channel_class = JsonErrorChannel
        answer_stalled_requests(self._server)
        self._stopped = threading.Event()

    def serve_forever(self) -> None:
        """Answer requests until `shutdown` (or Ctrl-C in this thread)."""
        if self.grpc is not None:
            self.grpc.start()
        try:
            self._server.run()
        finally:
            if self.grpc is not None:
                self.grpc.stop(1.0)
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop `serve_forever` (from another thread) and wait for it."""
        self._server.trigger.pull_trigger(self._server.close)
        self._stopped.wait(10)

    def server_close(self) -> None:
        """Close the socket and the worker threads (after `serve_forever`)."""
        self._server.close()
        for servable in self.repository.servables():
            servable.close()


def _grpc(repository, metrics, host: str, port: int, threads: int):
    """The gRPC server and its port, bound (before the model loads)."""
    from textlstm.serving.grpc_api import grpc_server

    try:
        return grpc_server(repository, metrics, f"{host}:{port}", threads)
    except OSError as error:
        raise ExportError(
            f"cannot listen on {host}:{port} for gRPC: {error} (is another server "
            "running? choose another --grpc-port)"
        ) from None


def _poll(repository: ModelRepository, seconds: float) -> None:
    while True:
        time.sleep(seconds)
        try:
            repository.refresh()
        except Exception as error:  # keep polling; the folder may come back
            repository.log(f"polling {repository.base}: {error}")


def serve(
    base: str | os.PathLike,
    *,
    host: str = "127.0.0.1",
    log: Callable[[str], None] | None = None,
    **options,
) -> None:
    """Serve a model base until Ctrl-C (SIGINT) or SIGTERM.

    Both signals stop the server even where the parent started this
    process with SIGINT ignored (a background job of a non-interactive
    shell); they are handled so only while serving, from the main thread.

    Args:
        base: The model base folder.
        host: Interface to listen on.
        log: Called with one-line messages: the address served, the
            versions loaded and unloaded, `Stopped.` at the end.
        **options: The other arguments of `make_server`.

    Raises:
        ExportError: as `make_server`.
    """
    log = log or (lambda message: None)
    server = make_server(base, host=host, log=log, **options)
    repository = server.repository
    versions = ", ".join(map(str, repository.versions()))
    try:
        with _stopped_by(STOP_SIGNALS):
            grpc = (
                f", gRPC at {host}:{server.grpc_port}"
                if server.grpc is not None
                else ""
            )
            log(
                f"Serving {repository.name} (versions {versions}) at "
                f"http://{host}:{server.port}/v1/models/{repository.name}{grpc}  "
                "(Ctrl-C to stop)"
            )
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    log("Stopped.")


@contextlib.contextmanager
def _stopped_by(signals) -> Iterator[None]:
    """`signals` raise KeyboardInterrupt in the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, stop) for signum in signals}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
