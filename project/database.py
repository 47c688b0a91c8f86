"""DATABASES from the configured URLs: engine-specific options, the gevent pool, replicas.

Functions of values settings.py read from the environment; nothing here reads
the environment itself. Picking the gevent pool also installs its fix
(``install_bounded_pool``). And the one place that makes psycopg2 cooperative
under gevent (``make_psycopg_cooperative``), for every process type that runs
gevent, with the detection the system checks rely on. See docs/postgresql.md.
"""

from __future__ import annotations

import functools
import sys
import time
import weakref
from dataclasses import dataclass
from typing import Any

SQLITE = "django.db.backends.sqlite3"
POSTGRES = "django.db.backends.postgresql"
# django-db-geventpool: Django's PostgreSQL backend whose connections come from a
# per-process pool bounded by MAX_CONNS, waited on with gevent primitives.
POSTGRES_GEVENT_POOL = "django_db_geventpool.backends.postgresql_psycopg2"
POSTGRES_ENGINES = (POSTGRES, POSTGRES_GEVENT_POOL)
POOLS = ("gevent", "none")
POOL_TIMEOUT = "POOL_TIMEOUT"  # OPTIONS key: seconds a request waits for a free pooled connection
# Besides web and worker processes: Celery beat, `migrate` in the release
# phase, a `manage.py shell`, monitoring. DATABASE_HEADROOM_CONNECTIONS adds to it.
BEAT_CONNECTIONS = 1


@dataclass(frozen=True)
class DatabaseOptions:
    pool: str  # gevent | none: how PostgreSQL connections are held (ignored for SQLite)
    pool_max_connections: int
    pool_timeout_seconds: float
    connect_timeout_seconds: int
    statement_timeout_ms: int
    conn_max_age: int
    sqlite_busy_timeout_seconds: int
    sqlite_test_name: str


@dataclass(frozen=True)
class ConnectionBudget:
    """How many connections the deployment may open against one PostgreSQL server."""

    web_processes: int
    pool_size: int
    celery_concurrency: int
    headroom: int
    max_connections: int

    @property
    def needed(self) -> int:
        return self.web_processes * self.pool_size + self.celery_concurrency + BEAT_CONNECTIONS + self.headroom

    def fits(self) -> bool:
        return self.needed <= self.max_connections

    def explain(self) -> str:
        return (
            f"WEB_CONCURRENCY {self.web_processes} x DATABASE_POOL_MAX_CONNECTIONS {self.pool_size}"
            f" + CELERY_CONCURRENCY {self.celery_concurrency} + beat {BEAT_CONNECTIONS}"
            f" + DATABASE_HEADROOM_CONNECTIONS {self.headroom} = {self.needed}"
        )


def build_databases(
    *, primary: dict[str, Any], replicas: list[dict[str, Any]], options: DatabaseOptions
) -> dict[str, dict[str, Any]]:
    databases = {"default": configure(primary, options)}
    for number, replica in enumerate(replicas):
        databases[f"replica_{number}"] = configure(replica, options)
    return databases


def configure(database: dict[str, Any], options: DatabaseOptions) -> dict[str, Any]:
    if database["ENGINE"] == SQLITE:
        return _sqlite(database, options)
    if database["ENGINE"] in POSTGRES_ENGINES:
        return _postgres(database, options)
    return database


def is_postgres(database: dict[str, Any]) -> bool:
    return database["ENGINE"] in POSTGRES_ENGINES


def uses_gevent_pool(database: dict[str, Any]) -> bool:
    return database["ENGINE"] == POSTGRES_GEVENT_POOL


def _sqlite(database: dict[str, Any], options: DatabaseOptions) -> dict[str, Any]:
    # IMMEDIATE takes SQLite's write lock when a transaction begins, so two
    # concurrent check-then-write transactions (accepting overlapping bookings)
    # run one after the other instead of both reading stale state.
    database.setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": options.sqlite_busy_timeout_seconds}
    )
    database.setdefault("TEST", {})["NAME"] = options.sqlite_test_name
    return database


def _postgres(database: dict[str, Any], options: DatabaseOptions) -> dict[str, Any]:
    database.setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": options.connect_timeout_seconds,
            # Session settings sent with the connection: the server enforces the
            # statement timeout whatever the client does. TimeZone=UTC because
            # the pool engine skips Django's per-connection SET TIME ZONE (Django
            # 5.1+ skips it whenever a backend has a `pool`), and USE_TZ wants UTC.
            "options": f"-c statement_timeout={options.statement_timeout_ms} -c TimeZone=UTC",
        }
    )
    database["CONN_MAX_AGE"] = options.conn_max_age
    if options.pool == "gevent":
        return _gevent_pool(database, options)
    database["CONN_HEALTH_CHECKS"] = options.conn_max_age != 0
    return database


def _gevent_pool(database: dict[str, Any], options: DatabaseOptions) -> dict[str, Any]:
    install_bounded_pool()
    database["ENGINE"] = POSTGRES_GEVENT_POOL
    # Every idle connection is kept for reuse (REUSE_CONNS = MAX_CONNS): the
    # budget counts MAX_CONNS per process anyway, and reconnecting costs a fork
    # on the server. Django hands a connection back at the end of each request
    # only with CONN_MAX_AGE=0; project/checks.py refuses anything else.
    database["OPTIONS"].update(
        {
            "MAX_CONNS": options.pool_max_connections,
            "REUSE_CONNS": options.pool_max_connections,
            POOL_TIMEOUT: options.pool_timeout_seconds,
        }
    )
    # The pool runs SELECT 1 on a connection before handing it out again: that
    # is its health check, so Django's own would only repeat it.
    database["CONN_HEALTH_CHECKS"] = False
    return database


