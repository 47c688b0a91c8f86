"""The SearchIndex port on Elasticsearch: an alias in front of timestamped indexes.

Everything reads and writes the alias ``index`` (ELASTICSEARCH_INDEX). ``rebuild``
bulk-loads a new index ``<alias>-<UTC timestamp>`` and moves the alias onto it
in one atomic update_aliases call, so searches answer from the old index until
the new one is complete; the old one is then deleted. ``clear`` is a rebuild
with nothing: an empty index takes the alias over, whatever the size.

On first use the adapter checks the alias once and, if there is none, creates
``<alias>-initial`` behind it: a fixed name, so processes starting together
create it once; if there is one, it puts the fields added to the definition
since (search.experts.ADDED_FIELDS: the document ``version``) onto it, which
Elasticsearch allows in place. Writes carry ``require_alias``: a write can never auto-create
a concrete index with a guessed mapping under the alias's name.

Visibility: Elasticsearch shows a write to searches at its next refresh (every
second by default). ``refresh`` says what a write waits for. "wait_for" (the
default) returns once the write is searchable: the port's read-after-write
promise (the contract suite checks it), and what the response cache needs,
since it drops cached search pages when the transaction commits and a search
answered from a not-yet-refreshed index would be cached stale. The price: a
profile write takes up to a refresh interval longer (in the sync task with
SEARCH_SYNC=task, the default for this backend; inside the caller's transaction
with inline sync).

``document_versions`` (ReconcilableIndex) pages through a point in time sorted by
``_shard_doc``, fetching only ``_id`` and the ``version`` doc value. False returns at once
(searchable within a second: for jobs that accept that); True forces a
refresh per write (tiny segments under load: tools and experiments only).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from elasticsearch import ApiError, BadRequestError, Elasticsearch, TransportError, helpers
from elasticsearch.dsl.response import Response

from adapters.clock import SystemClock
from domain.errors import PortError
from domain.ids import ExpertId
from domain.ports import Clock, Progress
from domain.search import ExpertDocument, SearchQuery, SearchResult, SkillFacet
from search.experts import (
    SKILL_FACETS,
    VERSION_FIELD,
    expert_added_fields,
    expert_index,
    expert_index_document,
    expert_search,
)

logger = logging.getLogger(__name__)

Refresh = bool | Literal["wait_for"]

# Documents per bulk request: ~1 MB, well inside http.max_content_length.
BULK_CHUNK_SIZE = 500
# Index creation, bulk chunks, alias swaps: maintenance may take longer than a search.
MAINTENANCE_TIMEOUT_SECONDS = 120.0
# Bulk documents the cluster pushes back (429: queue full) are retried this often, with backoff.
BULK_RETRIES = 3
FIRST_INDEX_SUFFIX = "initial"
# Reconcile reads (id, version) pairs this many per page, from a point in time kept this long between pages.
VERSIONS_PAGE_SIZE = 5_000
POINT_IN_TIME_KEEP_ALIVE = "2m"


class ElasticsearchSearchIndex:
    """Implements SearchIndex (and RebuildableIndex, ReconcilableIndex) on an Elasticsearch alias."""

    def __init__(
        self,
        client: Elasticsearch,
        index: str,
        *,
        refresh: Refresh = "wait_for",
        chunk_size: int = BULK_CHUNK_SIZE,
        maintenance_timeout: float = MAINTENANCE_TIMEOUT_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        self._client = client
        self._maintenance = client.options(request_timeout=maintenance_timeout)
        self._alias = index
        self._refresh = refresh or None  # None: the parameter is left out
        self._chunk_size = chunk_size
        self._clock = clock or SystemClock()
        self._alias_checked = False

    def upsert(self, document: ExpertDocument) -> None:
        """Add the document, or replace the one with the same expert id."""
        source = expert_index_document(document)
        with self._calling():
            self._ensure_alias()
            self._client.index(
                index=self._alias,
                id=source.meta.id,
                document=source.to_dict(),
                require_alias=True,
                refresh=self._refresh,
            )

    def upsert_many(self, documents: Iterable[ExpertDocument]) -> int:
        """Upsert through the bulk API, streamed in chunks; returns how many were indexed."""
        with self._calling():
            self._ensure_alias()
            return self._bulk(self._alias, documents, require_alias=True, refresh=self._refresh)

    def remove(self, expert_id: ExpertId) -> None:
        """Drop the expert; a 404 (not there) is no error."""
        with self._calling():
            self._ensure_alias()
            self._client.options(ignore_status=404).delete(index=self._alias, id=str(expert_id), refresh=self._refresh)

    def clear(self) -> None:
        """Drop every document: an empty index replaces the current one behind the alias."""
        self.rebuild(())

    def ping(self) -> None:
        """The cluster's health: PortError if it cannot be reached or is red (some primary shard
        unassigned: searches would miss documents). A missing alias is fine: first use creates it."""
        with self._calling():
            health = self._client.cluster.health()
        if health["status"] == "red":
            logger.warning("Elasticsearch cluster health is red.")
            raise PortError("The search index is unavailable.")

    def search(self, query: SearchQuery) -> SearchResult:
        """One request: the page of ids, the exact total and the skill facets."""
        with self._calling():
            self._ensure_alias()
            response = expert_search(query).using(self._client).index(self._alias).execute()
        return _result(response)

    def document_versions(self) -> dict[ExpertId, str]:
        """Every document's id and stored version ("" if written without one), from one point in time."""
        versions: dict[ExpertId, str] = {}
        after: list[Any] | None = None
        with self._calling():
            self._ensure_alias()
            pit = self._maintenance.open_point_in_time(index=self._alias, keep_alive=POINT_IN_TIME_KEEP_ALIVE)["id"]
            try:
                while True:
                    response = self._versions_page(pit, after)
                    pit = response.get("pit_id", pit)  # the id may change from one page to the next
                    hits = response["hits"]["hits"]
                    versions.update(map(_id_and_version, hits))
                    if len(hits) < VERSIONS_PAGE_SIZE:
                        return versions
                    after = hits[-1]["sort"]
            finally:
                self._close_quietly(pit)

    def _versions_page(self, pit: str, after: list[Any] | None) -> Any:
        return self._maintenance.search(
            pit={"id": pit, "keep_alive": POINT_IN_TIME_KEEP_ALIVE},
            sort=[{"_shard_doc": "asc"}],  # the cheapest total order, for paging only
            search_after=after,
            size=VERSIONS_PAGE_SIZE,
            source=False,
            docvalue_fields=[VERSION_FIELD],
            track_total_hits=False,
        )

    def _close_quietly(self, pit: str) -> None:
        # The versions are read by then: a point in time left open only expires on its own.
        try:
            self._maintenance.close_point_in_time(id=pit)
        except (ApiError, TransportError) as e:
            logger.warning(
                "Could not close an Elasticsearch point in time (it expires in %s): %s", POINT_IN_TIME_KEEP_ALIVE, e
            )

    def rebuild(self, documents: Iterable[ExpertDocument], *, progress: Progress | None = None) -> int:
        """Load ``documents`` into a new index, then swap the alias onto it atomically; returns how many.

        Searches (and writes) keep using the old index until the swap. A failure
        before the swap deletes the new index and leaves the alias as it was.
        Writes made to the old index during the rebuild are not carried over.
        """
        name = f"{self._alias}-{self._clock.now():%Y%m%d%H%M%S%f}"
        with self._calling():
            # No refreshes while loading: one at the end makes the whole index searchable at once.
            expert_index(name, refresh_interval="-1").create(using=self._maintenance)
            try:
                indexed = self._bulk(name, documents, progress=progress)
                self._maintenance.indices.put_settings(index=name, settings={"index": {"refresh_interval": None}})
                self._maintenance.indices.refresh(index=name)
                replaced = self._move_alias_to(name)
            except BaseException:
                self._delete_quietly([name])
                raise
        self._alias_checked = True
        self._delete_quietly(replaced)
        return indexed

    def _bulk(
        self, index: str, documents: Iterable[ExpertDocument], *, progress: Progress | None = None, **params: Any
    ) -> int:
        actions = ({"_id": d.meta.id, "_source": d.to_dict()} for d in map(expert_index_document, documents))
        indexed = 0
        for _ok, _item in helpers.streaming_bulk(
            self._maintenance, actions, index=index, chunk_size=self._chunk_size, max_retries=BULK_RETRIES, **params
        ):
            indexed += 1  # a failed document raises BulkIndexError instead
            if progress is not None:
                progress(1)
        return indexed

    def _ensure_alias(self) -> None:
        """Create the first index behind the alias if there is none, else add the added fields (once per process)."""
        if self._alias_checked:
            return
        if self._client.indices.exists_alias(name=self._alias):
            # Idempotent; a changed (not added) field would fail here, and needs a rebuild.
            self._client.indices.put_mapping(index=self._alias, properties=expert_added_fields())
        else:
            self._create_first_index()
        self._alias_checked = True

    def _create_first_index(self) -> None:
        index = expert_index(f"{self._alias}-{FIRST_INDEX_SUFFIX}")
        index.aliases(**{self._alias: {}})
        try:
            index.create(using=self._maintenance)
        except BadRequestError as e:
            if e.message != "resource_already_exists_exception":
                raise  # another process created it first: fine; anything else is not

    def _move_alias_to(self, name: str) -> list[str]:
        """Point the alias at ``name`` alone, in one atomic step; returns the indexes it left."""
        current = self._aliased_indexes()
        # must_exist: if a concurrent rebuild moved the alias first, this swap fails whole.
        actions: list[dict[str, Any]] = [
            {"remove": {"index": old, "alias": self._alias, "must_exist": True}} for old in current
        ]
        if not current and self._maintenance.indices.exists(index=self._alias):
            # A concrete index squats on the alias's name (made before the alias scheme):
            # deleted in the same atomic step, so searches never find nothing there.
            actions.append({"remove_index": {"index": self._alias}})
        actions.append({"add": {"index": name, "alias": self._alias}})
        self._maintenance.indices.update_aliases(actions=actions)
        return current

    def _aliased_indexes(self) -> list[str]:
        response = self._maintenance.options(ignore_status=404).indices.get_alias(name=self._alias)
        return [] if response.meta.status == 404 else sorted(response.body)

    def _delete_quietly(self, names: Sequence[str]) -> None:
        # Clean-up after the outcome is decided: a failure here must not undo it, only be told.
        if not names:
            return
        try:
            self._maintenance.options(ignore_status=404).indices.delete(index=",".join(names))
        except (ApiError, TransportError) as e:
            logger.warning("Could not delete Elasticsearch index(es) %s (delete by hand): %s", ", ".join(names), e)

    @contextmanager
    def _calling(self) -> Iterator[None]:
        try:
            yield
        except (ApiError, TransportError, helpers.BulkIndexError) as e:
            if isinstance(e, ApiError) and e.meta.status == 404:
                self._alias_checked = False  # the alias is gone: look again next time
            # API clients get the port's plain message; operators get the cluster's reason here.
            logger.warning("Elasticsearch request failed: %s", _describe(e))
            raise PortError("The search index is unavailable.") from e


def _result(response: Response[Any]) -> SearchResult:
    body = response.to_dict()
    hits = body["hits"]
    return SearchResult(
        expert_ids=tuple(ExpertId(uuid.UUID(hit["_id"])) for hit in hits["hits"]),
        total=hits["total"]["value"],
        facets=tuple(
            SkillFacet(skill=b["key"], count=b["doc_count"]) for b in body["aggregations"][SKILL_FACETS]["buckets"]
        ),
    )


def _id_and_version(hit: dict[str, Any]) -> tuple[ExpertId, str]:
    return ExpertId(uuid.UUID(hit["_id"])), hit.get("fields", {}).get(VERSION_FIELD, [""])[0]


def _describe(error: Exception) -> str:
    if isinstance(error, helpers.BulkIndexError):
        return f"{error}; first: {error.errors[0] if error.errors else 'unknown'}"
    return str(error)
