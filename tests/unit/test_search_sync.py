"""Keeping an external search index in sync: after-commit tasks, the sync use case, the reconcile.

The in-memory index stands in for Elasticsearch (it is a ReconcilableIndex too);
messages go through a real Celery app on kombu's in-memory broker, so what is
checked is what a worker would receive.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID, uuid4

import pytest
from celery import Celery

from adapters.celery.search import SYNC_TASK, CelerySearchSync
from adapters.local.search import SqliteSearchIndex
from adapters.memory.search import InMemorySearchIndex
from adapters.memory.store import MemoryDatabase, MemoryUnitOfWork
from adapters.orm.search import PostgresSearchIndex
from domain.errors import PortError
from domain.experts import ExpertProfile
from domain.ids import ExpertId, new_id
from domain.ports import ReconcilableIndex, UnitOfWork
from domain.search import SearchQuery
from services.experts import (
    SEARCH_PAGES,
    IndexSyncResult,
    ReconcileReport,
    expert_document,
    search_reconcile,
)
from tests.contract.test_search_index import doc
from tests.harness.servers import LOOPBACK, free_port
from tests.unit.conftest import World


class Broker:
    """A Celery app on kombu's in-memory transport, with a queue of its own per test."""

    def __init__(self) -> None:
        self.app = Celery("search-sync-tests", broker="memory://", set_as_current=False)
        self.queue = f"search-sync-{new_id().hex}"
        self.app.conf.update(task_default_queue=self.queue, task_serializer="json", accept_content=["json"])

    def messages(self) -> list[tuple[str, dict[str, Any]]]:
        """(task name, kwargs) of every message enqueued so far, taken off the queue."""
        taken = []
        with self.app.connection_for_read() as connection:
            queue = connection.SimpleQueue(self.queue)
            try:
                while True:
                    message = queue.get(block=False)
                    args, kwargs, _ = message.payload
                    assert args == []
                    assert message.content_type == "application/json"
                    taken.append((message.headers["task"], kwargs))
                    message.ack()
            except queue.Empty:
                return taken
            finally:
                queue.close()

    def synced_ids(self) -> list[ExpertId]:
        messages = self.messages()
        assert {name for name, _ in messages} <= {SYNC_TASK}
        return [ExpertId(UUID(value)) for _, kwargs in messages for value in kwargs["expert_ids"]]


class _Rollback(Exception):
    pass


def rolled_back(uow: UnitOfWork, *writes: Callable[[], object]) -> None:
    """Run the writes in a transaction that then rolls back."""
    with contextlib.suppress(_Rollback), uow.atomic():
        for write in writes:
            write()
        raise _Rollback


@pytest.fixture
def broker() -> Broker:
    return Broker()


@pytest.fixture
def uow() -> MemoryUnitOfWork:
    return MemoryUnitOfWork(MemoryDatabase())


@pytest.fixture
def real_index() -> InMemorySearchIndex:
    return InMemorySearchIndex()


@pytest.fixture
def sync(real_index: InMemorySearchIndex, uow: MemoryUnitOfWork, broker: Broker) -> CelerySearchSync:
    return CelerySearchSync(real_index, uow, app=broker.app)


# --- CelerySearchSync: writes become tasks after the commit ------------------------------------------


def test_writes_in_a_transaction_that_rolls_back_enqueue_nothing(
    sync: CelerySearchSync, uow: MemoryUnitOfWork, broker: Broker, real_index: InMemorySearchIndex
) -> None:
    rolled_back(
        uow,
        lambda: sync.upsert(doc()),
        lambda: sync.upsert_many([doc(), doc()]),
        lambda: sync.remove(ExpertId(new_id())),
    )

    assert broker.messages() == []
    assert real_index.document_versions() == {}


def test_a_commit_enqueues_one_task_per_expert_with_its_id_only(
    sync: CelerySearchSync, uow: MemoryUnitOfWork, broker: Broker
) -> None:
    first, second, third = doc(), doc(), doc()
    with uow.atomic():
        sync.upsert(first)
        sync.upsert(replace(first, headline="Edited twice"))
        assert sync.upsert_many([second, first, second]) == 3
        sync.remove(third.expert_id)
        assert broker.messages() == []  # nothing leaves before the commit

    assert broker.messages() == [
        (SYNC_TASK, {"expert_ids": [str(first.expert_id)]}),
        (SYNC_TASK, {"expert_ids": [str(second.expert_id)]}),
        (SYNC_TASK, {"expert_ids": [str(third.expert_id)]}),
    ]


