"""ExpertViewCounter on the relational store: one row per profile and UTC day (VIEW_COUNTER_BACKEND=orm).

The twin of adapters/redis/counters.py, held to the same contract suite.
A view is an UPDATE ... SET views = views + 1 of the day's row, or the
INSERT of that row on the day's first view. Two first views racing each
other: the unique (expert, day) constraint lets one INSERT win and the
other turns into the increment. (``bulk_create(update_conflicts=True)``
cannot express ``views + 1``: it only copies the proposed row's values.)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.db.models.functions import Coalesce

from adapters.orm.models import ExpertViewCountRow
from adapters.orm.repositories import _driver_errors
from domain.ids import ExpertId


class DjangoExpertViewCounter:
    """Implements ExpertViewCounter with ExpertViewCountRow."""

    def record_view(self, expert_id: ExpertId, *, at: datetime) -> None:
        day = _utc_day(at)
        with _driver_errors():
            if not _increment(expert_id, day):
                _insert_or_increment(expert_id, day)

    def count(self, expert_id: ExpertId) -> int:
        with _driver_errors():
            rows = ExpertViewCountRow.objects.filter(expert_id=expert_id)
            return int(rows.aggregate(total=Coalesce(Sum("views"), 0))["total"])

    def trending(self, *, now: datetime, days: int, limit: int) -> list[tuple[ExpertId, int]]:
        if days < 1 or limit < 1:
            return []
        last = _utc_day(now)
        ranked = (
            ExpertViewCountRow.objects.filter(day__range=(last - timedelta(days=days - 1), last))
            .values("expert_id")
            .annotate(total=Sum("views"))
            .order_by("-total", "expert_id")[:limit]
        )
        with _driver_errors():
            return [(ExpertId(row["expert_id"]), int(row["total"])) for row in ranked]


# Counting a view is not the viewer's write: naming the primary directly skips the
# replica router, so a profile GET does not pin the viewer to the primary.
PRIMARY = "default"


def _increment(expert_id: ExpertId, day: date) -> bool:
    """Add a view to the day's row; False if the row does not exist yet."""
    rows = ExpertViewCountRow.objects.using(PRIMARY).filter(expert_id=expert_id, day=day)
    return bool(rows.update(views=F("views") + 1))


def _insert_or_increment(expert_id: ExpertId, day: date) -> None:
    try:
        # A savepoint: on PostgreSQL the failed INSERT must not abort the caller's transaction.
        with transaction.atomic(using=PRIMARY):
            ExpertViewCountRow.objects.using(PRIMARY).create(expert_id=expert_id, day=day, views=1)
    except IntegrityError:
        # Another request inserted the day's row between our UPDATE and INSERT.
        _increment(expert_id, day)


def _utc_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("View counters take aware datetimes.")
    return moment.astimezone(UTC).date()
