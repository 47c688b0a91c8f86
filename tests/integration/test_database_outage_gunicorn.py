"""A database outage for real: PostgreSQL stopped under gunicorn's gevent workers, as shipped, then started.

While it is down, anonymous and JWT-authenticated requests to several
endpoints (the JWT user lookup included) answer 503 in the JSON error shape
with Retry-After; /healthz stays 200 and /readyz reports the database. Once it
is back, the same requests answer as they did before the outage, from the
same gunicorn (the pool drops its dead connections and opens new ones).
The unit-level twin: tests/test_database_outage.py.
"""

from __future__ import annotations

import http.client
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness.servers import LOOPBACK, PostgresServer, free_port
from tests.harness.web import gunicorn_serving
from tests.integration.test_postgres_gunicorn import web_environment

pytestmark = pytest.mark.postgres_only

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "experthub"
PASSWORD = "Correct-horse-battery-staple-9"
MISSING = "8f1c6a34-5a8e-4b8e-9d51-0f2f3b6c1e01"
_unique = itertools.count()


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(port: int, method: str, path: str, body: Any = None, token: str | None = None) -> Answer:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    client = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
    try:
        client.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = client.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        client.close()


def requests(port: int, token: str, email: str) -> dict[str, Callable[[], Answer]]:
    """Requests that each need the database; a search never repeats its text (the response cache)."""
    return {
        "anonymous search": lambda: call(port, "GET", f"/api/v1/experts/?q=outage{next(_unique)}"),
        "anonymous profile": lambda: call(port, "GET", f"/api/v1/experts/{MISSING}/"),
        "anonymous reviews": lambda: call(port, "GET", f"/api/v1/experts/{MISSING}/reviews/"),
        "anonymous login": lambda: call(port, "POST", "/api/v1/auth/token/", {"email": email, "password": PASSWORD}),
        "jwt me": lambda: call(port, "GET", "/api/v1/me/", token=token),
        "jwt bookings": lambda: call(port, "GET", "/api/v1/bookings/", token=token),
        "jwt booking request": lambda: call(port, "POST", "/api/v1/bookings/", {}, token=token),
    }


def migrate(environment: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env={**environment, "DATABASE_POOL": "none"},
        check=True,
        capture_output=True,
        timeout=300,
    )


def sign_up(port: int) -> tuple[str, str]:
    """A client account made through the API; its email and access token."""
    email = "outage@example.com"
    body = {"email": email, "password": PASSWORD, "name": "Olga Outage", "role": "client"}
    assert call(port, "POST", "/api/v1/auth/register/", body).status == 201
    login = call(port, "POST", "/api/v1/auth/token/", {"email": email, "password": PASSWORD})
    assert login.status == 200, login.body
    return email, str(login.json()["access"])


def wait_for(ready: Callable[[], bool], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, "no success within the deadline"
        time.sleep(0.5)


def test_requests_answer_503_while_postgresql_is_down_and_recover_after(own_postgres_server: PostgresServer) -> None:
    postgres = own_postgres_server
    postgres.psql(f"CREATE DATABASE {DATABASE}")
    port = free_port()
    environment = web_environment(port, DATABASE_URL=postgres.url(DATABASE), UNAVAILABLE_RETRY_AFTER_SECONDS="7")
    migrate(environment)

    with gunicorn_serving(environment, port):
        email, token = sign_up(port)
        probes = requests(port, token, email)
        before = {name: probe().status for name, probe in probes.items()}
        assert all(status < 500 for status in before.values()), before

        postgres.stop()
        during = {name: probe() for name, probe in probes.items()}
        liveness, readiness = call(port, "GET", "/healthz"), call(port, "GET", "/readyz")

        postgres.start()
        wait_for(lambda: probes["jwt me"]().status == 200, timeout=60)
        after = {name: probe().status for name, probe in probes.items()}

    for name, answer in during.items():
        assert answer.status == 503, (name, answer.body[:300])
        assert answer.headers["Content-Type"] == "application/json", name
        assert answer.headers["Retry-After"] == "7", name
        assert answer.json()["error"]["code"] == "service_unavailable", name
    assert liveness.status == 200
    assert readiness.status == 503
    assert readiness.json()["checks"]["database"]["ok"] is False
    assert after == before