def test_nothing_is_written_to_the_real_index_by_the_request(
    sync: CelerySearchSync, uow: MemoryUnitOfWork, real_index: InMemorySearchIndex
) -> None:
    real_index.upsert(kept := doc(headline="Kept"))
    with uow.atomic():
        sync.upsert(doc(headline="New"))
        sync.remove(kept.expert_id)

    assert real_index.document_versions() == {kept.expert_id: kept.version}


def test_a_savepoint_that_rolls_back_drops_only_its_writes(
    sync: CelerySearchSync, uow: MemoryUnitOfWork, broker: Broker
) -> None:
    kept, dropped = doc(), doc()
    with uow.atomic():
        sync.upsert(kept)
        rolled_back(uow, lambda: sync.upsert(dropped))

    assert broker.synced_ids() == [kept.expert_id]


def test_every_transaction_enqueues_its_own_writes(
    sync: CelerySearchSync, uow: MemoryUnitOfWork, broker: Broker
) -> None:
    document = doc()
    for _ in range(2):
        with uow.atomic():
            sync.upsert(document)
    rolled_back(uow, lambda: sync.upsert(document))
    with uow.atomic():
        sync.remove(document.expert_id)

    assert broker.synced_ids() == [document.expert_id] * 3


def test_a_write_outside_a_transaction_is_enqueued_at_once(sync: CelerySearchSync, broker: Broker) -> None:
    document = doc()

    sync.upsert(document)
    sync.upsert(document)

    assert broker.synced_ids() == [document.expert_id] * 2


def test_searches_go_to_the_real_index(sync: CelerySearchSync, real_index: InMemorySearchIndex) -> None:
    real_index.upsert(document := doc(headline="Python mentor"))

    assert sync.search(SearchQuery(text="python")).expert_ids == (document.expert_id,)


def test_clear_empties_the_real_index_after_the_commit_only(
    sync: CelerySearchSync, uow: MemoryUnitOfWork, real_index: InMemorySearchIndex
) -> None:
    real_index.upsert(doc())
    rolled_back(uow, sync.clear)
    assert len(real_index.document_versions()) == 1

    with uow.atomic():
        sync.clear()
        assert len(real_index.document_versions()) == 1

    assert real_index.document_versions() == {}


def test_a_broker_refusing_the_message_is_logged_and_the_commit_stands(
    real_index: InMemorySearchIndex, uow: MemoryUnitOfWork, caplog: pytest.LogCaptureFixture
) -> None:
    down = Celery("down", broker=f"redis://{LOOPBACK}:{free_port()}/0", set_as_current=False)  # nothing listens
    sync = CelerySearchSync(real_index, uow, app=down)
    with caplog.at_level(logging.ERROR), uow.atomic():
        sync.upsert(doc())

    assert "Could not send api.tasks.search_sync" in caplog.text  # the reconcile repairs the document later


# --- expert_index_sync: the task's use case ----------------------------------------------------------


def sync_ids(world: World, *expert_ids: ExpertId) -> IndexSyncResult:
    return world.expert_index_sync(expert_ids=list(expert_ids))


def indexed(world: World) -> dict[ExpertId, str]:
    return world.search.document_versions()  # type: ignore[no-any-return]


@pytest.fixture
def experts(world: World) -> tuple[ExpertProfile, ExpertProfile]:
    """A published and a suspended expert, with the index emptied behind them."""
    published = world.published_expert(headline="Python mentor")
    suspended = world.published_expert(headline="Rust mentor")
    world.expert_suspend(actor=world.staff().id, expert_id=suspended.id)
    world.search.clear()
    return published, world.experts.get(suspended.id)


def test_sync_indexes_a_published_profile_and_removes_the_others(
    world: World, experts: tuple[ExpertProfile, ExpertProfile]
) -> None:
    published, suspended = experts
    world.search.upsert(expert_document(suspended))
    gone = ExpertId(new_id())
    world.search.upsert(doc(expert_id=gone))

    result = sync_ids(world, published.id, suspended.id, gone)

    assert result == IndexSyncResult(upserted=1, removed=2)
    assert indexed(world) == {published.id: expert_document(published).version}


def test_sync_is_idempotent(world: World, experts: tuple[ExpertProfile, ExpertProfile]) -> None:
    published, suspended = experts

    sync_ids(world, published.id, suspended.id)
    once = indexed(world)
    sync_ids(world, published.id, suspended.id, published.id)

    assert indexed(world) == once == {published.id: expert_document(published).version}


