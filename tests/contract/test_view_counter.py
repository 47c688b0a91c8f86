"""The ExpertViewCounter contract, run against every adapter: in memory, the ORM, and Redis.

This is the suite that lets VIEW_COUNTER_BACKEND move the counters between
the relational store and Redis: both adapters pass it, so the services
cannot tell them apart.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connections

from adapters.memory.counters import InMemoryExpertViewCounter
from adapters.orm.counters import DjangoExpertViewCounter
from adapters.orm.repositories import DjangoExpertRepository, DjangoUserRepository
from adapters.redis.client import make_client
from adapters.redis.counters import RedisExpertViewCounter
from domain.ids import ExpertId, new_id
from domain.ports import ExpertViewCounter
from tests.factories import store_expert
from tests.harness.servers import RedisServer

NOW = datetime(2030, 3, 15, 12, 0, tzinfo=UTC)
MakeExpert = Callable[[], ExpertId]


def views(counter: ExpertViewCounter, expert_id: ExpertId, n: int, *, at: datetime = NOW) -> None:
    for _ in range(n):
        counter.record_view(expert_id, at=at)


class ExpertViewCounterContract:
    """Subclasses provide ``counter`` (empty) and ``expert``: makes an expert id the store accepts."""

    # --- count -----------------------------------------------------------------------------

    def test_a_profile_never_viewed_counts_zero(self, counter: ExpertViewCounter, expert: MakeExpert) -> None:
        assert counter.count(expert()) == 0

    def test_every_view_counts_whatever_its_day(self, counter: ExpertViewCounter, expert: MakeExpert) -> None:
        ada = expert()
        views(counter, ada, 2)
        views(counter, ada, 1, at=NOW - timedelta(days=400))

        assert counter.count(ada) == 3

    def test_experts_are_counted_apart(self, counter: ExpertViewCounter, expert: MakeExpert) -> None:
        ada, bob = expert(), expert()
        views(counter, ada, 3)
        views(counter, bob, 1)

        assert (counter.count(ada), counter.count(bob)) == (3, 1)

    def test_concurrent_views_are_all_counted(self, counter: ExpertViewCounter, expert: MakeExpert) -> None:
        ada = expert()

        def view_many() -> None:
            try:
                views(counter, ada, 10)
            finally:
                connections.close_all()  # the ORM adapter opened this thread's own connection

        threads = [threading.Thread(target=view_many) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert counter.count(ada) == 60
        assert counter.trending(now=NOW, days=1, limit=5) == [(ada, 60)]

    def test_a_naive_time_is_refused(self, counter: ExpertViewCounter, expert: MakeExpert) -> None:
        with pytest.raises(ValueError, match="aware"):
            counter.record_view(expert(), at=datetime(2030, 3, 15, 12, 0))

    # --- trending --------------------------------------------------------------------------

    def test_nothing_viewed_trends_nothing(self, counter: ExpertViewCounter) -> None:
        assert counter.trending(now=NOW, days=7, limit=10) == []

    def test_most_views_first(self, counter: ExpertViewCounter, expert: MakeExpert) -> None:
        ada, bob, cy = expert(), expert(), expert()
        views(counter, ada, 1)
        views(counter, bob, 3)
        views(counter, cy, 2)

        assert counter.trending(now=NOW, days=1, limit=10) == [(bob, 3), (cy, 2), (ada, 1)]

    def test_ties_go_to_the_lower_expert_id(self, counter: ExpertViewCounter, expert: MakeExpert) -> None:
        tied = [expert() for _ in range(4)]
        for expert_id in tied:
            views(counter, expert_id, 2)

        assert counter.trending(now=NOW, days=1, limit=10) == [(e, 2) for e in sorted(tied)]

    def test_the_limit_cuts_through_ties_by_expert_id(self, counter: ExpertViewCounter, expert: MakeExpert) -> None:
        leader = expert()
        tied = [expert() for _ in range(5)]
        views(counter, leader, 5)
        for expert_id in tied:
            views(counter, expert_id, 2)

        assert counter.trending(now=NOW, days=1, limit=3) == [(leader, 5), *[(e, 2) for e in sorted(tied)[:2]]]

    def test_the_window_is_the_last_days_up_to_and_including_today(
        self, counter: ExpertViewCounter, expert: MakeExpert
    ) -> None:
        today, edge, too_old, tomorrow = expert(), expert(), expert(), expert()
        start_of_today = NOW.replace(hour=0, minute=0)
        views(counter, today, 1, at=start_of_today)
        views(counter, edge, 2, at=start_of_today - timedelta(days=6))  # the 7th day back: in
        views(counter, too_old, 9, at=start_of_today - timedelta(microseconds=1, days=6))  # the 8th: out
        views(counter, tomorrow, 9, at=start_of_today + timedelta(days=1))

        assert counter.trending(now=NOW, days=7, limit=10) == [(edge, 2), (today, 1)]
        assert counter.trending(now=NOW, days=1, limit=10) == [(today, 1)]

    def test_views_in_the_window_add_up_across_days(self, counter: ExpertViewCounter, expert: MakeExpert) -> None:
        ada, bob = expert(), expert()
        for days_ago in range(3):
            views(counter, ada, 1, at=NOW - timedelta(days=days_ago))
        views(counter, bob, 2)

        assert counter.trending(now=NOW, days=3, limit=10) == [(ada, 3), (bob, 2)]
        assert counter.trending(now=NOW, days=2, limit=10) == sorted([(ada, 2), (bob, 2)])

    def test_days_are_utc_calendar_days(self, counter: ExpertViewCounter, expert: MakeExpert) -> None:
        ada, bob = expert(), expert()
        new_york = timezone(timedelta(hours=-5))
        views(counter, ada, 1, at=datetime(2030, 3, 14, 20, 0, tzinfo=new_york))  # 01:00 UTC on the 15th
        views(counter, bob, 1, at=datetime(2030, 3, 15, 18, 59, tzinfo=new_york))  # 23:59 UTC on the 15th

        assert counter.trending(now=NOW, days=1, limit=10) == sorted([(ada, 1), (bob, 1)])
        assert counter.trending(now=datetime(2030, 3, 15, 20, 0, tzinfo=new_york), days=1, limit=10) == []

    @pytest.mark.parametrize(("days", "limit"), [(0, 10), (7, 0), (-1, 10)])
    def test_an_empty_window_or_limit_trends_nothing(
        self, counter: ExpertViewCounter, expert: MakeExpert, days: int, limit: int
    ) -> None:
        views(counter, expert(), 1)

        assert counter.trending(now=NOW, days=days, limit=limit) == []


class TestInMemoryExpertViewCounter(ExpertViewCounterContract):
    @pytest.fixture
    def counter(self) -> ExpertViewCounter:
        return InMemoryExpertViewCounter()

    @pytest.fixture
    def expert(self) -> MakeExpert:
        return lambda: ExpertId(new_id())


# Transactional: the concurrency test's threads need committed rows and their own connections.
@pytest.mark.django_db(transaction=True)
class TestDjangoExpertViewCounter(ExpertViewCounterContract):
    @pytest.fixture
    def counter(self) -> ExpertViewCounter:
        return DjangoExpertViewCounter()

    @pytest.fixture
    def expert(self) -> MakeExpert:
        users, experts = DjangoUserRepository(), DjangoExpertRepository()
        return lambda: store_expert(users, experts).id


@pytest.mark.integration
class TestRedisExpertViewCounter(ExpertViewCounterContract):
    @pytest.fixture
    def counter(self, redis_server: RedisServer) -> Iterator[ExpertViewCounter]:
        client = make_client(url=redis_server.url, socket_timeout=1.0, ssl_cert_reqs="required", ssl_ca_certs=None)
        yield RedisExpertViewCounter(client=client, prefix=f"contract-{uuid.uuid4().hex}")
        client.close()

    @pytest.fixture
    def expert(self) -> MakeExpert:
        return lambda: ExpertId(new_id())
