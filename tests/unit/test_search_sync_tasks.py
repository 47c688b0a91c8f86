"""The search_sync and search_reconcile tasks, and the after-commit path end to end through Celery.

The in-memory index stands in for Elasticsearch (SEARCH_SYNC=task). The tasks
run eagerly in this process, or in a real embedded worker consuming kombu's
in-memory broker: the message crosses a broker as JSON, as in production.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from celery.exceptions import Retry
from django.core.management import CommandError, call_command

from adapters.celery.search import CelerySearchSync
from adapters.local.search import SqliteSearchIndex
from adapters.memory.search import InMemorySearchIndex
from api.tasks import MAX_RETRIES, RETRY_BACKOFF_MAX, search_reconcile, search_sync
from domain.errors import PortError
from domain.experts import ExpertProfile
from domain.ids import ExpertId
from domain.search import ExpertDocument, SearchQuery
from project.celery import app
from project.container import container
from services.experts import expert_document
from tests.unit.conftest import MEMORY_CONFIG, World
from tests.unit.test_search_sync import rolled_back


class FlakyIndex(InMemorySearchIndex):
    """Fails the first ``failures`` writes with PortError, as a cluster that comes back."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def upsert_many(self, documents: Any) -> int:
        if self.failures:
            self.failures -= 1
            raise PortError("The search index is unavailable.")
        return super().upsert_many(documents)


@pytest.fixture
def task_world() -> World:
    """The memory world with SEARCH_SYNC=task: profile writes go through CelerySearchSync."""
    from adapters.memory.store import FixedClock
    from project.container import Container

    task_container = Container()
    task_container.config.from_dict({**MEMORY_CONFIG, "search_sync": "task"})
    task_container.clock.override(FixedClock())
    return World(task_container)


@pytest.fixture
def wired(task_world: World) -> Iterator[World]:
    """The project's container, as the tasks see it, bound to the world's fakes."""
    with (
        container.expert_index_sync.override(task_world.container.expert_index_sync),
        container.search_reconcile.override(task_world.container.search_reconcile),
    ):
        yield task_world


@pytest.fixture
def eager() -> Iterator[None]:
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


def versions(world: World) -> dict[ExpertId, str]:
    return world.search.document_versions()  # type: ignore[no-any-return]


def document_of(world: World, profile: ExpertProfile) -> ExpertDocument:
    return expert_document(world.experts.get(profile.id))


# --- the container picks the writer --------------------------------------------------------------------


def test_with_task_sync_profile_writes_go_through_the_celery_wrapper(task_world: World, world: World) -> None:
    writer = task_world.container.search_writer()
    task_world.search.upsert(document := expert_document(task_world.published_expert()))

    assert isinstance(writer, CelerySearchSync)
    assert writer.search(SearchQuery()).expert_ids == (document.expert_id,)  # reads hit the index
    assert world.container.search_writer() is world.search  # inline: the index itself


# --- search_sync ------------------------------------------------------------------------------------------


def test_the_task_indexes_the_profile_as_it_is_and_is_idempotent(wired: World) -> None:
    expert = wired.published_expert()  # with no worker, the index has not seen it
    assert versions(wired) == {}

    for _ in range(2):
        result = search_sync.apply(kwargs={"expert_ids": [str(expert.id)]})
        assert result.successful()

    assert versions(wired) == {expert.id: document_of(wired, expert).version}


def test_the_task_removes_a_profile_no_longer_published(wired: World) -> None:
    expert = wired.published_expert()
    wired.search.upsert(document_of(wired, expert))
    wired.expert_suspend(actor=wired.staff().id, expert_id=expert.id)

    result = search_sync.apply(kwargs={"expert_ids": [str(expert.id)]})

    assert result.result == {"upserted": 0, "removed": 1}
    assert versions(wired) == {}


def test_a_transient_index_failure_is_retried_until_it_is_written(wired: World) -> None:
    expert = wired.published_expert()
    index = FlakyIndex(failures=2)

    with wired.container.search.override(index):
        result = search_sync.apply(kwargs={"expert_ids": [str(expert.id)]})

    assert result.successful()
    assert index.failures == 0
    assert set(index.document_versions()) == {expert.id}


