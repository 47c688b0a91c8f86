"""The daily ops report: figures for one LOCAL calendar date, and the rules that say
which local date is due. See docs/daily-report.md for the definition of each figure.

A local date in a zone with daylight saving is not always 24 hours long (23 h on the
spring-forward day, 25 h on the fall-back day), so a date becomes a UTC half-open
range [start, end) between two local midnights, never ``start + 1 day``.
"""

from __future__ import annotations

import enum
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from domain.bookings import BookingStatus
from domain.errors import InvalidInput
from domain.users import Role

TREND_DAYS = 14


@dataclass(frozen=True, slots=True)
class DayRange:
    """One local date as the UTC half-open range [start, end) of its instants."""

    day: date
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """Bookings created and accounts signed up on one local date."""

    day: date
    bookings: int
    signups: int


@dataclass(frozen=True, slots=True)
class DailyReport:
    """The figures of one local date (``day``) in the time zone ``tz``.

    ``bookings_by_status``: bookings CREATED on the day, by their status as of the
    computation (a booking requested that day and accepted the next counts as accepted).
    ``gross_booking_value``: currency -> sum of the prices (minor units) of bookings
    created on the day, except those now declined or cancelled.
    ``top_searched_skills``: skill -> searches, filled once searches are recorded.
    ``trend``: the TREND_DAYS local dates ending with ``day``, oldest first.
    """

    day: date
    tz: str
    signups_by_role: Mapping[Role, int]
    experts_created: int
    experts_published: int
    bookings_by_status: Mapping[BookingStatus, int]
    gross_booking_value: Mapping[str, int]
    trend: tuple[TrendPoint, ...]
    top_searched_skills: Mapping[str, int] = field(default_factory=dict)

    @property
    def signups(self) -> int:
        return sum(self.signups_by_role.values())

    @property
    def bookings(self) -> int:
        return sum(self.bookings_by_status.values())


def report_zone(tz: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise InvalidInput.on_field("tz", f"Unknown time zone {tz!r}.") from e


def local_midnight(day: date, zone: zoneinfo.ZoneInfo) -> datetime:
    """The UTC instant the local date begins (zoneinfo resolves a gap or a fold for us;
    no zone in use moves its clocks at midnight, where either answer would be defensible)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def day_range(day: date, zone: zoneinfo.ZoneInfo) -> DayRange:
    return DayRange(day, local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone))


def day_boundaries(last_day: date, zone: zoneinfo.ZoneInfo, *, days: int) -> list[datetime]:
    """The days+1 UTC instants that bound the ``days`` local dates ending with ``last_day``."""
    first = last_day - timedelta(days=days - 1)
    return [local_midnight(first + timedelta(days=i), zone) for i in range(days + 1)]


def due_date(*, now: datetime, zone: zoneinfo.ZoneInfo, send_at: time) -> date | None:
    """The local date whose report is due at ``now``: yesterday, once today's ``send_at``
    has passed; None before that.

    "Passed" compares instants, not wall-clock times: on the fall-back day the clock
    shows 02:00-03:00 twice, and comparing wall times would make a 02:30 report due,
    then not due, then due again. ``send_at`` means its first occurrence (fold=0); one
    in the skipped hour of the spring-forward day is read with the offset before the
    jump (PEP 495), so 02:30 becomes 03:30 summer time. Either way each local date
    becomes due once per day, for the rest of that day, whatever the beat's period.
    """
    local = now.astimezone(zone)
    send_instant = datetime.combine(local.date(), send_at.replace(tzinfo=None, fold=0), tzinfo=zone)
    if now < send_instant:
        return None
    return local.date() - timedelta(days=1)


class ReportRunStatus(enum.StrEnum):
    SENDING = "sending"
    SENT = "sent"


@dataclass(slots=True)
class ReportRun:
    """The delivery of one local date's report: at most one per date (the store's unique key).

    ``sends`` numbers the deliveries: 1 is the scheduled one, each deliberate resend
    adds one. It is part of every email's idempotency key, so a retried delivery
    sends nothing twice while a resend sends again. A run stays SENDING while a
    delivery is under way; ``attempt_at`` is when the current attempt took it (its
    lease), None once that attempt gave it up after a failure. An attempt that died
    without giving it up (a killed worker) is taken over once its lease is stale.
    """

    day: date
    tz: str
    created_at: datetime
    attempt_at: datetime | None = None
    status: ReportRunStatus = ReportRunStatus.SENDING
    sends: int = 1
    sent_at: datetime | None = None
    recipients: tuple[str, ...] = ()
    html_key: str | None = None
    csv_key: str | None = None

    def can_be_taken(self, *, stale_before: datetime, resend: bool) -> bool:
        """Whether a new attempt may take the run: a SENDING run nobody holds (or whose
        holder's lease is stale), or, for a deliberate resend, a SENT one."""
        if self.status is ReportRunStatus.SENT:
            return resend
        return self.attempt_at is None or self.attempt_at < stale_before

    def take(self, *, at: datetime) -> None:
        if self.status is ReportRunStatus.SENT:
            self.sends += 1
            self.status = ReportRunStatus.SENDING
            self.sent_at = None
        self.attempt_at = at

    def mark_sent(self, *, at: datetime, recipients: tuple[str, ...], html_key: str, csv_key: str) -> None:
        self.status = ReportRunStatus.SENT
        self.sent_at = at
        self.attempt_at = None
        self.recipients = recipients
        self.html_key = html_key
        self.csv_key = csv_key


_REPORT_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_report_day(value: str) -> date:
    """An ISO date (YYYY-MM-DD) naming a report; InvalidInput otherwise.

    Only that form: Python 3.11's fromisoformat also takes 20261121 and 2026-W47-6, which the
    API's schema (format: date) does not promise."""
    try:
        if not _REPORT_DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError as e:
        raise InvalidInput.on_field("date", "Use a date as YYYY-MM-DD.") from e
