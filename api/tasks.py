"""Celery tasks: entrypoints like views, thin, getting use cases from the container.

A task receives ids as strings (JSON only), rebuilds the domain event and calls
one use case through a ``Provider["..."]`` marker, which the container wires in
every process (ProjectConfig.ready) and tests override. Retries are safe: every
email has an idempotency key, so a re-run never sends twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any
from uuid import UUID

from celery import shared_task
from dependency_injector.wiring import Provider, inject
from django.conf import settings

from domain import events as domain_events
from domain.errors import PortError
from domain.events import DomainEvent

if TYPE_CHECKING:
    # Only for the annotation: wiring inspects this module's members, and binding
    # Celery's base Task class there makes Celery 5.7 warn about its 'priority' attribute.
    from celery import Task

logger = logging.getLogger(__name__)

# Exponential backoff on transient failures (SMTP down, network): 1, 2, 4, ... s with
# full jitter, capped at RETRY_BACKOFF_MAX (NOTIFY_RETRY_BACKOFF_MAX_SECONDS, 600 by
# default), MAX_RETRIES times. The broker's visibility timeout must stay above these
# (docs/celery.md; tests/unit/test_celery_config.py).
RETRY_BACKOFF_MAX: int = settings.NOTIFY_RETRY_BACKOFF_MAX_SECONDS
MAX_RETRIES = 8


@shared_task(
    name="api.tasks.notify",
    bind=True,
    autoretry_for=(PortError,),
    retry_backoff=True,
    retry_backoff_max=RETRY_BACKOFF_MAX,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def notify(self: Task, *, kind: str, ids: dict[str, str]) -> int:
    """Send the emails the event calls for; returns how many (already-sent ones are skipped)."""
    event = event_from_payload(kind, ids)
    sent = _notify(event=event)
    logger.info("notify %s %s: %d email(s), attempt %d", kind, ids, sent, self.request.retries + 1)
    return sent


@inject
def _notify(
    *, event: DomainEvent, notification_for_event: Callable[..., list[Any]] = Provider["notification_for_event"]
) -> int:
    return len(notification_for_event(event=event))


def event_from_payload(kind: str, ids: dict[str, str]) -> DomainEvent:
    """The domain event a CeleryEventPublisher message names; ValueError if it names none."""
    event_class = getattr(domain_events, kind, None)
    if not (isinstance(event_class, type) and issubclass(event_class, DomainEvent)):
        raise ValueError(f"Unknown event kind {kind!r}.")
    if {field.name for field in fields(event_class)} != set(ids):
        raise ValueError(f"{kind} needs ids {sorted(field.name for field in fields(event_class))}.")
    return event_class(**{name: UUID(value) for name, value in ids.items()})
