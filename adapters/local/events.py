"""An event publisher that needs no server."""

from __future__ import annotations

import logging

from domain.events import DomainEvent

logger = logging.getLogger("experthub.events")


class LoggingEventPublisher:
    """Logs each event; the embedded default until the task queue takes events over."""

    def publish(self, event: DomainEvent) -> None:
        logger.info("domain event %s %s", type(event).__name__, event)
