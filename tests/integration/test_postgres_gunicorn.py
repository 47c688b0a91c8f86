"""The web process as the Procfile runs it, on PostgreSQL: gunicorn's gevent workers and the connection pool.

Gunicorn serves the live test database; 50 clients hammer an endpoint that
queries it while a sampler counts the server's connections. The pool holds
them to WEB_CONCURRENCY x DATABASE_POOL_MAX_CONNECTIONS. A worker whose
psycopg2 is left blocking refuses to boot (experthub.E103), which stops gunicorn.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from adapters.orm.models import User as UserRow
from adapters.orm.repositories import DjangoUserRepository
from tests.factories import store_user
from tests.harness.deployment import PLAIN_HTTP_DEPLOYMENT
from tests.harness.servers import LOOPBACK, free_port
from tests.harness.web import GUNICORN, gunicorn_serving

pytestmark = [pytest.mark.postgres_only, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
WORKERS, POOL_SIZE = 2, 4
CLIENTS, REQUESTS_EACH = 50, 10


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def web_environment(port: int, **overrides: str) -> dict[str, str]:
    """Production settings (not tests.settings) on the test database, as `make serve` would run them."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("GUNICORN_")}
    return {
        **environment,
        **PLAIN_HTTP_DEPLOYMENT,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": database_url(),
        "DATABASE_POOL": "gevent",
        "DATABASE_POOL_MAX_CONNECTIONS": str(POOL_SIZE),
        "WEB_CONCURRENCY": str(WORKERS),
        "PORT": str(port),
        "WEB_HOST": LOOPBACK,
        **overrides,
    }


@contextmanager
def serving(environment: dict[str, str], config: str = "gunicorn.conf.py") -> Iterator[int]:
    """The Procfile's web command; yields its port once it answers."""
    port = int(environment["PORT"])
    with gunicorn_serving(environment, port, config=config):
        yield port


@dataclass
class Load:
    statuses: dict[int, int] = field(default_factory=dict)
    connections: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, status: int) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1


def hammer(port: int, token: str, *, clients: int = CLIENTS, each: int = REQUESTS_EACH) -> Load:
    """``clients`` threads, ``each`` requests apiece on a keep-alive connection; the database's connections sampled."""
    load, done = Load(), threading.Event()
    threads = [threading.Thread(target=_client, args=(port, token, each, load)) for _ in range(clients)]
    sampler = threading.Thread(target=_sample, args=(load, done))
    sampler.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    done.set()
    sampler.join()
    return load


def _client(port: int, token: str, each: int, load: Load) -> None:
    client = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    for _ in range(each):
        client.request("GET", "/api/v1/me/", headers={"Authorization": f"Bearer {token}"})
        response = client.getresponse()
        response.read()
        load.count(response.status)
    client.close()


def _sample(load: Load, done: threading.Event) -> None:
    """Connections to the test database other than this sampler's, every 10 ms."""
    from django.db import connection as own  # this thread's connection

    try:
        with own.cursor() as cursor:
            while not done.is_set():
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                load.connections.append(cursor.fetchone()[0])
                time.sleep(0.01)
    finally:
        own.close()


def token_for_a_user() -> str:
    user = store_user(DjangoUserRepository())
    return str(AccessToken.for_user(UserRow.objects.get(pk=user.id)))


# --- the tests ---------------------------------------------------------------------------------


def test_the_pool_bounds_the_connections_of_gevent_workers() -> None:
    token = token_for_a_user()
    connection.close()  # the sampler counts every connection but its own

    with serving(web_environment(free_port())) as port:
        load = hammer(port, token)

    assert load.statuses == {200: CLIENTS * REQUESTS_EACH}
    assert 0 < max(load.connections) <= WORKERS * POOL_SIZE, load.connections


def test_a_worker_whose_psycopg_blocks_refuses_to_boot(tmp_path: Path) -> None:
    # A WSGI module that loads the app without project/wsgi.py's patch: psycopg2 left blocking.
    (tmp_path / "blocking_wsgi.py").write_text(
        "from django.core.wsgi import get_wsgi_application\n\napplication = get_wsgi_application()\n"
    )
    environment = web_environment(free_port(), WEB_CONCURRENCY="1")
    environment["PYTHONPATH"] = os.pathsep.join([str(tmp_path), environment.get("PYTHONPATH", str(ROOT))])

    started = boot("gunicorn.conf.py", environment, app="blocking_wsgi:application")

    assert started.returncode == 3, started.stderr  # gunicorn's "Worker failed to boot"
    assert "experthub.E103" in started.stderr


def test_a_pool_over_the_budget_refuses_to_boot() -> None:
    environment = web_environment(free_port(), WEB_CONCURRENCY="1", DATABASE_MAX_CONNECTIONS="11")

    started = boot("gunicorn.conf.py", environment)  # 1 x 4 + 2 + 1 + 5 = 12 > 11

    assert started.returncode == 3, started.stderr
    assert "experthub.E106" in started.stderr


def boot(
    config: Path | str, environment: dict[str, str], *, app: str = "project.wsgi"
) -> subprocess.CompletedProcess[str]:
    """Gunicorn expected to stop at start-up. One worker: when two fail at once, gunicorn
    may trip over the second while halting for the first and exit 1 instead of 3."""
    return subprocess.run(
        [GUNICORN, app, "--config", str(config)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
