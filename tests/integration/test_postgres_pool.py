"""BoundedGeventPool (project/database.py): MAX_CONNS is a hard bound, and the wait for a connection ends.

On fake connections that take a moment to open, as psycogreen's do (it yields
to other greenlets while connecting): no server needed. The real thing, under
gunicorn's gevent workers and PostgreSQL, is tests/integration/test_postgres_gunicorn.py.
"""

from __future__ import annotations

import gc
import time
from typing import Any

import gevent
import pytest
from psycopg2 import DatabaseError, OperationalError

from project.database import POOL_TIMEOUT, bounded_pool_class


class FakeConnection:
    opened = 0  # currently open, across the test
    most = 0

    def __init__(self) -> None:
        gevent.sleep(0.01)  # connecting yields, as it does under psycogreen
        FakeConnection.opened += 1
        FakeConnection.most = max(FakeConnection.most, FakeConnection.opened)
        self.closed = False
        self.broken = False

    def cursor(self) -> FakeConnection:
        return self

    def execute(self, sql: str) -> None:
        if self.broken:
            raise DatabaseError("server closed the connection unexpectedly")

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            FakeConnection.opened -= 1


@pytest.fixture
def pool() -> Any:
    FakeConnection.opened = FakeConnection.most = 0

    class FakePool(bounded_pool_class()):  # type: ignore[misc]
        def create_connection(self) -> FakeConnection:
            return FakeConnection()

    return FakePool(MAX_CONNS=3, REUSE_CONNS=3, **{POOL_TIMEOUT: 0.3})


def serve_requests(pool: Any, requests: int) -> None:
    """Greenlets that each take a connection, hold it briefly, and give it back (Django's request cycle)."""

    def request() -> None:
        connection = pool.get()
        gevent.sleep(0.005)
        pool.put(connection)

    gevent.joinall([gevent.spawn(request) for _ in range(requests)], raise_error=True)


def test_a_burst_of_greenlets_never_opens_more_than_max_conns(pool: Any) -> None:
    serve_requests(pool, 100)

    assert FakeConnection.most == 3
    assert pool.pool.qsize() == 3  # kept for the next requests


def test_the_stock_pool_overshoots_which_is_why_ours_exists() -> None:
    from django_db_geventpool.backends.postgresql_psycopg2.base import PostgresConnectionPool

    FakeConnection.opened = FakeConnection.most = 0

    class StockPool(PostgresConnectionPool):  # type: ignore[misc]
        def create_connection(self) -> FakeConnection:
            return FakeConnection()

    serve_requests(StockPool(MAX_CONNS=3, REUSE_CONNS=3), 100)

    assert FakeConnection.most > 3


def test_waiting_for_a_connection_ends_with_operational_error(pool: Any) -> None:
    held = [pool.get() for _ in range(3)]
    started = time.monotonic()

    with pytest.raises(OperationalError, match=r"no free database connection within 0\.3s"):
        pool.get()

    assert 0.3 <= time.monotonic() - started < 2
    assert len(held) == 3


def test_a_waiting_greenlet_gets_the_connection_put_back(pool: Any) -> None:
    held = [pool.get() for _ in range(3)]
    waiter = gevent.spawn(pool.get)
    gevent.sleep(0.05)

    pool.put(held[0])

    assert waiter.get(timeout=1) is held[0]


def test_a_connection_closed_and_dropped_frees_its_slot(pool: Any) -> None:
    held = [pool.get() for _ in range(3)]
    held.pop().close()  # Django drops a connection that broke; the pool never sees it again
    gc.collect()

    assert isinstance(pool.get(), FakeConnection)
    assert FakeConnection.opened == 3


def test_a_broken_idle_connection_is_replaced(pool: Any) -> None:
    first = pool.get()
    pool.put(first)
    first.broken = True

    second = pool.get()

    assert second is not first
    assert first.closed
    assert FakeConnection.opened == 1


def test_a_failed_connect_gives_its_slot_back(pool: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(pool, "create_connection", refuse)
    for _ in range(5):
        with pytest.raises(OperationalError, match="refused"):
            pool.get()
    monkeypatch.undo()

    assert len([pool.get() for _ in range(3)]) == 3


def test_closing_the_pool_closes_the_idle_connections_and_frees_their_slots(pool: Any) -> None:
    serve_requests(pool, 10)

    pool.close()

    assert FakeConnection.opened == 0
    assert len([pool.get() for _ in range(3)]) == 3
