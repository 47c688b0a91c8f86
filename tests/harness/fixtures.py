"""pytest fixtures that start throwaway servers. With CI=true a server that cannot start fails the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

import pytest

from tests.harness.servers import MotoServer, PostgresServer, RedisServer, ServerUnavailable, servers_required
from tests.harness.smtp import SmtpSink
from tests.harness.worker import WorkerRedis

# Databases of the session's redis-server for the real Celery workers of tests/integration;
# the xdist workers' test caches take 1, 2, ... (tests/settings.py) on the stack's own server.
WORKER_BROKER_DB = 15
WORKER_CACHE_DB = 14

if TYPE_CHECKING:
    from tests.harness.nginx import NginxServer, TlsCertificate

S = TypeVar("S")


def started(start: Callable[[], S]) -> S:
    """Start a server, or skip (locally) / fail (CI) saying exactly what is missing."""
    try:
        return start()
    except ServerUnavailable as error:
        if servers_required():
            pytest.fail(f"CI needs this server: {error}")
        pytest.skip(f"server unavailable here: {error}")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session; tests use their own key prefixes or flush."""
    server = started(lambda: RedisServer().start())
    yield server
    server.stop()


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A redis-server for one test only: for tests that stop or hang it."""
    server = started(lambda: RedisServer().start())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    server = started(lambda: MotoServer().start())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster of its own (not Django's test database)."""
    server = started(lambda: PostgresServer().start())
    yield server
    server.destroy()


@pytest.fixture
def own_postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for one test only: for tests that stop and restart it."""
    server = started(lambda: PostgresServer().start())
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def postgres_with_replica(postgres_server: PostgresServer) -> Iterator[tuple[PostgresServer, PostgresServer]]:
    """The cluster above plus a streaming hot-standby replica of it (pg_basebackup)."""
    replica = started(postgres_server.replica)
    yield postgres_server, replica
    replica.destroy()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """An SMTP server on loopback that keeps what it receives (tests/harness/smtp.py), for one test:
    tests stop and restart it, and hold sessions."""
    sink = started(lambda: SmtpSink().start())
    yield sink
    sink.stop()


@pytest.fixture
def worker_redis(redis_server: RedisServer) -> WorkerRedis:
    """An emptied broker database and cache database for a real Celery worker (tests/harness/worker.py)."""
    return WorkerRedis.emptied(redis_server.url, broker_db=WORKER_BROKER_DB, cache_db=WORKER_CACHE_DB)


# --- nginx (tests/deploy) ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> TlsCertificate:
    """A self-signed certificate for experthub.test (openssl), and the client's trust in it."""
    from tests.harness.nginx import TlsCertificate

    return started(lambda: TlsCertificate.self_signed(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def nginx_server() -> Iterator[NginxServer]:
    """A throwaway nginx with its own prefix and loopback ports: the test renders a site and start()s it."""
    from tests.harness.nginx import NginxServer

    server = started(lambda: NginxServer().installed())
    yield server
    server.stop()
