"""Gunicorn's gevent worker, answering gunicorn's own errors in the API's JSON error shape.

Gunicorn refuses some requests before the app sees them: a request line past
limit_request_line (414), too many or too large header fields (431), a
malformed request line, header or chunk (400), an app that crashed outside
Django (500). It writes those as an HTML page (``gunicorn.util.write_error``,
called by the worker's ``handle_error``); a client of this API gets JSON
instead: ``{"error": {"code", "message", "fields"}}`` (api/errors.py). The
status, reason and message stay gunicorn's.

gunicorn.conf.py names this class in ``worker_class``. Gunicorn imports it in the
master, before gevent patches anything: so this module imports only gunicorn and
the standard library (no Django: its settings would pull ssl-using clients in
unpatched), and builds the error body itself.
"""

from __future__ import annotations

import json
from typing import Any

from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

CODES = {
    400: "bad_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "header_fields_too_large",
    501: "not_implemented",
}


def error_response(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 response (the connection is closed after it) in the one error shape."""
    code = CODES.get(status, "server_error" if status >= 500 else "bad_request")
    body = json.dumps({"error": {"code": code, "message": message or reason, "fields": {}}}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """``gunicorn.util.write_error``'s signature, writing JSON instead of HTML."""
    util.write_nonblock(sock, error_response(status_int, reason, mesg))


class JsonErrorGeventWorker(GeventWorker):  # type: ignore[misc]
    """GeventWorker whose error responses are JSON.

    ``handle_error`` chooses the status and message and ends with a call to
    ``util.write_error``, gunicorn's only writer of error pages and no
    setting of its own: it is replaced in this worker process, once it runs.
    """

    def init_process(self) -> None:
        util.write_error = write_json_error
        super().init_process()
