"""EventPublisher on Celery: every event becomes an ``api.tasks.notify`` message on the broker.

The message names the task (no import of the entrypoint layer) and carries the
event kind and its ids as strings, never an entity or ORM object: the task loads
what it needs when it runs. The services publish after the commit, so a worker
never races the transaction that wrote the booking.

A broker outage at that moment must not lose the event: the publisher then keeps the
payload in an outbox (adapters/celery/outbox.py), and ``outbox_relay`` (the
``api.tasks.outbox_relay`` task, every minute) enqueues it once the broker is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Protocol

from celery import Celery, current_app
from kombu.exceptions import KombuError, OperationalError

from domain.errors import PortError
from domain.events import DomainEvent

logger = logging.getLogger(__name__)

NOTIFY_TASK = "api.tasks.notify"
# After the broker refused an event, later events go straight to the outbox this long.
BROKER_PAUSE_SECONDS = 30.0
Payload = dict[str, object]


class EventOutbox(Protocol):
    """Where the publisher keeps what the broker refused (adapters/celery/outbox.py)."""

    def add(self, payload: Payload) -> None:
        """Keep the payload for the relay; PortError if it cannot."""
        ...

    def relay(self, enqueue: Callable[[Payload], None], *, batch_size: int) -> int:
        """Enqueue up to ``batch_size`` of the oldest payloads, forgetting each one enqueued; how many."""
        ...


class CeleryEventPublisher:
    """Implements EventPublisher. ``app`` defaults to the process's current Celery app
    (project.celery's); tests pass one bound to their own broker. With an ``outbox``,
    an event the broker refuses is kept there instead of failing.

    A refused publish costs seconds (redis-py retries the connection with backoff
    before kombu gives up), paid inside the request that committed. So after a
    refusal the publisher sends events straight to the outbox for ``pause`` seconds
    instead of making every request of the outage wait.
    """

    def __init__(
        self,
        app: Celery | None = None,
        outbox: EventOutbox | None = None,
        *,
        pause: float = BROKER_PAUSE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._app = app
        self._outbox = outbox
        self._pause = pause
        self._monotonic = monotonic
        self._broker_paused_until = float("-inf")

    def publish(self, event: DomainEvent) -> None:
        """Enqueue the notify task for the event, or keep it in the outbox if the broker refuses it;
        PortError if neither works (no outbox, or its database is down too)."""
        payload = event_payload(event)
        if self._outbox is not None and self._monotonic() < self._broker_paused_until:
            _keep(self._outbox, payload)
            return
        try:
            enqueue(payload, app=self._app)
        except PortError:
            if self._outbox is None:
                raise
            self._broker_paused_until = self._monotonic() + self._pause
            _keep(self._outbox, payload)


def _keep(outbox: EventOutbox, payload: Payload) -> None:
    try:
        outbox.add(payload)
    except PortError:
        logger.exception("The broker and the outbox both refused %s %s: lost.", payload["kind"], payload["ids"])
        raise
    logger.warning("The broker refused %s %s: kept in the outbox.", payload["kind"], payload["ids"])


def enqueue(payload: Payload, *, app: Celery | None = None) -> None:
    """Send the notify task for the payload to the broker; PortError if the broker refuses it."""
    try:
        (app or current_app).signature(NOTIFY_TASK, kwargs=payload).apply_async()
    except (OperationalError, KombuError, OSError) as error:
        raise PortError(f"Could not enqueue {payload['kind']}.") from error


def outbox_relay(*, outbox: EventOutbox, app: Celery | None = None, batch_size: int = 100, batches: int = 10) -> int:
    """Enqueue what the outbox holds, oldest first, in up to ``batches`` batches; how many were enqueued.

    Bounded so a run stays well inside the task's time limit; the next run takes the
    rest. PortError (the broker refused again) after committing what went out.
    """
    relayed = 0
    for _ in range(batches):
        done = outbox.relay(lambda payload: enqueue(payload, app=app), batch_size=batch_size)
        relayed += done
        if done < batch_size:
            break
    return relayed


def event_payload(event: DomainEvent) -> Payload:
    """JSON-safe: the event's class name and each of its ids as a string."""
    return {
        "kind": type(event).__name__,
        "ids": {field.name: str(getattr(event, field.name)) for field in fields(event)},
    }
