"""An event publisher that records events for tests."""

from __future__ import annotations

from domain.events import DomainEvent


class InMemoryEventPublisher:
    """Records every published event, for assertions in tests."""

    def __init__(self) -> None:
        self.published: list[DomainEvent] = []

    def publish(self, event: DomainEvent) -> None:
        self.published.append(event)
