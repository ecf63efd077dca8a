"""Running the server: `make_server` (ready, not running) and `serve` (until
stopped by Ctrl-C or SIGTERM)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from werkzeug.serving import make_server as werkzeug_server

from textlstm.errors import ExportError
from textlstm.serving.app import create_app
from textlstm.serving.repository import ModelRepository

__all__ = ["make_server", "serve"]

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
        ExportError: `base` is a version folder, or has no version folder
            to serve (an `ExportError` is a `ValueError`).
    """
    base = Path(base)
    if (base / "saved_model.pb").is_file():
        raise ExportError(
            f"{base} is a version folder; give its parent, the model base "
            f"({base.parent})"
        )
    repository = ModelRepository(base, model_name or base.resolve().name, policy, log)
    repository.refresh()
    if not repository.versions():
        raise ExportError(f"{base} has no loadable version folder (1/, 2/, ...)")
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
            log(
                f"Serving {repository.name} (versions {versions}) at "
                f"http://{host}:{server.port}/v1/models/{repository.name}  "
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
