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
    return SimpleNamespace(
        database=database,
        uow=MemoryUnitOfWork(database),
        clock=FixedClock(),
        events=InMemoryEventPublisher(),
        users=InMemoryUserRepository(database),
        experts=InMemoryExpertRepository(database),
        bookings=InMemoryBookingRepository(database),
        reviews=InMemoryReviewRepository(database),
        search=InMemorySearchIndex(),
        blobs=InMemoryBlobStore(),
    )
