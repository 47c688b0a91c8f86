"""ExpertViewCounter in Redis: the NoSQL twin of adapters/orm/counters.py (VIEW_COUNTER_BACKEND=redis).

Keys (all under one hash tag, so a Redis Cluster keeps them in one slot and
the multi-key commands below stay legal):

    <prefix>:{views}:total:<expert id>   string, INCR: every view ever
    <prefix>:{views}:day:<YYYY-MM-DD>    sorted set, ZINCRBY: member expert id, score that UTC day's views;
                                         expires RETENTION_DAYS after the day ends

Recording a view is one round trip (a MULTI pipeline of INCR, ZINCRBY,
EXPIREAT). Trending sums the day sets with ZUNIONSTORE into a short-lived
scratch key and reads the top entries; a second round trip resolves ties
at the cut (Redis orders equal scores by member, descending under REV, and
the port wants ascending expert ids).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from time import monotonic
from typing import Any

import redis
from redis.exceptions import RedisError

from domain.errors import PortError
from domain.ids import ExpertId

# Day sets live this long after their day: trending windows up to this many days are exact.
RETENTION_DAYS = 35
# The scratch key of a trending query outlives a crashed caller by at most this long.
SCRATCH_SECONDS = 30


class RedisExpertViewCounter:
    """Implements ExpertViewCounter with INCR totals and one sorted set per UTC day.

    After a Redis failure the counter answers PortError at once, without
    trying Redis, for ``outage_backoff`` seconds: a hung server costs one
    request per process a socket timeout, not every request.
    """

    def __init__(self, *, client: redis.Redis, prefix: str = "experthub", outage_backoff: float = 1.0) -> None:
        self._client = client
        self._prefix = f"{prefix}:{{views}}"
        self._outage_backoff = outage_backoff
        self._down_until = 0.0

    def record_view(self, expert_id: ExpertId, *, at: datetime) -> None:
        day = _utc_day(at)
        expires_at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(days=RETENTION_DAYS + 1)
        pipe = self._client.pipeline(transaction=True)
        pipe.incr(self._total_key(expert_id))
        pipe.zincrby(self._day_key(day), 1, str(expert_id))
        pipe.expireat(self._day_key(day), int(expires_at.timestamp()))
        with self._redis_errors():
            pipe.execute()

    def count(self, expert_id: ExpertId) -> int:
        with self._redis_errors():
            value = self._client.get(self._total_key(expert_id))
        return int(value) if value is not None else 0

    def trending(self, *, now: datetime, days: int, limit: int) -> list[tuple[ExpertId, int]]:
        if days < 1 or limit < 1:
            return []
        last = _utc_day(now)
        day_keys = [self._day_key(last - timedelta(days=n)) for n in range(days)]
        scratch = f"{self._prefix}:scratch:{uuid.uuid4().hex}"
        with self._redis_errors():
            top = self._top(scratch, day_keys, limit)
            if len(top) == limit:
                top = self._resolve_ties_at_cut(scratch, top)
            self._client.delete(scratch)
        return top

    def _top(self, scratch: str, day_keys: list[str], limit: int) -> list[tuple[ExpertId, int]]:
        pipe = self._client.pipeline(transaction=True)
        pipe.zunionstore(scratch, day_keys, aggregate="SUM")
        pipe.expire(scratch, SCRATCH_SECONDS)
        pipe.zrange(scratch, 0, limit - 1, desc=True, withscores=True)
        *_, entries = pipe.execute()
        return _ranked(entries)

    def _resolve_ties_at_cut(self, scratch: str, top: list[tuple[ExpertId, int]]) -> list[tuple[ExpertId, int]]:
        """Among the experts with the cut's score, keep the lowest ids (not Redis's highest)."""
        cut = top[-1][1]
        above = [entry for entry in top if entry[1] > cut]
        room = len(top) - len(above)
        tied = self._client.zrangebyscore(scratch, cut, cut, start=0, num=room, withscores=True)
        return above + _ranked(tied)

    @contextmanager
    def _redis_errors(self) -> Iterator[None]:
        """Services never see redis-py types: an unreachable or failing Redis is a PortError."""
        if monotonic() < self._down_until:
            raise PortError("The view counter (Redis) is unavailable; backing off.")
        try:
            yield
        except RedisError as e:
            self._down_until = monotonic() + self._outage_backoff
            raise PortError("The view counter (Redis) is unavailable.") from e

    def _total_key(self, expert_id: ExpertId) -> str:
        return f"{self._prefix}:total:{expert_id}"

    def _day_key(self, day: date) -> str:
        return f"{self._prefix}:day:{day.isoformat()}"


def _utc_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("View counters take aware datetimes.")
    return moment.astimezone(UTC).date()


def _ranked(entries: Iterable[Any]) -> list[tuple[ExpertId, int]]:
    """(member, score) pairs as (expert id, views), most views first, then ascending id."""
    ranked = [(ExpertId(uuid.UUID(member)), int(score)) for member, score in entries]
    return sorted(ranked, key=lambda entry: (-entry[1], entry[0]))
