"""One rate limit across gunicorn workers: N requests pass, request N+1 is refused, whichever worker answers.
And one login lockout: LOGIN_FAILURE_LIMIT failures spread over the workers lock the account on all of them.

The Procfile's web command with two gevent workers, on production settings:
once on the embedded default (the throttle counters in a table of the SQLite
database both workers open) and once on a real Redis (REDIS_URL). The test
decides which worker answers each request by freezing the other (SIGSTOP), and
spreads the limit's N requests over both: with per-process counters (Django's
local-memory cache, as before) the first worker would let its (N/2 + 1)th request
through.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.servers import LOOPBACK, free_port, wait_until
from tests.harness.web import gunicorn_serving, only, worker_pids
from tests.harness.worker import WorkerRedis
from tests.integration.test_gunicorn_serving import web_environment

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 4
REFRESH = "/api/v1/auth/token/refresh/"
LOGIN = "/api/v1/auth/token/"


@pytest.fixture(params=["embedded", "redis"])
def redis_url(request: pytest.FixtureRequest) -> str:
    """ "" for the embedded default, else an emptied database of the session's redis-server."""
    if request.param == "embedded":
        return ""
    worker_redis: WorkerRedis = request.getfixturevalue("worker_redis")
    return worker_redis.cache_url


@pytest.fixture
def web(tmp_path: Path, redis_url: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    environment = web_environment(
        tmp_path / "var",
        REDIS_URL=redis_url,
        CELERY_BROKER_URL="filesystem://",  # the refresh endpoint enqueues nothing
        THROTTLE_TOKEN_REFRESH=f"{LIMIT}/min",
        LOGIN_FAILURE_LIMIT=str(LIMIT),
        PORT=str(port),
        WEB_HOST=LOOPBACK,
    )
    # The release step: the schema, and with it the throttle table of the embedded default.
    migrate = [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"]
    subprocess.run(migrate, cwd=ROOT, env=environment, check=True, capture_output=True, timeout=300)
    with gunicorn_serving(environment, port) as master:
        wait_until(lambda: len(worker_pids(master)) == 2, timeout=60, what="two workers")
        yield master, port


def post(port: int, path: str, body: dict[str, str]) -> tuple[int, dict[str, object]]:
    """A JSON POST on a new connection (so whichever worker is not frozen accepts it)."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
    try:
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def spread_then_refused(master: subprocess.Popen[str], port: int, path: str, body: dict[str, str]) -> list[object]:
    """LIMIT requests, half answered by each worker, then one more through each: the statuses and last codes."""
    first, second = sorted(worker_pids(master))
    answers: list[object] = []
    for worker in (first, second):
        with only(master, worker):
            answers += [post(port, path, body)[0] for _ in range(LIMIT // 2)]
    for worker in (first, second):
        with only(master, worker):
            status, error = post(port, path, body)
            answers.append((status, error["error"]["code"]))  # type: ignore[index]
    return answers


def test_the_limits_hold_across_workers(web: tuple[subprocess.Popen[str], int]) -> None:
    master, port = web

    refreshes = spread_then_refused(master, port, REFRESH, {"refresh": "not-a-token"})
    logins = spread_then_refused(master, port, LOGIN, {"email": "someone@example.com", "password": "guess"})

    assert refreshes == [401] * LIMIT + [(429, "throttled")] * 2
    # The LIMIT-th failure already answers the lockout.
    assert logins == [401] * (LIMIT - 1) + [429] + [(429, "locked_out")] * 2