def test_a_port_error_schedules_a_retry_with_exponential_backoff(wired: World) -> None:
    expert = wired.published_expert()
    retries = 4
    search_sync.push_request(id="attempt-5", retries=retries, is_eager=True, called_directly=False)
    try:
        with wired.container.search.override(FlakyIndex(failures=1)), pytest.raises(Retry) as raised:
            search_sync.run(expert_ids=[str(expert.id)])
    finally:
        search_sync.pop_request()

    assert isinstance(raised.value.exc, PortError)
    assert 0 <= int(raised.value.when) <= min(2**retries, RETRY_BACKOFF_MAX)
    assert search_sync.max_retries == MAX_RETRIES


# --- after the commit, end to end -------------------------------------------------------------------------


def test_a_committed_change_reaches_the_index_through_the_task(wired: World, eager: None) -> None:
    expert = wired.published_expert(headline="Python mentor")
    assert versions(wired) == {expert.id: document_of(wired, expert).version}

    wired.expert_update(actor=expert.owner_id, expert_id=expert.id, headline="Go mentor")
    assert versions(wired) == {expert.id: document_of(wired, expert).version}

    wired.expert_suspend(actor=wired.staff().id, expert_id=expert.id)
    assert versions(wired) == {}


def test_a_change_that_rolls_back_never_reaches_the_index(wired: World, eager: None) -> None:
    expert = wired.published_expert(headline="Python mentor")
    before = versions(wired)

    rolled_back(wired.uow, lambda: wired.expert_update(actor=expert.owner_id, expert_id=expert.id, headline="Go"))

    assert versions(wired) == before


@pytest.fixture
def worker_app() -> Iterator[Celery]:
    """A real worker in a thread, consuming kombu's in-memory broker, with the project's tasks."""
    worker_app = Celery("search-sync-worker", broker="memory://", set_as_current=False)
    worker_app.conf.update(task_serializer="json", accept_content=["json"], task_ignore_result=True)
    worker_app.conf.broker_transport_options = {"polling_interval": 0.01}  # the default polls every second
    worker_app.conf.worker_hijack_root_logger = False  # leave the test run's logging alone
    worker_app.finalize()
    assert search_sync.name in worker_app.tasks  # a shared task: bound to every app
    try:
        with start_worker(worker_app, perform_ping_check=False, loglevel="WARNING"):
            yield worker_app
    finally:
        # start_worker makes its app the process's current and default one: give them back.
        app.set_current()
        app.set_default()


def wait_for(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_worker_consumes_the_json_message_and_writes_the_index(wired: World, worker_app: Celery) -> None:
    sync = CelerySearchSync(wired.search, wired.uow, app=worker_app)
    with wired.container.search_writer.override(sync):
        expert = wired.published_expert(headline="Python mentor")
        assert wait_for(lambda: expert.id in versions(wired))
        wired.expert_suspend(actor=wired.staff().id, expert_id=expert.id)
        assert wait_for(lambda: expert.id not in versions(wired))


# --- search_reconcile ---------------------------------------------------------------------------------------


def test_the_reconcile_task_repairs_the_drift(wired: World) -> None:
    expert = wired.published_expert()  # its sync task never ran: the index lacks it

    result = search_reconcile.apply()

    assert result.result == {"drift": 1, "upserted": 1, "removed": 0}
    assert set(versions(wired)) == {expert.id}


def test_the_reconcile_task_runs_hourly_from_the_beat() -> None:
    entry = app.conf.beat_schedule["search-reconcile"]  # what `celery -A project beat` reads

    assert entry["task"] == search_reconcile.name == "api.tasks.search_reconcile"
    assert entry["schedule"].total_seconds() == 3600
    assert entry["options"] == {"expires": 3600}  # a backlog never piles reconciles up


def test_the_command_reports_what_it_repaired(wired: World) -> None:
    wired.published_expert()
    out = StringIO()

    call_command("search_reconcile", stdout=out)

    assert "1 published, 0 indexed; drift: 1 missing, 0 stale, 0 orphaned; repaired: 1 upserted" in out.getvalue()


def test_the_command_says_why_a_database_index_needs_no_reconcile(wired: World) -> None:
    out = StringIO()

    with wired.container.search.override(SqliteSearchIndex()):
        call_command("search_reconcile", stdout=out)

    assert "nothing to do: SqliteSearchIndex commits and rolls back with the profiles" in out.getvalue()


def test_the_command_fails_loudly_when_the_index_is_down(wired: World) -> None:
    wired.published_expert()

    with wired.container.search.override(FlakyIndex(failures=1)), pytest.raises(CommandError, match="reconcile failed"):
        call_command("search_reconcile", stdout=StringIO())
