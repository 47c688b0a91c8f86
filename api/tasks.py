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
from domain.ids import ExpertId
from services.experts import IndexSyncResult, ReconcileReport

if TYPE_CHECKING:
    # Only for the annotation: wiring inspects this module's members, and binding
    # Celery's base Task class there makes Celery 5.7 warn about its 'priority' attribute.
    from celery import Task

logger = logging.getLogger(__name__)

# Exponential backoff on transient failures (SMTP down, network): 1, 2, 4, ... s with
# full jitter, capped at RETRY_BACKOFF_MAX (NOTIFY_RETRY_BACKOFF_MAX_SECONDS, 120 by
# default), MAX_RETRIES times: up to about 8 minutes of retrying in all. The broker's
# visibility timeout must stay above every single wait (docs/celery.md;
# tests/unit/test_celery_config.py).
RETRY_BACKOFF_MAX: int = settings.NOTIFY_RETRY_BACKOFF_MAX_SECONDS
MAX_RETRIES = 10
# Every task whose use case raises PortError on a transient failure retries this way.
RETRIED_ON_PORT_ERROR: dict[str, Any] = {
    "autoretry_for": (PortError,),
    "retry_backoff": True,
    "retry_backoff_max": RETRY_BACKOFF_MAX,
    "retry_jitter": True,
    "max_retries": MAX_RETRIES,
}


@shared_task(name="api.tasks.notify", bind=True, **RETRIED_ON_PORT_ERROR)
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


@shared_task(name="api.tasks.outbox_relay")
def outbox_relay() -> int:
    """Send the outbox's events that the send after their commit left (a broker outage, a killed
    process), and prune old published ones (beat: every minute); returns how many were sent."""
    relayed = _outbox_relay()
    if relayed:
        logger.info("outbox_relay: %d event(s) enqueued", relayed)
    return relayed


@inject
def _outbox_relay(*, outbox_relay: Callable[..., int] = Provider["outbox_relay"]) -> int:
    return outbox_relay()


def event_from_payload(kind: str, ids: dict[str, str]) -> DomainEvent:
    """The domain event a CeleryEventPublisher message names; ValueError if it names none."""
    event_class = getattr(domain_events, kind, None)
    if not (isinstance(event_class, type) and issubclass(event_class, DomainEvent)):
        raise ValueError(f"Unknown event kind {kind!r}.")
    if {field.name for field in fields(event_class)} != set(ids):
        raise ValueError(f"{kind} needs ids {sorted(field.name for field in fields(event_class))}.")
    return event_class(**{name: UUID(value) for name, value in ids.items()})


# --- search index sync (SEARCH_SYNC=task; docs/elasticsearch.md, "Keeping the index in sync") ---

# A reconcile reads every published profile and every indexed id: minutes on a large
# marketplace, not the default minute. Under the visibility timeout (300 s), or Redis
# would hand a running reconcile to a second worker; what one run leaves, the next repairs.
RECONCILE_SOFT_TIME_LIMIT = 240
RECONCILE_TIME_LIMIT = 270
RECONCILE_MAX_RETRIES = 3


@shared_task(name="api.tasks.search_sync", bind=True, **RETRIED_ON_PORT_ERROR)
def search_sync(self: Task, expert_ids: list[str]) -> dict[str, int]:
    """Index these experts as their profiles are now (published: upserted; otherwise: removed)."""
    result = _search_sync(expert_ids=[ExpertId(UUID(value)) for value in expert_ids])
    logger.info(
        "search_sync %s: %d upserted, %d removed, attempt %d",
        ",".join(expert_ids),
        result.upserted,
        result.removed,
        self.request.retries + 1,
    )
    return {"upserted": result.upserted, "removed": result.removed}


@inject
def _search_sync(
    *, expert_ids: list[ExpertId], expert_index_sync: Callable[..., IndexSyncResult] = Provider["expert_index_sync"]
) -> IndexSyncResult:
    return expert_index_sync(expert_ids=expert_ids)


@shared_task(
    name="api.tasks.search_reconcile",
    bind=True,
    **{**RETRIED_ON_PORT_ERROR, "max_retries": RECONCILE_MAX_RETRIES},
    soft_time_limit=RECONCILE_SOFT_TIME_LIMIT,
    time_limit=RECONCILE_TIME_LIMIT,
)
def search_reconcile(self: Task) -> dict[str, int]:
    """Repair the drift between an external search index and the published profiles (beat: hourly)."""
    report = _search_reconcile()
    logger.info("search_reconcile: %s", describe_reconcile(report))
    return {"drift": report.drift, "upserted": report.repaired.upserted, "removed": report.repaired.removed}


@inject
def _search_reconcile(
    *, search_reconcile: Callable[..., ReconcileReport] = Provider["search_reconcile"]
) -> ReconcileReport:
    return search_reconcile()


def describe_reconcile(report: ReconcileReport) -> str:
    """One line for logs and the search_reconcile command."""
    if report.skipped:
        return f"nothing to do: {report.skipped}"
    return (
        f"{report.published} published, {report.indexed} indexed; drift: {report.missing} missing, "
        f"{report.stale} stale, {report.orphaned} orphaned; repaired: {report.repaired.upserted} upserted, "
        f"{report.repaired.removed} removed"
    )


# --- the daily ops report (docs/daily-report.md) ---

# The report renders a chart and emails every recipient: more room than the default limits.
# Under the visibility timeout (300 s), like every task.
REPORT_SOFT_TIME_LIMIT = 200
REPORT_TIME_LIMIT = 240


@shared_task(
    name="api.tasks.report_daily",
    bind=True,
    **RETRIED_ON_PORT_ERROR,
    soft_time_limit=REPORT_SOFT_TIME_LIMIT,
    time_limit=REPORT_TIME_LIMIT,
)
def report_daily(self: Task) -> str | None:
    """Beat runs this every few minutes: sends the due date's report once (the run is unique
    per date, so further calls, a second beat or a retry send nothing new). Returns the
    date sent, if any."""
    run = _report_send_due()
    if run is None:
        return None
    logger.info("daily report %s sent (send %d) to %d recipient(s)", run.day, run.sends, len(run.recipients))
    return run.day.isoformat()


@inject
def _report_send_due(report_send_due: Callable[..., Any] = Provider["report_send_due"]) -> Any:
    return report_send_due()


# --- retention (services/retention.py) ---


@shared_task(name="api.tasks.records_prune", bind=True, **RETRIED_ON_PORT_ERROR)
def records_prune(self: Task) -> dict[str, int]:
    """Beat, daily: forget email delivery records, search counts and upload records past their retention."""
    pruned = _records_prune()
    logger.info("records_prune: %s", pruned)
    return pruned


@inject
def _records_prune(records_prune: Callable[..., dict[str, int]] = Provider["records_prune"]) -> dict[str, int]:
    return records_prune()
