"""The repositories and unit of work of one store, for the contract suites' ``ports`` fixtures."""

from __future__ import annotations

from types import SimpleNamespace

from adapters.memory.repositories import (
    InMemoryBookingRepository,
    InMemoryExpertRepository,
    InMemoryReviewRepository,
    InMemoryUserRepository,
)
from adapters.memory.store import MemoryDatabase, MemoryUnitOfWork
from adapters.orm.repositories import (
    DjangoBookingRepository,
    DjangoExpertRepository,
    DjangoReviewRepository,
    DjangoUnitOfWork,
    DjangoUserRepository,
)


def memory_store(database: MemoryDatabase | None = None) -> SimpleNamespace:
    """Every in-memory repository over one fresh database (``database`` for extra adapters over it)."""
    database = database or MemoryDatabase()
    return SimpleNamespace(
        database=database,
        users=InMemoryUserRepository(database),
        experts=InMemoryExpertRepository(database),
        bookings=InMemoryBookingRepository(database),
        reviews=InMemoryReviewRepository(database),
        uow=MemoryUnitOfWork(database),
    )


def django_store() -> SimpleNamespace:
    """Every Django ORM repository (they share Django's default database)."""
    return SimpleNamespace(
        users=DjangoUserRepository(),
        experts=DjangoExpertRepository(),
        bookings=DjangoBookingRepository(),
        reviews=DjangoReviewRepository(),
        uow=DjangoUnitOfWork(),
    )
