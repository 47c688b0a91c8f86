"""No HTML error page comes out of the web process: gunicorn's own errors and the app's, over real sockets.

Real gunicorn with the shipped config (deploy/gunicorn_worker.py's gevent worker)
on SQLite: gunicorn refuses a request line past limit_request_line (414), too
many or too large header fields (431) and malformed requests (400) before the
app sees them; the app refuses a bad Host, a wrong method on a probe, an
unknown path and bodies over the limit, chunked or not. Every answer is the
one JSON error shape. Needs no database server: runs in both runs.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness.servers import LOOPBACK, free_port
from tests.harness.web import gunicorn_serving
from tests.integration.test_gunicorn_serving import web_environment

BODY_LIMIT = 1000


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, Any]:
        assert self.headers.get("content-type") == "application/json", (self.status, self.headers, self.body[:300])
        error = json.loads(self.body)["error"]
        assert set(error) == {"code", "message", "fields"}
        return dict(error)


def exchange(port: int, raw: bytes) -> Answer:
    """Send raw bytes, read the response until gunicorn closes the connection (every error closes it)."""
    with socket.create_connection((LOOPBACK, port), timeout=30) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (h.partition(":") for h in header_lines)}
    if headers.get("transfer-encoding") == "chunked":  # an answer from the app rather than gunicorn
        body = dechunked(body)
    return Answer(int(status_line.split()[1]), headers, body)


def dechunked(body: bytes) -> bytes:
    whole = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return whole
        whole, body = whole + body[:size], body[size + 2 :]


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    environment = web_environment(
        tmp_path_factory.mktemp("web"),
        PORT=str(port),
        WEB_HOST=LOOPBACK,
        WEB_CONCURRENCY="1",
        DATA_UPLOAD_MAX_MEMORY_SIZE=str(BODY_LIMIT),
    )
    with gunicorn_serving(environment, port):
        yield port


class TestGunicornsOwnErrors:
    def test_a_request_line_too_long_is_a_json_414(self, port: int) -> None:
        answer = exchange(port, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")

        assert answer.status == 414
        assert answer.error()["code"] == "uri_too_long"

    def test_too_many_header_fields_is_a_json_431(self, port: int) -> None:
        headers = b"".join(b"X-Field-%d: 1\r\n" % n for n in range(150))
        answer = exchange(port, b"GET / HTTP/1.1\r\nHost: localhost\r\n" + headers + b"\r\n")

        assert answer.status == 431
        assert answer.error()["code"] == "header_fields_too_large"

    def test_a_header_field_too_large_is_a_json_431(self, port: int) -> None:
        answer = exchange(port, b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n")

        assert answer.status == 431
        assert answer.error()["code"] == "header_fields_too_large"

    @pytest.mark.parametrize(
        "raw",
        [
            b"GARBAGE\r\n\r\n",
            b"GET / HTTP/9.9\r\nHost: localhost\r\n\r\n",
            b"G\x00T / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n",
        ],
        ids=["request-line", "version", "method", "header-name", "chunk-size"],
    )
    def test_a_malformed_request_is_a_json_4xx(self, port: int, raw: bytes) -> None:
        answer = exchange(port, raw)

        assert 400 <= answer.status < 500, answer
        assert answer.error()["message"]


class TestTheAppsErrors:
    def request(self, port: int, method: str, path: str, **kwargs: Any) -> http.client.HTTPResponse:
        client = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
        client.request(method, path, **kwargs)
        return client.getresponse()

    def error(self, response: http.client.HTTPResponse, status: int) -> dict[str, Any]:
        body = response.read()
        assert response.status == status, body[:300]
        assert response.getheader("Content-Type") == "application/json", body[:300]
        return dict(json.loads(body)["error"])

    def test_a_host_not_allowed(self, port: int) -> None:
        response = self.request(port, "GET", "/api/v1/version/", headers={"Host": "evil.example.com"})
        assert self.error(response, 400)["code"] == "bad_request"

    def test_a_wrong_method_on_a_probe(self, port: int) -> None:
        response = self.request(port, "POST", "/healthz")
        assert self.error(response, 405)["code"] == "method_not_allowed"
        assert response.getheader("Allow") == "GET, HEAD"

    def test_an_unknown_path(self, port: int) -> None:
        assert self.error(self.request(port, "GET", "/nope"), 404)["code"] == "not_found"

    def test_a_body_over_the_limit(self, port: int) -> None:
        body = json.dumps({"email": "x" * BODY_LIMIT})
        response = self.request(port, "POST", "/api/v1/auth/token/", body=body, headers=json_type())
        assert str(BODY_LIMIT) in self.error(response, 413)["message"]

    def test_a_chunked_body_over_the_limit(self, port: int) -> None:
        chunks = iter([b"{", b'"email": "' + b"x" * BODY_LIMIT + b'"', b"}"])
        response = self.request(port, "POST", "/api/v1/auth/token/", body=chunks, headers=json_type())
        assert str(BODY_LIMIT) in self.error(response, 413)["message"]

    def test_a_chunked_body_within_the_limit_is_read(self, port: int) -> None:
        chunks = iter([b"{", b'"email": "someone@example.com"', b"}"])
        response = self.request(port, "POST", "/api/v1/auth/token/", body=chunks, headers=json_type())
        # Only the password is missing: the email in the chunked body was read.
        assert list(self.error(response, 400)["fields"]) == ["password"]


def json_type() -> dict[str, str]:
    return {"Content-Type": "application/json"}


def test_the_worker_is_the_shipped_one() -> None:
    config = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
    assert 'worker_class = "deploy.gunicorn_worker.JsonErrorGeventWorker"' in config.read_text()
