"""The SearchLog and ReportRunRepository contracts, run against every adapter."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from adapters.memory.reports import InMemoryReportRunRepository, InMemorySearchLog
from adapters.memory.store import MemoryDatabase
from adapters.orm.reports import DjangoReportRunRepository, DjangoSearchLog
from domain.errors import NotFound
from domain.pagination import PageRequest
from domain.ports import ReportRunRepository, SearchLog
from domain.reports import ReportRun, ReportRunStatus

START = datetime(2030, 3, 1, 23, tzinfo=UTC)  # midnight in UTC+1: a local day need not start at 00:00 UTC
END = START + timedelta(days=1)
TICK = timedelta(microseconds=1)


class SearchLogContract:
    @pytest.fixture
    def log(self) -> SearchLog:
        raise NotImplementedError

    def test_top_skills_counts_searches_in_the_half_open_range(self, log: SearchLog) -> None:
        for moment in (START, START + timedelta(hours=5, minutes=7), END - TICK):
            log.record(["django"], at=moment)
        log.record(["django", "postgres"], at=START + timedelta(hours=1))
        log.record(["python"], at=START - TICK)
        log.record(["python"], at=END)

        assert log.top_skills(START, END, limit=10) == [("django", 4), ("postgres", 1)]

    def test_top_skills_ranks_most_first_then_by_skill_and_honours_the_limit(self, log: SearchLog) -> None:
        moment = START + timedelta(hours=2)
        for skill, searches in (("rust", 2), ("go", 2), ("python", 3), ("sql", 1)):
            for _ in range(searches):
                log.record([skill], at=moment)

        assert log.top_skills(START, END, limit=3) == [("python", 3), ("go", 2), ("rust", 2)]
        assert log.top_skills(START, END, limit=0) == []

    def test_a_skill_named_twice_in_one_search_counts_once(self, log: SearchLog) -> None:
        log.record(["django", "django"], at=START)

        assert log.top_skills(START, END, limit=5) == [("django", 1)]

    def test_a_search_without_skills_records_nothing(self, log: SearchLog) -> None:
        log.record([], at=START)

        assert log.top_skills(START, END, limit=5) == []

    def test_prune_forgets_the_searches_before_a_moment_and_keeps_the_rest(self, log: SearchLog) -> None:
        log.record(["django"], at=START - timedelta(days=100))
        log.record(["rust"], at=START - timedelta(days=100))
        log.record(["django"], at=START)

        assert log.prune(before=START - timedelta(days=90)) == 2
        assert log.top_skills(START - timedelta(days=365), END, limit=5) == [("django", 1)]
        log.record(["go"], at=START)  # counting goes on after a prune
        assert log.top_skills(START, END, limit=5) == [("django", 1), ("go", 1)]
        assert log.prune(before=START - timedelta(days=90)) == 0

    def test_recording_takes_aware_datetimes_only(self, log: SearchLog) -> None:
        with pytest.raises(ValueError, match="aware"):
            log.record(["django"], at=datetime(2030, 3, 2, 12))


DAY = date(2030, 3, 1)
ATTEMPT = datetime(2030, 3, 2, 7, tzinfo=UTC)
SENT_AT = ATTEMPT + timedelta(minutes=1)
LATER = ATTEMPT + timedelta(minutes=30)


def a_run(day: date = DAY, tz: str = "Europe/Paris") -> ReportRun:
    return ReportRun(day=day, tz=tz, created_at=ATTEMPT, attempt_at=ATTEMPT)


class ReportRunRepositoryContract:
    @pytest.fixture
    def runs(self) -> ReportRunRepository:
        raise NotImplementedError

    def test_the_first_claim_stores_the_run(self, runs: ReportRunRepository) -> None:
        run, claimed = runs.claim(a_run())

        assert claimed
        assert runs.get(date(2030, 3, 1)) == run
        assert run.status is ReportRunStatus.SENDING
        assert run.sends == 1

    def test_a_second_claim_for_the_date_gets_the_stored_run_untouched(self, runs: ReportRunRepository) -> None:
        first, _ = runs.claim(a_run())
        first.mark_sent(at=SENT_AT, recipients=("ops@x.io",), html_key="h", csv_key="c")
        runs.save(first)

        second, claimed = runs.claim(a_run(tz="UTC"))

        assert not claimed
        assert second == first
        assert second.tz == "Europe/Paris"
        assert second.status is ReportRunStatus.SENT

    def test_save_writes_back_progress(self, runs: ReportRunRepository) -> None:
        run, _ = runs.claim(a_run())
        run.mark_sent(at=SENT_AT, recipients=("a@x.io", "b@x.io"), html_key="r/h", csv_key="r/c")
        runs.save(run)

        stored = runs.get(run.day)
        assert (stored.sends, stored.status, stored.sent_at, stored.attempt_at) == (
            1,
            ReportRunStatus.SENT,
            SENT_AT,
            None,
        )
        assert (stored.recipients, stored.html_key, stored.csv_key) == (("a@x.io", "b@x.io"), "r/h", "r/c")

    def test_a_held_run_is_not_taken_over_until_its_lease_is_stale(self, runs: ReportRunRepository) -> None:
        runs.claim(a_run())  # held since ATTEMPT

        assert runs.take_over(DAY, at=LATER, stale_before=ATTEMPT, resend=False) is None
        assert runs.take_over(DAY, at=LATER, stale_before=ATTEMPT, resend=True) is None
        taken = runs.take_over(DAY, at=LATER, stale_before=ATTEMPT + TICK, resend=False)

        assert taken is not None
        assert (taken.attempt_at, taken.sends, taken.status) == (LATER, 1, ReportRunStatus.SENDING)
        assert runs.get(DAY).attempt_at == LATER

    def test_a_released_run_is_taken_at_once(self, runs: ReportRunRepository) -> None:
        run, _ = runs.claim(a_run())
        runs.release(run)

        assert run.attempt_at is None
        assert runs.get(DAY).attempt_at is None
        assert runs.take_over(DAY, at=LATER, stale_before=ATTEMPT, resend=False) is not None

    def test_release_leaves_a_run_another_attempt_took_since(self, runs: ReportRunRepository) -> None:
        stale, _ = runs.claim(a_run())
        runs.take_over(DAY, at=LATER, stale_before=LATER, resend=False)

        runs.release(stale)

        assert runs.get(DAY).attempt_at == LATER

    def test_a_sent_run_is_taken_only_for_a_resend_which_is_a_new_send(self, runs: ReportRunRepository) -> None:
        run, _ = runs.claim(a_run())
        run.mark_sent(at=SENT_AT, recipients=("a@x.io",), html_key="r/h", csv_key="r/c")
        runs.save(run)

        assert runs.take_over(DAY, at=LATER, stale_before=LATER, resend=False) is None
        again = runs.take_over(DAY, at=LATER, stale_before=LATER, resend=True)

        assert again is not None
        assert (again.sends, again.status, again.sent_at, again.attempt_at) == (2, ReportRunStatus.SENDING, None, LATER)
        assert runs.take_over(DAY, at=LATER, stale_before=LATER, resend=True) is None  # held by the resend now

    def test_take_over_of_an_unknown_date_is_none(self, runs: ReportRunRepository) -> None:
        assert runs.take_over(DAY, at=LATER, stale_before=LATER, resend=True) is None

    def test_get_of_an_unknown_date_is_not_found(self, runs: ReportRunRepository) -> None:
        with pytest.raises(NotFound):
            runs.get(date(2030, 1, 1))

    def test_list_is_newest_date_first_and_paged(self, runs: ReportRunRepository) -> None:
        for offset in (3, 1, 2, 0):
            runs.claim(a_run(date(2030, 3, 1) + timedelta(days=offset)))

        page = runs.list(page=PageRequest(number=1, size=3))

        assert [r.day.day for r in page.items] == [4, 3, 2]
        assert page.total == 4
        assert [r.day.day for r in runs.list(page=PageRequest(number=2, size=3)).items] == [1]


class TestInMemorySearchLog(SearchLogContract):
    @pytest.fixture
    def log(self) -> SearchLog:
        return InMemorySearchLog(MemoryDatabase())


class TestInMemoryReportRunRepository(ReportRunRepositoryContract):
    @pytest.fixture
    def runs(self) -> ReportRunRepository:
        return InMemoryReportRunRepository(MemoryDatabase())


@pytest.mark.django_db
class TestDjangoSearchLog(SearchLogContract):
    @pytest.fixture
    def log(self) -> SearchLog:
        return DjangoSearchLog()


@pytest.mark.django_db
class TestDjangoReportRunRepository(ReportRunRepositoryContract):
    @pytest.fixture
    def runs(self) -> ReportRunRepository:
        return DjangoReportRunRepository()


def _race(attempt: Callable[[], bool], *, threads: int = 4) -> list[bool]:
    """Run ``attempt`` in several threads at once (each with its own connection)."""
    from django.db import connection

    results: list[bool] = []
    barrier = threading.Barrier(threads)

    def run() -> None:
        try:
            barrier.wait()
            results.append(attempt())
        finally:
            connection.close()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sorted(results)


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_for_one_date_store_exactly_one_run() -> None:
    """Two beats (or workers) claiming at once: the database's unique key lets one win."""
    assert _race(lambda: DjangoReportRunRepository().claim(a_run())[1]) == [False, False, False, True]


@pytest.mark.django_db(transaction=True)
def test_concurrent_take_overs_of_a_stale_run_let_one_through() -> None:
    runs = DjangoReportRunRepository()
    runs.claim(a_run())

    def take() -> bool:
        return runs.take_over(DAY, at=LATER, stale_before=LATER, resend=False) is not None

    assert _race(take) == [False, False, False, True]
