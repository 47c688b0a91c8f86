"""SearchIndex for an index outside the database (Elasticsearch): writes become tasks after the commit.

The use cases write the index inside their transaction, which is right for the
database-backed indexes (their rows commit or roll back with the profile) and
wrong for an external one: a rollback would leave a document the database never
had, and an outage of the index would fail the user's write. Wrapped in
``CelerySearchSync`` (SEARCH_SYNC=task), a write only notes the expert's id; once
the transaction commits, each expert noted gets one ``api.tasks.search_sync``
message (by task name, the id as a string), whose task reads the profile as it
then is and writes the real index (services.experts.expert_index_sync). A
rolled-back transaction enqueues nothing. Searches go straight to the real index.

A broker that refuses the message after the commit, or does not answer within
``publish_timeout`` (adapters/celery/sending.py: a hung broker must not hold the
request), loses that sync: the failure is logged (the unit of work's on_commit
callbacks never fail a committed request) and the hourly reconcile task repairs the
document. (Events, unlike these, go through the transactional outbox.)
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar

from celery import Celery

from adapters.celery.sending import PUBLISH_TIMEOUT_SECONDS, send_task_bounded
from domain.ids import ExpertId
from domain.ports import SearchIndex, UnitOfWork
from domain.search import ExpertDocument, SearchQuery, SearchResult

SYNC_TASK = "api.tasks.search_sync"


class CelerySearchSync:
    """Implements SearchIndex over ``index``: reads delegate, writes enqueue ``api.tasks.search_sync``
    after the commit, one message per expert per transaction. ``app`` as for CeleryEventPublisher."""

    def __init__(
        self,
        index: SearchIndex,
        uow: UnitOfWork,
        app: Celery | None = None,
        *,
        publish_timeout: float = PUBLISH_TIMEOUT_SECONDS,
    ) -> None:
        self._index = index
        self._uow = uow
        self._app = app
        self._publish_timeout = publish_timeout
        # The experts enqueued since this context's last write outside a commit's callbacks:
        # per context (thread, greenlet), so concurrent requests never share it.
        self._enqueued: ContextVar[set[ExpertId] | None] = ContextVar(f"search-sync-{id(self)}", default=None)

    def upsert(self, document: ExpertDocument) -> None:
        """Index the expert after the commit (the task reads the profile then)."""
        self._after_commit([document.expert_id])

    def upsert_many(self, documents: Iterable[ExpertDocument]) -> int:
        """Index every expert after the commit; returns how many documents were handed over."""
        expert_ids = [document.expert_id for document in documents]
        self._after_commit(expert_ids)
        return len(expert_ids)

    def remove(self, expert_id: ExpertId) -> None:
        """Drop the expert after the commit, unless the profile is published again by then."""
        self._after_commit([expert_id])

    def clear(self) -> None:
        """Drop every document of the real index once the transaction commits (at once outside one)."""
        self._uow.on_commit(self._index.clear)

    def search(self, query: SearchQuery) -> SearchResult:
        """The real index's answer."""
        return self._index.search(query)

    def _after_commit(self, expert_ids: list[ExpertId]) -> None:
        # Each write registers its own callback: a savepoint or transaction that rolls
        # back drops exactly its callbacks, so only committed writes are enqueued.
        # Callbacks of one commit run one after the other, before this context writes
        # again: the first write since then starts a new set, so an expert written
        # many times in one transaction is enqueued once.
        if self._enqueued.get():
            self._enqueued.set(set())
        self._uow.on_commit(lambda: self._enqueue(expert_ids))

    def _enqueue(self, expert_ids: list[ExpertId]) -> None:
        enqueued = self._enqueued.get()
        if enqueued is None:
            enqueued = set()
            self._enqueued.set(enqueued)
        for expert_id in dict.fromkeys(expert_ids):
            if expert_id not in enqueued:
                self._send(expert_id)
                enqueued.add(expert_id)

    def _send(self, expert_id: ExpertId) -> None:
        send_task_bounded(SYNC_TASK, {"expert_ids": [str(expert_id)]}, app=self._app, timeout=self._publish_timeout)
