"""One rate limit across gunicorn workers: N requests pass, request N+1 is refused, whichever worker answers.

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
        PORT=str(port),
        WEB_HOST=LOOPBACK,
    )
    # The release step: the schema, and with it the throttle table of the embedded default.
    migrate = [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"]
    subprocess.run(migrate, cwd=ROOT, env=environment, check=True, capture_output=True, timeout=300)
    with gunicorn_serving(environment, port) as master:
        wait_until(lambda: len(worker_pids(master)) == 2, timeout=60, what="two workers")
        yield master, port


def refresh(port: int) -> tuple[int, dict[str, object]]:
    """A refresh with a token that is not one (401 unless throttled), on a new connection."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=60)
    try:
        body = json.dumps({"refresh": "not-a-token"})
        connection.request("POST", REFRESH, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_the_limit_holds_across_workers(web: tuple[subprocess.Popen[str], int]) -> None:
    master, port = web
    first, second = sorted(worker_pids(master))

    statuses = []
    for worker in (first, second):
        with only(master, worker):
            statuses += [refresh(port)[0] for _ in range(LIMIT // 2)]
    assert statuses == [401] * LIMIT

    for worker in (first, second):
        with only(master, worker):
            status, body = refresh(port)
            assert status == 429, body
            assert body["error"]["code"] == "throttled"  # type: ignore[index]
