"""An in-memory ExpertViewCounter: the executable reference the ORM and Redis counters are held to."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

from domain.ids import ExpertId


class InMemoryExpertViewCounter:
    """Implements ExpertViewCounter with a Counter per UTC day."""

    def __init__(self) -> None:
        self._days: defaultdict[date, Counter[ExpertId]] = defaultdict(Counter)
        self._lock = threading.Lock()

    def record_view(self, expert_id: ExpertId, *, at: datetime) -> None:
        day = _utc_day(at)
        with self._lock:
            self._days[day][expert_id] += 1

    def count(self, expert_id: ExpertId) -> int:
        with self._lock:
            return sum(views[expert_id] for views in self._days.values())

    def trending(self, *, now: datetime, days: int, limit: int) -> list[tuple[ExpertId, int]]:
        if days < 1 or limit < 1:
            return []
        last = _utc_day(now)
        window: Counter[ExpertId] = Counter()
        with self._lock:
            for n in range(days):
                window.update(self._days.get(last - timedelta(days=n), Counter()))
        return sorted(window.items(), key=lambda entry: (-entry[1], entry[0]))[:limit]


def _utc_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("View counters take aware datetimes.")
    return moment.astimezone(UTC).date()