# --- the pool ---------------------------------------------------------------------------

# A greenlet waiting for a connection wakes when one is put back, and at least
# this often to see whether a slot was freed (a connection closed elsewhere).
_WAIT_TICK_SECONDS = 0.1


def install_bounded_pool() -> None:
    """Make django-db-geventpool's engine use BoundedGeventPool (the one side effect of this module).

    ``pool_class`` is the engine's own extension point; settings call this
    when they pick the engine, so every process that uses it gets the fix.
    """
    from django_db_geventpool.backends.postgresql_psycopg2.base import DatabaseWrapper

    DatabaseWrapper.pool_class = bounded_pool_class()


@functools.cache
def bounded_pool_class() -> type:
    """BoundedGeventPool, defined on first use so that SQLite processes never import psycopg2 or gevent."""
    from django_db_geventpool.backends.postgresql_psycopg2.base import PostgresConnectionPool
    from gevent import queue
    from gevent.lock import BoundedSemaphore
    from psycopg2 import OperationalError

    class BoundedGeventPool(PostgresConnectionPool):  # type: ignore[misc]
        """django-db-geventpool's pool with MAX_CONNS a hard bound and a wait that ends.

        Upstream counts a connection once it is open; psycogreen yields while
        it opens, so a burst of greenlets all see room and all connect
        (jneight/django-db-geventpool#56, #96: we measured up to 17 connections
        from two workers with MAX_CONNS=4). And a greenlet waits forever for a free
        connection (#90). Here a slot is taken before connecting and given
        back when the connection is gone (closed and dropped), and the wait for
        an idle connection or a slot ends after POOL_TIMEOUT seconds with
        OperationalError, which the repositories turn into PortError (503).
        """

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.timeout = float(kwargs.pop(POOL_TIMEOUT, 10.0))
            super().__init__(*args, **kwargs)
            self.slots = BoundedSemaphore(self.maxsize)
            # Gives a connection's slot back once: when we close it, or else when it is garbage.
            self.releases: weakref.WeakKeyDictionary[Any, weakref.finalize] = weakref.WeakKeyDictionary()

        def get(self) -> Any:
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    idle = self.pool.get_nowait()
                except queue.Empty:
                    if self.slots.acquire(blocking=False):
                        return self._open()
                    idle = self._wait_for_idle(deadline)
                if idle is not None and self._usable(idle):
                    return idle

        def put(self, connection: Any) -> None:
            try:
                self.pool.put_nowait(connection)
            except queue.Full:
                self._drop(connection)

        def close(self) -> None:
            while True:
                try:
                    self._drop(self.pool.get_nowait())
                except queue.Empty:
                    return

        def _wait_for_idle(self, deadline: float) -> Any:
            """An idle connection put back meanwhile, or None to look for a freed slot again."""
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OperationalError(
                    f"no free database connection within {self.timeout:g}s (pool of {self.maxsize} in use)"
                )
            try:
                return self.pool.get(timeout=min(remaining, _WAIT_TICK_SECONDS))
            except queue.Empty:
                return None

        def _open(self) -> Any:
            try:
                connection = self.create_connection()
            except BaseException:
                self.slots.release()
                raise
            self._conns.add(connection)
            release = weakref.finalize(connection, self.slots.release)
            release.atexit = False
            self.releases[connection] = release
            return connection

        def _usable(self, connection: Any) -> bool:
            try:
                self.check_usable(connection)
            except self.DBERROR:
                self._drop(connection)
                return False
            return True

        def _drop(self, connection: Any) -> None:
            self._conns.discard(connection)
            try:
                connection.close()
            finally:
                release = self.releases.pop(connection, None)
                if release is not None:
                    release()

    return BoundedGeventPool


# --- gevent ---------------------------------------------------------------------------


def make_psycopg_cooperative() -> None:
    """Make psycopg2 wait on PostgreSQL through gevent instead of blocking the process.

    Installs psycogreen's wait callback. Without it one query blocks every
    greenlet of a gevent worker. Call it in every process that runs gevent,
    before its first connection: project/wsgi.py does it in gunicorn's gevent
    workers (after gevent patched, before Django loads), and so must a Celery
    gevent pool. Calling it again changes nothing.

    libpq ignores connect_timeout for the non-blocking connections a wait
    callback makes, so a server that accepts TCP and never answers would hang
    the greenlet forever: the callback enforces connect_timeout itself.
    """
    import gevent
    from psycogreen.gevent import gevent_wait_callback
    from psycopg2 import OperationalError, extensions

    def wait(connection: Any, timeout: float | None = None) -> None:
        seconds = _connect_timeout(connection, extensions)
        if seconds is None:
            gevent_wait_callback(connection, timeout)
            return
        with gevent.Timeout(seconds, OperationalError(f"connect_timeout: no answer within {seconds:g}s")):
            gevent_wait_callback(connection, timeout)

    extensions.set_wait_callback(wait)


def _connect_timeout(connection: Any, extensions: Any) -> float | None:
    """The connection's connect_timeout while it is being set up; None once it is (or if there is none)."""
    if connection.status != extensions.STATUS_SETUP:
        return None
    seconds = float(extensions.parse_dsn(connection.dsn).get("connect_timeout") or 0)
    return seconds if seconds > 0 else None


def gevent_monkey_patched() -> bool:
    """Whether this process runs under gevent: the socket module is monkey-patched."""
    monkey = sys.modules.get("gevent.monkey")  # never imported: not patched
    return monkey is not None and bool(monkey.is_module_patched("socket"))


def psycopg_is_cooperative() -> bool:
    """Whether psycopg2 has a wait callback (make_psycopg_cooperative was called)."""
    from psycopg2 import extensions

    return extensions.get_wait_callback() is not None
