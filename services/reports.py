"""The daily ops report: compute the figures of a local date, and say which date is due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from domain.ports import ReportSource
from domain.reports import (
    TREND_DAYS,
    DailyReport,
    TrendPoint,
    day_boundaries,
    day_range,
    due_date,
    report_zone,
)


def report_compute(
    *, source: ReportSource, day: date, tz: str, top_searched_skills: Mapping[str, int] | None = None
) -> DailyReport:
    """The figures of the LOCAL calendar date ``day`` in the zone ``tz`` (23 h or 25 h on DST days)."""
    zone = report_zone(tz)
    span = day_range(day, zone)
    return DailyReport(
        day=day,
        tz=tz,
        signups_by_role=source.signups_by_role(span.start, span.end),
        experts_created=source.experts_created(span.start, span.end),
        experts_published=source.experts_published(span.start, span.end),
        bookings_by_status=source.bookings_by_status(span.start, span.end),
        gross_booking_value=source.gross_booking_value(span.start, span.end),
        trend=_trend(source, day, zone),
        top_searched_skills=dict(top_searched_skills or {}),
    )


def _trend(source: ReportSource, day: date, zone: ZoneInfo) -> tuple[TrendPoint, ...]:
    boundaries = day_boundaries(day, zone, days=TREND_DAYS)
    counts = source.daily_counts(boundaries)
    first = day.toordinal() - TREND_DAYS + 1
    return tuple(
        TrendPoint(date.fromordinal(first + i), bookings, signups) for i, (bookings, signups) in enumerate(counts)
    )


def report_due_date(*, now: datetime, tz: str, send_at: time) -> date | None:
    """The local date whose report is due at ``now`` (the previous local date once today's
    ``send_at`` instant has passed), or None; DST rules in domain.reports.due_date. Callers
    still record each sent date: this returns the same date for the rest of that local day."""
    return due_date(now=now, zone=report_zone(tz), send_at=send_at)
