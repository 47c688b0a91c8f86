"""The web process as the Procfile runs it: real gunicorn, gevent workers, production settings.

No database server needed (the requests answered here never query one), so
this runs in the SQLite run and the stack run alike. It checks what a unit test
of gunicorn.conf.py cannot: gevent patches each worker with no
MonkeyPatchWarning, every line gunicorn and the app write is JSON, the access
log carries the request id, and a unix-socket bind (a VM behind nginx) serves.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness.deployment import PLAIN_HTTP_DEPLOYMENT
from tests.harness.servers import LOOPBACK, free_port, port_open, wait_until

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def web_environment(var_dir: Path, **overrides: str) -> dict[str, str]:
    """Production settings (not tests.settings) and nothing else from this environment (the
    stack run's adapter choices would need servers): JSON logs, no debug, SQLite."""
    keep = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    (var_dir / "static").mkdir(parents=True, exist_ok=True)
    return {
        **keep,
        **PLAIN_HTTP_DEPLOYMENT,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": f"sqlite:///{var_dir / 'web.sqlite3'}",
        "REDIS_URL": "",
        "VAR_DIR": str(var_dir),
        "WEB_CONCURRENCY": "2",
        **overrides,
    }


@dataclass
class Served:
    stdout: str = ""
    stderr: str = ""

    def lines(self) -> list[str]:
        return [line for line in (self.stdout + self.stderr).splitlines() if line.strip()]

    def access_log(self) -> list[dict[str, Any]]:
        return [entry for entry in map(json.loads, self.stdout.splitlines()) if entry["logger"] == "gunicorn.access"]


@contextmanager
def gunicorn(environment: dict[str, str], ready: Any) -> Iterator[Served]:
    """The Procfile's web command; stopped with SIGTERM (as a PaaS does), its output collected."""
    process = subprocess.Popen(
        [GUNICORN, "project.wsgi", "--config", "gunicorn.conf.py"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    served = Served()
    try:
        wait_until(lambda: ready() or process.poll() is not None, timeout=60, what="gunicorn")
        assert process.poll() is None, process.communicate()
        yield served
    finally:
        process.terminate()
        served.stdout, served.stderr = process.communicate(timeout=40)
    assert process.returncode == 0, served.stderr


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket, as nginx's `proxy_pass http://unix:/run/experthub/web.sock`."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def get(connection: http.client.HTTPConnection, path: str, **headers: str) -> http.client.HTTPResponse:
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    return response


def test_gevent_workers_log_json_lines_with_the_request_id_and_no_monkey_patch_warning(tmp_path: Path) -> None:
    port = free_port()
    environment = web_environment(tmp_path, PORT=str(port), WEB_HOST=LOOPBACK)

    with gunicorn(environment, ready=lambda: port_open(port)) as served:
        client = http.client.HTTPConnection(LOOPBACK, port, timeout=60)  # workers may still be booting
        given = get(
            client, "/api/v1/me/?q=%22quoted%22", **{"X-Request-ID": "abc-123", "X-Forwarded-For": "203.0.113.7"}
        )
        made_up = get(client, "/api/v1/me/")

    assert given.status == 401
    assert given.getheader("X-Request-ID") == "abc-123"
    assert made_up.getheader("X-Request-ID")
    assert "MonkeyPatchWarning" not in served.stderr
    for line in served.lines():
        json.loads(line)  # gunicorn's own lines and the app's alike; raises on a text line
    first, second = served.access_log()
    assert first["request_id"] == "abc-123"
    assert first["method"] == "GET"
    assert first["path"] == "/api/v1/me/?q=%22quoted%22"
    assert first["status"] == 401
    assert first["bytes"] > 0
    assert first["duration_ms"] >= 0
    # The peer (loopback) is a trusted proxy by default: the app resolved the client in the
    # environ that gunicorn's access line reads (project/proxies.py).
    assert first["remote_addr"] == "203.0.113.7"
    assert first["forwarded_for"] == "203.0.113.7"
    assert second["request_id"] == made_up.getheader("X-Request-ID")
    app_lines = [json.loads(line) for line in served.stderr.splitlines() if '"abc-123"' in line]
    assert {entry["logger"] for entry in app_lines} >= {"django_structlog.middlewares.request", "django.request"}


def test_a_unix_socket_bind_serves_when_no_port_is_given(tmp_path: Path) -> None:
    sock = tmp_path / "web.sock"
    environment = web_environment(tmp_path, GUNICORN_BIND=f"unix:{sock}", WEB_CONCURRENCY="1")

    with gunicorn(environment, ready=sock.exists):
        response = get(UnixHTTPConnection(str(sock)), "/api/v1/me/", **{"X-Request-ID": "over-the-socket"})

    assert response.status == 401
    assert response.getheader("X-Request-ID") == "over-the-socket"


def test_a_peer_outside_trusted_proxies_forges_neither_https_nor_its_address(tmp_path: Path) -> None:
    # gunicorn and the app read the same TRUSTED_PROXIES: were gunicorn alone to trust the peer, its
    # wsgi.url_scheme would say https where the app dropped the header, and nothing would redirect.
    port = free_port()
    environment = web_environment(
        tmp_path,
        PORT=str(port),
        WEB_HOST=LOOPBACK,
        WEB_CONCURRENCY="1",
        TRUSTED_PROXIES="10.0.0.0/8",
        SECURE_SSL_REDIRECT="true",
        TRUST_X_FORWARDED_PROTO="true",
    )

    with gunicorn(environment, ready=lambda: port_open(port)) as served:
        client = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
        forged = get(client, "/api/v1/me/", **{"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.1.1.1"})

    assert forged.status == 301  # still plain HTTP to the app: sent to https://
    (line,) = served.access_log()
    assert line["remote_addr"] == LOOPBACK  # the peer itself, not the address it claimed
