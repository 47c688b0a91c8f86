"""Fixtures shared by every test layer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.repositories import (
    InMemoryBookingRepository,
    InMemoryExpertRepository,
    InMemoryReviewRepository,
    InMemoryUserRepository,
)
from adapters.memory.store import FixedClock, MemoryDatabase, MemoryUnitOfWork

pytest_plugins = ["tests.harness.fixtures"]


@pytest.fixture
def memory_ports() -> SimpleNamespace:
    """Every port as an in-memory fake over one shared database, with a settable clock."""
    from adapters.memory.blobs import InMemoryBlobStore
    from adapters.memory.search import InMemorySearchIndex

    database = MemoryDatabase()
    uow = MemoryUnitOfWork(database)
    return SimpleNamespace(
        database=database,
        uow=uow,
        clock=FixedClock(),
        events=InMemoryEventPublisher(uow),
        users=InMemoryUserRepository(database),
        experts=InMemoryExpertRepository(database),
        bookings=InMemoryBookingRepository(database),
        reviews=InMemoryReviewRepository(database),
        search=InMemorySearchIndex(),
        blobs=InMemoryBlobStore(),
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect (never skip) tests for the other database engine.

    `make test` runs the suite twice, once on SQLite and once on the PostgreSQL
    stack (python -m tests.harness), so every such test runs in one of them.
    """
    from django.conf import settings

    from project.database import is_postgres

    running = "postgres" if is_postgres(settings.DATABASES["default"]) else "sqlite"
    other = {"postgres": "sqlite_only", "sqlite": "postgres_only"}[running]
    kept = [item for item in items if item.get_closest_marker(other) is None]
    deselected = [item for item in items if item.get_closest_marker(other) is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
