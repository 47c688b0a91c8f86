"""The outbox of events the broker refused: OutboxEvent rows in the database, relayed later.

CeleryEventPublisher adds a row when the broker refuses an event after the commit;
the ``api.tasks.outbox_relay`` task (every minute, celery beat) hands the rows back to
the broker, oldest first, deleting each one it enqueued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction

from adapters.orm.models import OutboxEvent
from adapters.orm.repositories import _driver_errors
from domain.errors import PortError

logger = logging.getLogger(__name__)

Payload = dict[str, object]


class DjangoEventOutbox:
    """Event payloads (``event_payload()``'s kind and ids) kept in OutboxEvent rows."""

    def add(self, payload: Payload) -> None:
        """Keep the payload for the relay; PortError if the database refuses."""
        with _driver_errors():
            OutboxEvent.objects.create(kind=payload["kind"], ids=payload["ids"])

    def relay(self, enqueue: Callable[[Payload], None], *, batch_size: int) -> int:
        """Enqueue up to ``batch_size`` of the oldest rows, deleting each one enqueued; how many.

        One transaction: the rows it takes are locked (PostgreSQL: FOR UPDATE SKIP
        LOCKED, so two relays never take the same row; SQLite has no row locks, and its
        write lock, taken at BEGIN, serialises the relays). ``enqueue`` raising PortError
        stops the batch; the rows enqueued before it stay deleted, and the error propagates.
        A crash before the commit leaves the enqueued rows to be enqueued again: the tasks
        are idempotent.
        """
        relayed, failure = 0, None
        with _driver_errors(), transaction.atomic():
            for row in OutboxEvent.objects.select_for_update(skip_locked=True).order_by("id")[:batch_size]:
                try:
                    enqueue({"kind": row.kind, "ids": row.ids})
                except PortError as error:
                    failure = error  # commit what went out; the rest waits for the next run
                    break
                row.delete()
                relayed += 1
        if failure is not None:
            logger.warning("Outbox relay: %d event(s) enqueued, then the broker refused.", relayed)
            raise failure
        return relayed
