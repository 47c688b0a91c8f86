"""The daily report's figures on the in-memory fakes, and its time-zone rules."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.bookings import BookingStatus
from domain.errors import InvalidInput
from domain.money import Money
from domain.reports import TREND_DAYS, day_range
from domain.users import Role
from services.reports import report_due_date
from tests.unit.conftest import World

BERLIN = "Europe/Berlin"
SPRING_FORWARD = date(2026, 3, 29)  # 02:00 CET -> 03:00 CEST: a 23-hour day
FALL_BACK = date(2026, 10, 25)  # 03:00 CEST -> 02:00 CET: a 25-hour day


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def at(world: World, moment: datetime) -> None:
    world.clock.set(moment)


def request(world: World, expert_id, client_id, hourly_cost: int = 60):  # type: ignore[no-untyped-def]
    return world.booking_request(
        actor=client_id, expert_id=expert_id, starts_at=world.tomorrow(), duration_minutes=hourly_cost, topic="Review"
    )


@pytest.mark.parametrize(("day", "hours"), [(SPRING_FORWARD, 23), (FALL_BACK, 25), (date(2026, 6, 1), 24)])
def test_a_local_day_is_the_range_between_two_local_midnights(day: date, hours: int) -> None:
    span = day_range(day, ZoneInfo(BERLIN))

    assert span.end - span.start == timedelta(hours=hours)
    assert span.start.astimezone(ZoneInfo(BERLIN)).time() == time(0)


def test_figures_of_a_day(world: World) -> None:
    at(world, utc(2030, 1, 14, 22, 30))  # 23:30 in Berlin on the 14th: not in the report
    world.register(Role.CLIENT)
    at(world, utc(2030, 1, 15, 10))
    eur = world.published_expert(hourly_rate=Money(12000, "EUR"))
    usd = world.published_expert(hourly_rate=Money(6000, "USD"))
    draft_owner = world.register(Role.EXPERT)
    world.expert_create(actor=draft_owner.id, headline="Draft", skills=["go"], hourly_rate=Money(100, "EUR"))
    clients = [world.register(Role.CLIENT) for _ in range(3)]
    accepted = request(world, eur.id, clients[0].id)
    world.booking_accept(actor=eur.owner_id, booking_id=accepted.id)
    declined = request(world, eur.id, clients[1].id)
    world.booking_decline(actor=eur.owner_id, booking_id=declined.id)
    cancelled = request(world, usd.id, clients[2].id)
    world.booking_cancel(actor=clients[2].id, booking_id=cancelled.id)
    request(world, eur.id, clients[2].id, hourly_cost=30)
    request(world, usd.id, clients[0].id)
    at(world, utc(2030, 1, 15, 23, 30))  # 00:30 on the 16th in Berlin: not in the report
    request(world, usd.id, clients[1].id)
    world.register(Role.CLIENT)

    report = world.report_compute(day=date(2030, 1, 15), tz=BERLIN, top_searched_skills={"django": 4})

    assert report.signups_by_role == {Role.EXPERT: 3, Role.CLIENT: 3}
    assert (report.experts_created, report.experts_published) == (3, 2)
    assert report.bookings_by_status == {
        BookingStatus.ACCEPTED: 1,
        BookingStatus.DECLINED: 1,
        BookingStatus.CANCELLED: 1,
        BookingStatus.REQUESTED: 2,
    }
    assert report.gross_booking_value == {"EUR": 12000 + 6000, "USD": 6000}
    assert report.top_searched_skills == {"django": 4}
    assert (report.signups, report.bookings) == (6, 5)


def test_bookings_are_counted_by_their_status_now(world: World) -> None:
    at(world, utc(2030, 1, 15, 10))
    expert = world.published_expert()
    booking = request(world, expert.id, world.register().id)
    at(world, utc(2030, 1, 16, 10))
    world.booking_decline(actor=expert.owner_id, booking_id=booking.id)

    report = world.report_compute(day=date(2030, 1, 15), tz=BERLIN)

    assert report.bookings_by_status == {BookingStatus.DECLINED: 1}
    assert report.gross_booking_value == {}


def test_an_empty_day_has_zero_figures_and_a_full_trend(world: World) -> None:
    report = world.report_compute(day=date(2030, 1, 15), tz="UTC")

    assert (report.signups_by_role, report.bookings_by_status, report.gross_booking_value) == ({}, {}, {})
    assert [p.day for p in report.trend] == [date(2030, 1, 2) + timedelta(days=i) for i in range(TREND_DAYS)]
    assert all(p.bookings == p.signups == 0 for p in report.trend)


def test_an_unknown_time_zone_is_invalid_input(world: World) -> None:
    with pytest.raises(InvalidInput):
        world.report_compute(day=date(2030, 1, 15), tz="Mars/Olympus")


# --- daylight saving ---------------------------------------------------------------

# (signup instant in UTC, the Berlin local date it belongs to)
BOUNDARIES = [
    (utc(2026, 3, 28, 22, 59), date(2026, 3, 28)),  # 23:59 CET
    (utc(2026, 3, 28, 23, 0), SPRING_FORWARD),  # 00:00 CET
    (utc(2026, 3, 29, 21, 59), SPRING_FORWARD),  # 23:59 CEST
    (utc(2026, 3, 29, 22, 30), date(2026, 3, 30)),  # 00:30 CEST: a 24-hour day would count it on the 29th
    (utc(2026, 10, 24, 21, 59), date(2026, 10, 24)),  # 23:59 CEST
    (utc(2026, 10, 24, 22, 0), FALL_BACK),  # 00:00 CEST
    (utc(2026, 10, 25, 22, 30), FALL_BACK),  # 23:30 CET: a 24-hour day would miss it
    (utc(2026, 10, 25, 23, 0), date(2026, 10, 26)),  # 00:00 CET
]


@pytest.mark.parametrize(("moment", "local_day"), BOUNDARIES)
def test_signups_and_bookings_near_a_dst_boundary_land_on_their_local_date(
    world: World, moment: datetime, local_day: date
) -> None:
    at(world, moment - timedelta(days=3))
    expert = world.published_expert()
    at(world, moment)
    client = world.register()
    request(world, expert.id, client.id)

    for day in (local_day - timedelta(days=1), local_day, local_day + timedelta(days=1)):
        report = world.report_compute(day=day, tz=BERLIN)
        expected = 1 if day == local_day else 0
        assert (report.signups, report.bookings) == (expected, expected), day
        assert report.trend[-1].signups == report.trend[-1].bookings == expected


def test_the_trend_counts_each_local_date_across_a_transition(world: World) -> None:
    at(world, utc(2026, 3, 20))
    expert = world.published_expert()
    for moment in BOUNDARIES[:4]:
        at(world, moment[0])
        request(world, expert.id, world.register().id)

    report = world.report_compute(day=date(2026, 3, 30), tz=BERLIN)

    trend = {p.day: (p.bookings, p.signups) for p in report.trend}
    assert len(trend) == TREND_DAYS
    assert trend[date(2026, 3, 28)] == (1, 1)
    assert trend[SPRING_FORWARD] == (2, 2)
    assert trend[date(2026, 3, 30)] == (1, 1)
    assert trend[date(2026, 3, 20)] == (0, 1)  # the expert's own signup


def sweep(first_day: date, *, days: int, step: timedelta, send_at: time) -> list[tuple[datetime, date | None]]:
    """Ask at every ``step`` from 00:07 local on ``first_day`` until local midnight ``days`` later."""
    zone = ZoneInfo(BERLIN)
    start = datetime.combine(first_day, time(0, 7), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(first_day + timedelta(days=days), time(0), tzinfo=zone).astimezone(UTC)
    ticks = itertools.takewhile(lambda t: t < end, (start + step * i for i in itertools.count()))
    return [(t, report_due_date(now=t, tz=BERLIN, send_at=send_at)) for t in ticks]


@pytest.mark.parametrize("transition", [SPRING_FORWARD, FALL_BACK])
@pytest.mark.parametrize("send_at", [time(6, 0), time(2, 30), time(0, 0), time(23, 0)])
@pytest.mark.parametrize("step", [timedelta(hours=1), timedelta(minutes=17)])
def test_each_local_date_becomes_due_exactly_once_across_a_transition(
    transition: date, send_at: time, step: timedelta
) -> None:
    results = sweep(transition - timedelta(days=1), days=3, step=step, send_at=send_at)

    # Each date is due over one unbroken run of ticks, in order, none skipped or repeated.
    runs = [due for due, _ in itertools.groupby(due for _, due in results) if due is not None]
    assert runs == [transition + timedelta(days=d) for d in (-2, -1, 0)]


@pytest.mark.parametrize("transition", [SPRING_FORWARD, FALL_BACK])
def test_the_first_due_tick_is_the_first_at_or_after_send_at_local(transition: date) -> None:
    send_at = time(2, 30)  # skipped on the spring day, repeated on the autumn day

    results = sweep(transition, days=1, step=timedelta(minutes=1), send_at=send_at)

    first = next(t for t, due in results if due == transition - timedelta(days=1))
    local = first.astimezone(ZoneInfo(BERLIN))
    if transition == SPRING_FORWARD:
        assert local.time() == time(3, 30)  # 02:30 never happens: read as 02:30 winter time
    else:
        assert (local.time(), local.fold) == (time(2, 30), 0)  # the first of the two 02:30s


def test_before_send_at_nothing_is_due() -> None:
    assert report_due_date(now=utc(2026, 3, 29, 4, 59), tz=BERLIN, send_at=time(7)) is None
    assert report_due_date(now=utc(2026, 3, 29, 5, 0), tz=BERLIN, send_at=time(7)) == date(2026, 3, 28)
