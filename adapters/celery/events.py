"""EventPublisher on Celery: every event becomes an ``api.tasks.notify`` message on the broker.

The message names the task (no import of the entrypoint layer) and carries the
event kind and its ids as strings, never an entity or ORM object: the task loads
what it needs when it runs. The services publish after the commit, so a worker
never races the transaction that wrote the booking.
"""

from __future__ import annotations

from dataclasses import fields

from celery import Celery, current_app
from kombu.exceptions import KombuError, OperationalError

from domain.errors import PortError
from domain.events import DomainEvent

NOTIFY_TASK = "api.tasks.notify"


class CeleryEventPublisher:
    """Implements EventPublisher. ``app`` defaults to the process's current Celery app
    (project.celery's); tests pass one bound to their own broker."""

    def __init__(self, app: Celery | None = None) -> None:
        self._app = app

    def publish(self, event: DomainEvent) -> None:
        """Enqueue the notify task for the event; PortError if the broker refuses it."""
        app = self._app or current_app
        try:
            app.signature(NOTIFY_TASK, kwargs=event_payload(event)).apply_async()
        except (OperationalError, KombuError, OSError) as error:
            raise PortError(f"Could not enqueue {type(event).__name__}.") from error


def event_payload(event: DomainEvent) -> dict[str, object]:
    """JSON-safe: the event's class name and each of its ids as a string."""
    return {
        "kind": type(event).__name__,
        "ids": {field.name: str(getattr(event, field.name)) for field in fields(event)},
    }
