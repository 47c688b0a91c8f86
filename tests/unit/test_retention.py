"""Retention on the in-memory fakes: old email records and search counts go, recent ones stay."""

from __future__ import annotations

from datetime import timedelta

from domain.mail import EmailMessage
from services.retention import SEARCH_COUNT_RETENTION, SENT_EMAIL_RETENTION
from tests.unit.conftest import World

HOUR = timedelta(hours=1)


def email(key: str) -> EmailMessage:
    return EmailMessage(to="ada@example.com", subject="Hi", text="Hi", html="<p>Hi</p>", idempotency_key=key)


def test_records_past_their_retention_are_pruned_and_recent_ones_kept(world: World) -> None:
    start = world.clock.now()
    world.mailer.send(email("old"))
    world.search_log.record(["django"], at=start)
    world.clock.advance(seconds=(SENT_EMAIL_RETENTION - HOUR).total_seconds())
    world.mailer.send(email("recent"))
    world.search_log.record(["rust"], at=world.clock.now())
    world.clock.set(start + SEARCH_COUNT_RETENTION + HOUR)  # past both retentions for the first two

    assert world.records_prune() == {"sent_emails": 2, "search_counts": 1, "uploads": 0}
    assert world.records_prune() == {"sent_emails": 0, "search_counts": 0, "uploads": 0}
    window = (start, world.clock.now())
    assert world.search_log.top_skills(*window, limit=5) == [("rust", 1)]


def test_within_retention_nothing_is_pruned_and_keys_stay_deduplicated(world: World) -> None:
    world.mailer.send(email("k"))
    world.clock.advance(seconds=(SENT_EMAIL_RETENTION - HOUR).total_seconds())

    assert world.records_prune() == {"sent_emails": 0, "search_counts": 0, "uploads": 0}
    world.mailer.send(email("k"))
    assert len(world.mailer.sent) == 1
