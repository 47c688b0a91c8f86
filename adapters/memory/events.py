"""An event publisher that records events for tests."""

from __future__ import annotations

from domain.events import DomainEvent
from domain.ports import UnitOfWork


class InMemoryEventPublisher:
    """Implements EventPublisher: records every event whose unit of work committed, for assertions in tests."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        self.published: list[DomainEvent] = []

    def publish(self, event: DomainEvent) -> None:
        self._uow.on_commit(lambda: self.published.append(event))
