"""The errors the HTTP server writes itself, in TF Serving's JSON shape.

Waitress answers requests it cannot hand to the application (a body over
the limit: 413, header fields too large: 431, a malformed request: 400, a
transfer coding it does not know) with a plain-text page, and closes a
connection whose request stopped arriving without a word. Clients of TF
Serving's REST API read every error as `{"error": "..."}` with
`Content-Type: application/json`, so here:

- `JsonErrorChannel` answers waitress' own errors as JSON, with the status
  waitress chose, except that a transfer coding it does not implement
  (waitress: 501) is answered 400: the request is at fault, not the
  server, and no request may be answered 5xx.
- `answer_stalled_requests` makes the server answer 408 (JSON) on a
  connection whose request (its head or a body shorter than its
  Content-Length promised) has not advanced for `channel_timeout`
  seconds, then close it. An idle keep-alive connection between
  requests is still closed silently, as HTTP wants.

This module imports no TensorFlow.
"""

from __future__ import annotations

import json

import waitress.channel
import waitress.task

__all__ = ["JsonErrorChannel", "answer_stalled_requests", "json_error_response"]


def json_error_response(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 response `{"error": message}` that closes the
    connection.

    >>> json_error_response(408, "Request Timeout", "slow").split(b"\\r\\n")[0]
    b'HTTP/1.1 408 Request Timeout'
    """
    body = _body(message)
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        "Server: textlstm\r\n\r\n"
    )
    return head.encode("ascii") + body


def _body(message: str) -> bytes:
    return (json.dumps({"error": message}, ensure_ascii=False) + "\n").encode()


class JsonErrorTask(waitress.task.ErrorTask):
    """Waitress' error answer, as `{"error": "<reason>: <detail>"}`."""

    def execute(self):
        error = self.request.error
        code, reason = error.code, error.reason
        if code >= 500:  # only ServerNotImplemented reaches here: bad input
            code, reason = 400, "Bad Request"
        detail = " ".join(str(error.body).split())
        message = f"{error.reason}: {detail}" if detail else error.reason
        body = _body(message)
        self.status = f"{code} {reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class JsonErrorChannel(waitress.channel.HTTPChannel):
    """An HTTP channel whose own error answers are JSON."""

    error_task_class = JsonErrorTask


def answer_stalled_requests(server) -> None:
    """Make the waitress `server` answer 408 to stalled requests.

    Waitress calls `server.maintenance(now)` every `cleanup_interval`
    seconds from its event loop; this wraps it: a channel with a request
    begun but not complete, no request being served, and no bytes for
    `channel_timeout` seconds gets a 408 and is closed once it is sent.
    """
    original = server.maintenance

    def maintenance(now):
        cutoff = now - server.adj.channel_timeout
        for channel in list(server.active_channels.values()):
            partial = channel.request
            stalled = (
                partial is not None
                and not partial.completed
                and not channel.requests
                and channel.last_activity < cutoff
                and not (channel.will_close or channel.close_when_flushed)
            )
            if stalled:
                channel.request = None
                answer = json_error_response(
                    408,
                    "Request Timeout",
                    f"Request Timeout: no bytes of the request for "
                    f"{server.adj.channel_timeout} s (a body shorter than its "
                    "Content-Length?)",
                )
                try:
                    channel.write_soon(answer)
                except waitress.channel.ClientDisconnected:
                    continue  # gone: the original maintenance closes it
                channel.close_when_flushed = True
                channel.last_activity = now  # not closed before it is sent
        original(now)

    server.maintenance = maintenance
