"""The transactional outbox: OutboxEvent rows, written in the business transaction, relayed to the broker.

CeleryEventPublisher adds a row inside the use case's transaction (same database,
same connection), so the event commits or rolls back with the change it announces.
After the commit the publisher sends it and marks it published; whatever that left
(a broker outage, a process killed in between) the ``api.tasks.outbox_relay`` task
(every minute, celery beat) sends later, oldest first. Published rows are pruned.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from adapters.orm.models import OutboxEvent
from adapters.orm.repositories import _driver_errors
from domain.errors import PortError

logger = logging.getLogger(__name__)

Payload = dict[str, object]


class DjangoEventOutbox:
    """Event payloads (``event_payload()``'s kind and ids) kept in OutboxEvent rows."""

    def add(self, payload: Payload) -> int:
        """Keep the payload, in the caller's transaction if there is one; the row's id.
        PortError if the database refuses."""
        with _driver_errors():
            return OutboxEvent.objects.create(kind=payload["kind"], ids=payload["ids"]).id

    def mark_published(self, row_id: int) -> None:
        """The broker took the row's event: the relay leaves it alone. PortError if the database refuses."""
        with _driver_errors():
            OutboxEvent.objects.filter(id=row_id, published_at=None).update(published_at=timezone.now())

    def relay(self, enqueue: Callable[[Payload], None], *, batch_size: int, min_age: float) -> int:
        """Enqueue up to ``batch_size`` of the oldest unpublished rows at least ``min_age`` seconds old,
        marking each one enqueued as published; how many.

        One transaction: the rows it takes are locked (PostgreSQL: FOR UPDATE SKIP
        LOCKED, so two relays never take the same row; SQLite has no row locks, and its
        write lock, taken at BEGIN, serialises the relays). ``enqueue`` raising PortError
        stops the batch; the rows enqueued before it stay published, and the error propagates.
        A crash before the commit leaves the enqueued rows to be enqueued again: the tasks
        are idempotent.
        """
        relayed, failure = 0, None
        with _driver_errors(), transaction.atomic():
            waiting = OutboxEvent.objects.filter(published_at=None, created_at__lte=_ago(min_age))
            for row in waiting.select_for_update(skip_locked=True).order_by("id")[:batch_size]:
                try:
                    enqueue({"kind": row.kind, "ids": row.ids})
                except PortError as error:
                    failure = error  # commit what went out; the rest waits for the next run
                    break
                row.published_at = timezone.now()
                row.save(update_fields=["published_at"])
                relayed += 1
        if failure is not None:
            logger.warning("Outbox relay: %d event(s) enqueued, then the broker refused.", relayed)
            raise failure
        return relayed

    def prune(self, *, older_than: float, batch_size: int = 1000) -> int:
        """Forget up to ``batch_size`` rows published more than ``older_than`` seconds ago; how many."""
        with _driver_errors():
            old = OutboxEvent.objects.filter(published_at__lt=_ago(older_than)).order_by("id")
            ids = list(old.values_list("id", flat=True)[:batch_size])
            return OutboxEvent.objects.filter(id__in=ids).delete()[0]


def _ago(seconds: float) -> datetime:
    return timezone.now() - timedelta(seconds=seconds)
