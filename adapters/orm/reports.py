"""Django ORM adapters of the daily report: ReportSource (each figure is one aggregate
query, grouped in the database), SearchLog (quarter-hour counters) and
ReportRunRepository (one row per report date, the date being the primary key).

Users are filtered on the indexed ``date_joined``; bookings and profiles on
``created_at``/``published_at`` (not indexed: a day's range scan is acceptable for a
once-a-day report; add an index in a migration if these tables grow large).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum

from adapters.orm.counters import count_in_place
from adapters.orm.models import BookingRow, ExpertProfileRow, ReportRunRow, SearchSkillCountRow
from adapters.orm.models import User as UserRow
from adapters.orm.repositories import _driver_errors, _get_row, _page, _unique
from domain.bookings import BookingStatus
from domain.errors import Conflict
from domain.pagination import Page, PageRequest
from domain.reports import ReportRun, ReportRunStatus
from domain.users import Role

NOT_GROSS = (BookingStatus.DECLINED.value, BookingStatus.CANCELLED.value)


def _grouped(queryset: QuerySet[Any], column: str, **aggregate: Any) -> list[dict[str, Any]]:
    # order_by() drops the models' default ordering, which would otherwise join the GROUP BY.
    return list(queryset.order_by().values(column).annotate(**aggregate))


class DjangoReportSource:
    @staticmethod
    def _bookings(start: datetime, end: datetime) -> QuerySet[BookingRow]:
        return BookingRow.objects.filter(created_at__gte=start, created_at__lt=end)

    @_driver_errors()
    def signups_by_role(self, start: datetime, end: datetime) -> dict[Role, int]:
        rows = _grouped(UserRow.objects.filter(date_joined__gte=start, date_joined__lt=end), "role", n=Count("id"))
        return {Role(row["role"]): row["n"] for row in rows}

    @_driver_errors()
    def experts_created(self, start: datetime, end: datetime) -> int:
        return ExpertProfileRow.objects.filter(created_at__gte=start, created_at__lt=end).count()

    @_driver_errors()
    def experts_published(self, start: datetime, end: datetime) -> int:
        return ExpertProfileRow.objects.filter(published_at__gte=start, published_at__lt=end).count()

    @_driver_errors()
    def bookings_by_status(self, start: datetime, end: datetime) -> dict[BookingStatus, int]:
        rows = _grouped(self._bookings(start, end), "status", n=Count("id"))
        return {BookingStatus(row["status"]): row["n"] for row in rows}

    @_driver_errors()
    def gross_booking_value(self, start: datetime, end: datetime) -> dict[str, int]:
        queryset = self._bookings(start, end).exclude(status__in=NOT_GROSS)
        rows = _grouped(queryset, "price_currency", total=Sum("price_amount"))
        return {row["price_currency"]: int(row["total"]) for row in rows}

    @_driver_errors()
    def daily_counts(self, boundaries: Sequence[datetime]) -> list[tuple[int, int]]:
        ranges = list(pairwise(boundaries))
        bookings = _counts(BookingRow.objects.all(), "created_at", ranges)
        signups = _counts(UserRow.objects.all(), "date_joined", ranges)
        return list(zip(bookings, signups, strict=True))


def _counts(queryset: QuerySet[Any], column: str, ranges: list[tuple[datetime, datetime]]) -> list[int]:
    """One query: a filtered COUNT per range, side by side."""
    if not ranges:
        return []
    counts = {
        f"r{i}": Count("pk", filter=Q(**{f"{column}__gte": start, f"{column}__lt": end}))
        for i, (start, end) in enumerate(ranges)
    }
    row = queryset.order_by().aggregate(**counts)
    return [row[f"r{i}"] for i in range(len(ranges))]


# --- searches ------------------------------------------------------------------------

BUCKET = timedelta(minutes=15)


def quarter_hour(moment: datetime) -> datetime:
    """The start of the UTC quarter hour holding ``moment`` (aware datetimes only)."""
    if moment.tzinfo is None:
        raise ValueError("Search counts take aware datetimes.")
    utc = moment.astimezone(UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


class DjangoSearchLog:
    """Implements SearchLog: one counter row per skill and UTC quarter hour."""

    @_driver_errors()
    def record(self, skills: Sequence[str], *, at: datetime) -> None:
        bucket = quarter_hour(at)
        for skill in sorted(set(skills)):
            count_in_place(SearchSkillCountRow, keys={"skill": skill, "bucket": bucket}, field="searches")

    @_driver_errors()
    def prune(self, *, before: datetime) -> int:
        deleted, _ = SearchSkillCountRow.objects.filter(bucket__lt=before).delete()
        return deleted

    @_driver_errors()
    def top_skills(self, start: datetime, end: datetime, *, limit: int) -> list[tuple[str, int]]:
        if limit < 1:
            return []
        rows = (
            SearchSkillCountRow.objects.filter(bucket__gte=start, bucket__lt=end)
            .order_by()
            .values("skill")
            .annotate(total=Sum("searches"))
            .order_by("-total", "skill")[:limit]
        )
        return [(row["skill"], int(row["total"])) for row in rows]


# --- report runs ---------------------------------------------------------------------


def _run_entity(row: ReportRunRow) -> ReportRun:
    return ReportRun(
        day=row.day,
        tz=row.tz,
        created_at=row.created_at,
        attempt_at=row.attempt_at,
        status=ReportRunStatus(row.status),
        sends=row.sends,
        sent_at=row.sent_at,
        recipients=tuple(row.recipients),
        html_key=row.html_key or None,
        csv_key=row.csv_key or None,
    )


def _run_fields(run: ReportRun) -> dict[str, Any]:
    return {
        "tz": run.tz,
        "created_at": run.created_at,
        "attempt_at": run.attempt_at,
        "status": run.status.value,
        "sends": run.sends,
        "sent_at": run.sent_at,
        "recipients": list(run.recipients),
        "html_key": run.html_key or "",
        "csv_key": run.csv_key or "",
    }


class DjangoReportRunRepository:
    """Implements ReportRunRepository; the report date is the primary key."""

    @_driver_errors()
    def claim(self, run: ReportRun) -> tuple[ReportRun, bool]:
        try:
            with _unique(ReportRunRow.objects.filter(day=run.day), Conflict("The date has a report run.")):
                ReportRunRow.objects.create(day=run.day, **_run_fields(run))
        except Conflict:
            return self.get(run.day), False
        return run, True

    @_driver_errors()
    def take_over(self, day: date, *, at: datetime, stale_before: datetime, resend: bool) -> ReportRun | None:
        # Conditional UPDATEs: the database decides which of concurrent attempts wins,
        # on SQLite (no SELECT ... FOR UPDATE) as on PostgreSQL.
        rows = ReportRunRow.objects.filter(day=day)
        free = Q(status=ReportRunStatus.SENDING.value) & (Q(attempt_at__isnull=True) | Q(attempt_at__lt=stale_before))
        taken = rows.filter(free).update(attempt_at=at)
        if not taken and resend:
            taken = rows.filter(status=ReportRunStatus.SENT.value).update(
                status=ReportRunStatus.SENDING.value, sends=F("sends") + 1, sent_at=None, attempt_at=at
            )
        return self.get(day) if taken else None

    @_driver_errors()
    def release(self, run: ReportRun) -> None:
        ReportRunRow.objects.filter(day=run.day, attempt_at=run.attempt_at).update(attempt_at=None)
        run.attempt_at = None

    @_driver_errors()
    def get(self, day: date) -> ReportRun:
        return _run_entity(_get_row(ReportRunRow.objects.all(), "Report", day=day))

    @_driver_errors()
    def save(self, run: ReportRun) -> None:
        ReportRunRow.objects.filter(day=run.day).update(**_run_fields(run))

    @_driver_errors()
    def list(self, *, page: PageRequest) -> Page[ReportRun]:
        return _page(ReportRunRow.objects.order_by("-day"), page, _run_entity)
