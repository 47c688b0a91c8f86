"""ExpertViewCounter on the relational store: one row per profile and UTC day (VIEW_COUNTER_BACKEND=orm).

The twin of adapters/redis/counters.py, held to the same contract suite.
A view adds one to the day's row in place (count_in_place, shared with the
search counts of the daily report).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Model, Sum
from django.db.models.functions import Coalesce

from adapters.orm.models import ExpertViewCountRow
from adapters.orm.repositories import _driver_errors
from domain.ids import ExpertId


class DjangoExpertViewCounter:
    """Implements ExpertViewCounter with ExpertViewCountRow."""

    def record_view(self, expert_id: ExpertId, *, at: datetime) -> None:
        day = _utc_day(at)
        with _driver_errors():
            count_in_place(ExpertViewCountRow, keys={"expert_id": expert_id, "day": day}, field="views")

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


# Counting is not the user's write: naming the primary directly skips the replica
# router, so a profile view or a search does not pin the user to the primary.
PRIMARY = "default"


def count_in_place(model: type[Model], *, keys: dict[str, Any], field: str) -> None:
    """Add one to ``field`` of the row ``keys`` name, inserting the row (at 1) on first use.

    An UPDATE ... SET n = n + 1, or the INSERT of the row. Two first uses racing each
    other: the unique constraint over ``keys`` lets one INSERT win and the other turns
    into the increment. (``bulk_create(update_conflicts=True)`` cannot express
    ``n + 1``: it only copies the proposed row's values.)
    """
    rows = model._default_manager.using(PRIMARY).filter(**keys)
    if rows.update(**{field: F(field) + 1}):
        return
    try:
        # A savepoint: on PostgreSQL the failed INSERT must not abort the caller's transaction.
        with transaction.atomic(using=PRIMARY):
            model._default_manager.using(PRIMARY).create(**keys, **{field: 1})
    except IntegrityError:
        # Another request inserted the row between our UPDATE and INSERT.
        rows.update(**{field: F(field) + 1})


def _utc_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("View counters take aware datetimes.")
    return moment.astimezone(UTC).date()
