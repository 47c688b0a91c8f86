"""Django ORM ReportSource: each figure is one aggregate query, grouped in the database.

Users are filtered on the indexed ``date_joined``; bookings and profiles on
``created_at``/``published_at`` (not indexed: a day's range scan is acceptable for a
once-a-day report; add an index in a migration if these tables grow large).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from adapters.orm.models import BookingRow, ExpertProfileRow
from adapters.orm.models import User as UserRow
from adapters.orm.repositories import _driver_errors
from domain.bookings import BookingStatus
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