def test_sync_writes_the_profile_as_it_is_when_it_runs(
    world: World, experts: tuple[ExpertProfile, ExpertProfile]
) -> None:
    published, _ = experts
    world.expert_update(actor=published.owner_id, expert_id=published.id, headline="Go mentor")

    sync_ids(world, published.id)  # a task enqueued before the edit runs late

    assert world.search.search(SearchQuery(text="go")).expert_ids == (published.id,)
    assert indexed(world) == {published.id: expert_document(world.experts.get(published.id)).version}


def test_sync_drops_the_cached_search_pages_once_the_index_changed(
    world: World, experts: tuple[ExpertProfile, ExpertProfile]
) -> None:
    published, _ = experts
    world.response_cache.set(SEARCH_PAGES, "q=python", {"count": 0})

    sync_ids(world)
    assert world.response_cache.get(SEARCH_PAGES, "q=python") == {"count": 0}  # nothing changed
    sync_ids(world, published.id)

    assert world.response_cache.get(SEARCH_PAGES, "q=python") is None


def test_sync_reads_profiles_in_batches(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    import services.experts

    monkeypatch.setattr(services.experts, "SYNC_BATCH_SIZE", 2)
    profiles = [world.published_expert(headline=f"Mentor {n}") for n in range(5)]
    world.search.clear()

    result = sync_ids(world, *(p.id for p in profiles))

    assert result == IndexSyncResult(upserted=5, removed=0)
    assert set(indexed(world)) == {p.id for p in profiles}


def test_a_sync_that_fails_raises_for_the_task_to_retry(
    world: World, experts: tuple[ExpertProfile, ExpertProfile]
) -> None:
    published, _ = experts

    with world.container.search.override(DownIndex()), pytest.raises(PortError):
        sync_ids(world, published.id)


class DownIndex(InMemorySearchIndex):
    def upsert_many(self, documents: Any) -> int:
        raise PortError("The search index is unavailable.")

    def remove(self, expert_id: ExpertId) -> None:
        raise PortError("The search index is unavailable.")


# --- search_reconcile ----------------------------------------------------------------------------------


def test_reconcile_repairs_drift_both_ways(world: World) -> None:
    in_sync = world.published_expert(headline="In sync")
    missing = world.published_expert(headline="Missing")
    stale = world.published_expert(headline="Stale")
    suspended = world.published_expert(headline="Suspended")
    world.expert_suspend(actor=world.staff().id, expert_id=suspended.id)
    # Drift, as lost tasks and an outage would leave it:
    world.search.remove(missing.id)
    world.search.upsert(replace(expert_document(stale), headline="Old headline"))
    world.search.upsert(expert_document(world.experts.get(suspended.id)))
    deleted = ExpertId(uuid4())
    world.search.upsert(doc(expert_id=deleted))

    report = world.search_reconcile()

    assert report == ReconcileReport(
        published=3,
        indexed=4,
        missing=1,
        stale=1,
        orphaned=2,
        repaired=IndexSyncResult(upserted=2, removed=2),
    )
    assert indexed(world) == {p.id: expert_document(p).version for p in (in_sync, missing, stale)}
    assert world.search.search(SearchQuery(text="old")).total == 0


def test_a_reconcile_of_an_index_in_sync_changes_nothing(world: World) -> None:
    world.published_expert()
    world.published_expert()
    world.response_cache.set(SEARCH_PAGES, "q=", {"count": 2})

    report = world.search_reconcile()

    assert (report.published, report.indexed, report.drift) == (2, 2, 0)
    assert report.repaired == IndexSyncResult()
    assert world.response_cache.get(SEARCH_PAGES, "q=") == {"count": 2}


def test_a_new_rating_makes_the_document_stale(world: World) -> None:
    expert = world.published_expert()
    before = expert_document(expert).version
    expert.record_rating(5)  # what review_create does; updated_at does not move

    assert expert_document(expert).version != before


@pytest.mark.parametrize("index_class", [SqliteSearchIndex, PostgresSearchIndex])
def test_reconcile_leaves_a_database_backed_index_alone_and_says_why(world: World, index_class: type[Any]) -> None:
    index = index_class()  # never queried: nothing in the database is touched
    assert not isinstance(index, ReconcilableIndex)

    report = search_reconcile(experts=world.experts, search=index, response_cache=world.response_cache)

    assert report.drift == 0
    assert index_class.__name__ in report.skipped
    assert "cannot drift" in report.skipped


def test_the_in_memory_index_stands_in_for_an_external_one() -> None:
    assert isinstance(InMemorySearchIndex(), ReconcilableIndex)
