"""EventPublisher on Celery, through a transactional outbox.

``publish`` writes the event to the outbox (adapters/celery/outbox.py) inside the use
case's transaction, so it commits or rolls back with the change it announces. After
the commit the publisher sends it to the broker as an ``api.tasks.notify`` message and
marks it published: best effort, bounded in time, never failing the request. What that
leaves (a broker outage, a process killed between the commit and the send) the
``outbox_relay`` below (the ``api.tasks.outbox_relay`` task, every minute) sends later.

The message names the task (no import of the entrypoint layer) and carries the event
kind and its ids as strings, never an entity or ORM object: the task loads what it
needs when it runs, after the commit, so a worker never races the transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import fields
from typing import Protocol

from celery import Celery

from adapters.celery.sending import PUBLISH_TIMEOUT_SECONDS, send_task_bounded
from domain.errors import PortError
from domain.events import DomainEvent
from domain.ports import UnitOfWork

logger = logging.getLogger(__name__)

NOTIFY_TASK = "api.tasks.notify"
# After the broker refused or timed out, sends after a commit are skipped this long (the
# relay takes those events): only the first request of an outage waits for the broker.
BROKER_PAUSE_SECONDS = 30.0
# The relay leaves younger rows to the send after their commit, which is still running.
RELAY_MIN_AGE_SECONDS = 10.0
# Published rows are kept this long (to look at in the admin), then pruned by the relay.
PUBLISHED_KEPT_SECONDS = 7 * 24 * 3600.0
Payload = dict[str, object]


class EventOutbox(Protocol):
    """Where events wait for the broker (adapters/celery/outbox.py)."""

    def add(self, payload: Payload) -> int:
        """Keep the payload, in the caller's transaction if there is one; its id. PortError if it cannot."""
        ...

    def mark_published(self, row_id: int) -> None:
        """The broker took this one; PortError if it cannot be marked (it is then sent again)."""
        ...

    def relay(self, enqueue: Callable[[Payload], None], *, batch_size: int, min_age: float) -> int:
        """Enqueue up to ``batch_size`` of the oldest unpublished payloads at least ``min_age`` seconds old,
        marking each one enqueued as published; how many."""
        ...

    def prune(self, *, older_than: float) -> int:
        """Forget payloads published more than ``older_than`` seconds ago; how many."""
        ...


class CeleryEventPublisher:
    """Implements EventPublisher: the event is an outbox row of the caller's transaction, sent after its commit.

    ``app`` defaults to the process's current Celery app (project.celery's); tests
    pass one bound to their own broker. A send after the commit gives up after
    ``publish_timeout`` seconds (a hung broker must not hold the request), and after a
    refusal or a timeout the publisher leaves the broker alone for ``pause`` seconds:
    the relay sends those events once the broker answers again.
    """

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        outbox: EventOutbox,
        app: Celery | None = None,
        publish_timeout: float = PUBLISH_TIMEOUT_SECONDS,
        pause: float = BROKER_PAUSE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._uow = uow
        self._outbox = outbox
        self._app = app
        self._publish_timeout = publish_timeout
        self._pause = pause
        self._monotonic = monotonic
        self._broker_paused_until = float("-inf")

    def publish(self, event: DomainEvent) -> None:
        """Write the event to the outbox now, send it after the commit; PortError if the outbox refuses."""
        payload = event_payload(event)
        row_id = self._outbox.add(payload)
        self._uow.on_commit(lambda: self._send(row_id, payload))

    def _send(self, row_id: int, payload: Payload) -> None:
        if self._monotonic() < self._broker_paused_until:
            return
        try:
            enqueue(payload, app=self._app, timeout=self._publish_timeout)
        except PortError:
            self._broker_paused_until = self._monotonic() + self._pause
            logger.warning("The broker refused %s %s: the relay will send it.", payload["kind"], payload["ids"])
            return
        self._outbox.mark_published(row_id)


def enqueue(payload: Payload, *, app: Celery | None = None, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> None:
    """Send the notify task for the payload within about ``timeout`` seconds per step (connect, publish);
    PortError if the broker refuses it or does not answer in time."""
    send_task_bounded(NOTIFY_TASK, payload, app=app, timeout=timeout)


def outbox_relay(
    *,
    outbox: EventOutbox,
    app: Celery | None = None,
    publish_timeout: float = PUBLISH_TIMEOUT_SECONDS,
    batch_size: int = 100,
    batches: int = 10,
    min_age: float = RELAY_MIN_AGE_SECONDS,
    keep_published: float = PUBLISHED_KEPT_SECONDS,
) -> int:
    """Enqueue what waits in the outbox, oldest first, in up to ``batches`` batches, then prune
    old published rows; how many were enqueued.

    Bounded so a run stays well inside the task's time limit; the next run takes the
    rest. PortError (the broker refused again) after committing what went out.
    """
    relayed = 0
    for _ in range(batches):
        done = outbox.relay(
            lambda payload: enqueue(payload, app=app, timeout=publish_timeout), batch_size=batch_size, min_age=min_age
        )
        relayed += done
        if done < batch_size:
            break
    outbox.prune(older_than=keep_published)
    return relayed


def event_payload(event: DomainEvent) -> Payload:
    """JSON-safe: the event's class name and each of its ids as a string."""
    return {
        "kind": type(event).__name__,
        "ids": {field.name: str(getattr(event, field.name)) for field in fields(event)},
    }
