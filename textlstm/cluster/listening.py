"""The server's listening socket, bound before anything heavy happens.

Outside `textlstm.serving` so that it imports no TensorFlow: `textlstm
serve` binds its ports first, so a port in use is a one-line error (exit 2)
in a second, not after the model loaded.
"""

from __future__ import annotations

import socket

from textlstm.errors import ExportError

__all__ = ["listening_socket"]


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host:port` (0: a free port), not yet listening.

    Raises:
        ExportError: the address is in use, not this machine's, or not
            allowed (one line).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ExportError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        hint = " (is another server running? choose another --port)"
        raise ExportError(
            f"cannot listen on {host}:{port}: {reason}"
            + (hint if error.errno in (98, 48, 10048) else "")
        ) from None
    return sock
