"""In-memory ReportSource over the tables the memory repositories write."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

from adapters.memory.store import MemoryDatabase
from domain.bookings import Booking, BookingStatus
from domain.users import Role

# Bookings that never turned into money.
NOT_GROSS = (BookingStatus.DECLINED, BookingStatus.CANCELLED)


def _within(moment: datetime | None, start: datetime, end: datetime) -> bool:
    return moment is not None and start <= moment < end


class InMemoryReportSource:
    def __init__(self, database: MemoryDatabase) -> None:
        self._db = database

    def _rows(self, table: str) -> Iterable[Any]:
        with self._db.lock:
            return list(self._db.table(table).values())

    def _bookings(self, start: datetime, end: datetime) -> list[Booking]:
        return [b for b in self._rows("bookings") if _within(b.created_at, start, end)]

    def signups_by_role(self, start: datetime, end: datetime) -> dict[Role, int]:
        return dict(Counter(u.role for u in self._rows("users") if _within(u.signed_up_at, start, end)))

    def experts_created(self, start: datetime, end: datetime) -> int:
        return sum(1 for p in self._rows("experts") if _within(p.created_at, start, end))

    def experts_published(self, start: datetime, end: datetime) -> int:
        return sum(1 for p in self._rows("experts") if _within(p.published_at, start, end))

    def bookings_by_status(self, start: datetime, end: datetime) -> dict[BookingStatus, int]:
        return dict(Counter(b.status for b in self._bookings(start, end)))

    def gross_booking_value(self, start: datetime, end: datetime) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for booking in self._bookings(start, end):
            if booking.status not in NOT_GROSS:
                totals[booking.price.currency] += booking.price.amount
        return dict(totals)

    def daily_counts(self, boundaries: Sequence[datetime]) -> list[tuple[int, int]]:
        bookings = [b.created_at for b in self._rows("bookings")]
        signups = [u.signed_up_at for u in self._rows("users")]
        return [
            (sum(_within(t, s, e) for t in bookings), sum(_within(t, s, e) for t in signups))
            for s, e in pairwise(boundaries)
        ]
