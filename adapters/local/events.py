"""An event publisher that needs no server."""

from __future__ import annotations

import logging

from domain.events import DomainEvent
from domain.ports import UnitOfWork

logger = logging.getLogger("experthub.events")


class LoggingEventPublisher:
    """Implements EventPublisher: logs each event once its unit of work committed (no task queue)."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def publish(self, event: DomainEvent) -> None:
        self._uow.on_commit(lambda: logger.info("domain event %s %s", type(event).__name__, event))
