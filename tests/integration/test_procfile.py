"""The Procfile run as a PaaS runs it: honcho, PORT, DATABASE_URL and REDIS_URL, production settings.

Throwaway PostgreSQL and redis-server (tests/harness) stand in for the add-ons.
The release process migrates and builds the search index; then web, worker and
beat start together: web answers on $PORT behind the (pretend) TLS router, a
registration enqueues its notification on Redis and the worker runs it under the
request's id, beat starts; SIGTERM to honcho stops every process.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.harness.servers import LOOPBACK, PostgresServer, RedisServer, free_port, port_open, wait_until
from tests.harness.worker import alive, descendants

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def paas_environment(postgres: PostgresServer, redis: RedisServer, var_dir: Path) -> dict[str, str]:
    """What a PaaS gives the dynos (add-on URLs, PORT) plus the app's production config vars."""
    database = f"procfile_{uuid.uuid4().hex[:8]}"
    postgres.psql(f"CREATE DATABASE {database}")
    (var_dir / "static").mkdir(parents=True)
    inherited = {name: value for name, value in os.environ.items() if name in ("HOME", "LANG", "LC_ALL", "TMPDIR")}
    return {
        **inherited,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",  # gunicorn, celery, python of this virtualenv
        "PORT": str(free_port()),
        "WEB_HOST": LOOPBACK,
        "DATABASE_URL": postgres.url(database),
        "REDIS_URL": redis.url.rsplit("/", 1)[0] + "/13",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "false",
        "ALLOWED_HOSTS": f"{LOOPBACK},localhost",
        "VAR_DIR": str(var_dir),
        "WEB_CONCURRENCY": "1",
        "CELERY_CONCURRENCY": "1",
        "EMAIL_URL": "memorymail://",
        "PYTHONUNBUFFERED": "1",
    }


def honcho(*args: str) -> list[str]:
    return [str(BIN / "honcho"), "--no-colour", "start", "--procfile", "Procfile", *args]


def request(port: int, method: str, path: str, body: dict[str, str] | None = None) -> http.client.HTTPResponse:
    client = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    # The router terminates TLS and says so; without it the app redirects to https://.
    headers = {"X-Forwarded-Proto": "https", "X-Request-ID": "procfile-req-1", "Content-Type": "application/json"}
    client.request(method, path, body=json.dumps(body) if body else None, headers=headers)
    response = client.getresponse()
    response.read()
    return response


def test_the_procfile_releases_then_serves_works_and_schedules(
    postgres_server: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    environment = paas_environment(postgres_server, redis_server, tmp_path / "var")
    database = environment["DATABASE_URL"].rsplit("/", 1)[1]

    release = subprocess.run(
        honcho("release"), cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300, check=False
    )

    assert release.returncode == 0, release.stdout + release.stderr
    assert "Rebuilt the search index" in release.stdout
    assert postgres_server.psql("SELECT to_regclass('experthub_user') IS NOT NULL", database) == "t"

    output = tmp_path / "honcho.log"
    with output.open("w") as log:
        process = subprocess.Popen(
            honcho("web", "worker", "beat"), cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    port = int(environment["PORT"])
    try:
        wait_until(lambda: port_open(port) or process.poll() is not None, timeout=90, what="web on $PORT")
        assert process.poll() is None, output.read_text()
        assert request(port, "GET", "/api/v1/me/").status == 401  # served, not redirected
        registered = request(
            port,
            "POST",
            "/api/v1/auth/register/",
            {"email": "ada@example.com", "password": "pw-1234567x", "name": "Ada", "role": "client"},
        )
        assert registered.status == 201
        wait_until(lambda: everything_started(output.read_text()), timeout=90, what="worker, beat and the task")
        children = descendants(process.pid)
    except Exception:
        pytest.fail(f"honcho's output:\n{output.read_text()}")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

    text = output.read_text()
    started = {name: int(pid) for name, pid in re.findall(r"(\w+)\.1 started \(pid=(\d+)\)", text)}
    assert set(started) == {"web", "worker", "beat"}, text
    assert set(started.values()) <= children
    # Every process honcho started, and theirs (gunicorn's master and workers, celery's children).
    assert len(children) > 3
    assert not [pid for pid in children if alive(pid)], text
    assert sorted(re.findall(r"(\w+)\.1 stopped \(rc=", text)) == ["beat", "web", "worker"]


def everything_started(text: str) -> bool:
    task_lines = [line for line in text.splitlines() if "worker.1" in line and '"task_started"' in line]
    return (
        "ready." in text
        and "beat: Starting" in text
        and any('"request_id": "procfile-req-1"' in line for line in task_lines)
    )
