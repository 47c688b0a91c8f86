"""Delivering the daily report on the in-memory fakes: once per local date, DST days included,
archived and emailed, safe to retry, resent only on purpose, listed for staff only."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.errors import NotFound, PermissionDenied, PortError
from domain.pagination import PageRequest
from domain.reports import ReportRun, ReportRunStatus
from domain.search import SearchQuery
from domain.users import Role
from services.report_rendering import CHART_CONTENT_ID
from services.reports import REPORT_LEASE
from tests.unit.conftest import World

PARIS = ZoneInfo("Europe/Paris")  # the schedule in tests/unit/conftest.py: 07:00 Europe/Paris
RECIPIENTS = ("ops@example.com", "cto@example.com")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def sent_to(world: World) -> list[str]:
    return [message.to for message in world.mailer.sent]


def test_nothing_is_due_before_the_send_time(world: World) -> None:
    world.clock.set(paris(2026, 11, 22, 6, 59))

    assert world.report_send_due() is None
    assert world.mailer.sent == []
    assert world.report_runs.list(page=PageRequest()).total == 0


def test_at_the_send_time_yesterdays_report_is_archived_and_emailed_to_every_recipient(world: World) -> None:
    world.clock.set(paris(2026, 11, 22, 7, 0))

    run = world.report_send_due()

    assert run is not None
    assert run.day == date(2026, 11, 21)
    assert run.status is ReportRunStatus.SENT
    assert run.recipients == RECIPIENTS
    assert sent_to(world) == list(RECIPIENTS)
    email = world.mailer.sent[0]
    assert "21" in email.subject
    assert "Nov" in email.subject
    assert f"cid:{CHART_CONTENT_ID}" in email.html
    (chart,) = email.inline_images
    assert (chart.content_id, chart.content_type) == (CHART_CONTENT_ID, "image/png")
    assert chart.content.startswith(b"\x89PNG")
    (attachment,) = email.attachments
    assert (attachment.filename, attachment.content_type) == ("experthub-report-2026-11-21.csv", "text/csv")
    assert world.blobs.head(run.csv_key).content_type.startswith("text/csv")
    assert world.blobs.head(run.html_key).content_type.startswith("text/html")
    assert "https://experthub.test/api/v1/reports/2026-11-21/" in email.text
    # Presigned links to the archived copies, which serve them.
    archived = re.findall(r"memory://\S+", email.text)
    assert len(archived) == 2
    assert {world.blobs.fetch(url)[1].split(";")[0] for url in archived} == {"text/html", "text/csv"}


def test_later_calls_the_same_day_send_nothing_new(world: World) -> None:
    world.clock.set(paris(2026, 11, 22, 7, 0))
    world.report_send_due()

    for minutes in (5, 60, 16 * 60):
        world.clock.set(paris(2026, 11, 22, 7, 0) + timedelta(minutes=minutes))
        assert world.report_send_due() is None

    assert len(world.mailer.sent) == len(RECIPIENTS)


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (date(2026, 3, 27), date(2026, 3, 31)),  # 29 March: 02:00 -> 03:00, a 23-hour day
        (date(2026, 10, 23), date(2026, 10, 27)),  # 25 October: 03:00 -> 02:00, a 25-hour day
    ],
)
def test_beat_every_five_minutes_across_a_dst_change_sends_one_report_per_local_date(
    world: World, first: date, last: date
) -> None:
    moment = datetime.combine(first, datetime.min.time(), tzinfo=PARIS).astimezone(UTC)
    end = datetime.combine(last, datetime.min.time(), tzinfo=PARIS).astimezone(UTC)
    sent: list[tuple[date, datetime]] = []
    while moment < end:
        world.clock.set(moment)
        if (run := world.report_send_due()) is not None:
            sent.append((run.day, moment.astimezone(PARIS)))
        moment += timedelta(minutes=5)

    days = [day for day, _ in sent]
    # Each morning from ``first`` to the day before ``last`` sends the previous date, once.
    assert days == [first + timedelta(days=i - 1) for i in range((last - first).days)]
    for day, local in sent:
        assert local.date() == day + timedelta(days=1)
        assert (local.hour, local.minute) == (7, 0)
    assert Counter(sent_to(world)) == {address: len(days) for address in RECIPIENTS}


def test_a_delivery_that_failed_half_way_is_finished_by_the_retry_without_duplicates(world: World) -> None:
    world.clock.set(paris(2026, 11, 22, 7, 0))
    world.mailer.down = True

    with pytest.raises(PortError):
        world.report_send_due()
    assert world.report_runs.get(date(2026, 11, 21)).status is ReportRunStatus.SENDING

    world.mailer.down = False
    world.clock.set(paris(2026, 11, 22, 7, 5))
    run = world.report_send_due()

    assert run is not None
    assert run.status is ReportRunStatus.SENT
    assert run.sends == 1
    assert sent_to(world) == list(RECIPIENTS)
    assert world.report_send_due() is None


def test_a_retry_after_some_recipients_got_it_only_sends_to_the_others(world: World) -> None:
    world.clock.set(paris(2026, 11, 22, 7, 0))
    original_send = world.mailer.send
    calls = {"n": 0}

    def second_send_fails(message):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            raise PortError("SMTP went away")
        original_send(message)

    world.mailer.send = second_send_fails
    with pytest.raises(PortError):
        world.report_send_due()
    world.report_send_due()

    assert sent_to(world) == list(RECIPIENTS)


def test_a_resend_is_a_new_send_and_only_happens_on_purpose(world: World) -> None:
    world.clock.set(paris(2026, 11, 22, 7, 0))
    first = world.report_send_due()

    assert world.report_send(day=date(2026, 11, 21)) is None
    again = world.report_send(day=date(2026, 11, 21), resend=True)

    assert first is not None
    assert again is not None
    assert again.sends == 2
    assert again.status is ReportRunStatus.SENT
    assert again.html_key != first.html_key
    assert len(world.mailer.sent) == 2 * len(RECIPIENTS)
    assert len({m.idempotency_key for m in world.mailer.sent}) == 2 * len(RECIPIENTS)


def test_a_date_never_sent_can_be_sent_by_hand(world: World) -> None:
    world.clock.set(paris(2026, 11, 22, 3, 0))  # before the send time: beat would not send yet

    run = world.report_send(day=date(2026, 11, 1))

    assert run is not None
    assert run.day == date(2026, 11, 1)
    assert sent_to(world) == list(RECIPIENTS)


def test_the_report_counts_the_figures_and_the_searched_skills_of_its_date(world: World) -> None:
    world.clock.set(paris(2026, 11, 21, 10, 0))
    expert = world.published_expert()
    client = world.register(Role.CLIENT)
    world.booking_request(
        actor=client.id, expert_id=expert.id, starts_at=world.tomorrow(), duration_minutes=60, topic="Review"
    )
    render = {"search": lambda page: {"total": page.total}}["search"]
    for skills in (("django",), ("django", "python"), ("rust",)):
        world.expert_search_page(query=SearchQuery(skills=skills), render=render)
    world.expert_search_page(query=SearchQuery(skills=("rust",), page=PageRequest(number=2)), render=render)

    world.clock.set(paris(2026, 11, 22, 7, 0))
    run = world.report_send_due()

    assert run is not None
    rows = csv.DictReader(io.StringIO(world.mailer.sent[0].attachments[0].content.decode()))
    figures = {(row["section"], row["key"]): row["value"] for row in rows if row["date"] == "2026-11-21"}
    assert figures[("top_searched_skills", "django")] == "2"
    assert figures[("top_searched_skills", "python")] == "1"
    assert figures[("top_searched_skills", "rust")] == "1"  # page 2 of the same search is not counted again


def test_only_staff_list_and_open_reports(world: World) -> None:
    world.clock.set(paris(2026, 11, 22, 7, 0))
    run = world.report_send_due()
    client = world.register(Role.CLIENT)
    staff = world.staff()

    with pytest.raises(PermissionDenied):
        world.report_list(actor=client.id, page=PageRequest())
    with pytest.raises(PermissionDenied):
        world.report_get(actor=client.id, day=date(2026, 11, 21))

    page = world.report_list(actor=staff.id, page=PageRequest())
    assert [r.day for r in page.items] == [date(2026, 11, 21)]
    found = world.report_get(actor=staff.id, day=date(2026, 11, 21))
    assert found.run == run
    assert found.html_url
    assert found.csv_url
    assert world.blobs.fetch(found.csv_url)[1].startswith("text/csv")
    with pytest.raises(NotFound):
        world.report_get(actor=staff.id, day=date(2026, 11, 20))


def test_a_second_attempt_while_the_first_holds_the_run_sends_nothing(world: World) -> None:
    """A second beat's task, or a duplicate, arriving while the first is still delivering."""
    world.clock.set(paris(2026, 11, 22, 7, 0))
    world.report_runs.claim(
        ReportRun(day=date(2026, 11, 21), tz="Europe/Paris", created_at=world.clock.now(), attempt_at=world.clock.now())
    )

    world.clock.advance(minutes=5)
    assert world.report_send_due() is None
    assert world.mailer.sent == []


def test_an_attempt_that_died_is_taken_over_once_its_lease_is_stale(world: World) -> None:
    """A worker killed mid-delivery never gives the run up: the next check after the lease finishes it."""
    world.clock.set(paris(2026, 11, 22, 7, 0))
    world.report_runs.claim(
        ReportRun(day=date(2026, 11, 21), tz="Europe/Paris", created_at=world.clock.now(), attempt_at=world.clock.now())
    )

    world.clock.advance(seconds=REPORT_LEASE.total_seconds() + 1)
    run = world.report_send_due()

    assert run is not None
    assert run.status is ReportRunStatus.SENT
    assert sent_to(world) == list(RECIPIENTS)
