"""In-memory adapters of the daily report: ReportSource over the tables the memory
repositories write, SearchLog and ReportRunRepository in the same MemoryDatabase."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from itertools import pairwise
from typing import Any

from adapters.memory.store import MemoryDatabase
from domain.bookings import Booking, BookingStatus
from domain.errors import NotFound
from domain.pagination import Page, PageRequest
from domain.reports import ReportRun
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


class InMemorySearchLog:
    """Implements SearchLog with one (time, skill) entry per recorded skill."""

    def __init__(self, database: MemoryDatabase) -> None:
        self._db = database

    def record(self, skills: Sequence[str], *, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("Search counts take aware datetimes.")
        with self._db.lock:
            log = self._db.table("search_log")
            for skill in sorted(set(skills)):
                log[max(log, default=-1) + 1] = (at, skill)

    def prune(self, *, before: datetime) -> int:
        with self._db.lock:
            log = self._db.table("search_log")
            old = [index for index, (at, _) in log.items() if at < before]
            for index in old:
                del log[index]
            return len(old)

    def top_skills(self, start: datetime, end: datetime, *, limit: int) -> list[tuple[str, int]]:
        with self._db.lock:
            entries = list(self._db.table("search_log").values())
        counts = Counter(skill for at, skill in entries if start <= at < end)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[: max(limit, 0)]


class InMemoryReportRunRepository:
    """Implements ReportRunRepository; stores copies, so callers' runs are not shared."""

    def __init__(self, database: MemoryDatabase) -> None:
        self._db = database

    def claim(self, run: ReportRun) -> tuple[ReportRun, bool]:
        with self._db.lock:
            runs = self._db.table("report_runs")
            if run.day in runs:
                return copy.copy(runs[run.day]), False
            runs[run.day] = copy.copy(run)
            return run, True

    def take_over(self, day: date, *, at: datetime, stale_before: datetime, resend: bool) -> ReportRun | None:
        with self._db.lock:
            run = self._db.table("report_runs").get(day)
            if run is None or not run.can_be_taken(stale_before=stale_before, resend=resend):
                return None
            run.take(at=at)
            return copy.copy(run)

    def release(self, run: ReportRun) -> None:
        with self._db.lock:
            stored = self._db.table("report_runs").get(run.day)
            if stored is not None and stored.attempt_at == run.attempt_at:
                stored.attempt_at = None
        run.attempt_at = None

    def get(self, day: date) -> ReportRun:
        with self._db.lock:
            run = self._db.table("report_runs").get(day)
        if run is None:
            raise NotFound("Report not found.")
        return copy.copy(run)

    def save(self, run: ReportRun) -> None:
        with self._db.lock:
            runs = self._db.table("report_runs")
            if run.day in runs:
                runs[run.day] = copy.copy(run)

    def list(self, *, page: PageRequest) -> Page[ReportRun]:
        with self._db.lock:
            runs = sorted(self._db.table("report_runs").values(), key=lambda r: r.day, reverse=True)
        items = [copy.copy(r) for r in runs[page.offset : page.offset + page.size]]
        return Page(items=items, total=len(runs), request=page)
