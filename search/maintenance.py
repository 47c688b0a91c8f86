"""Rebuilding the search index from the expert repository, with no downtime where the index allows it.

An index that can rebuild itself out of sight (RebuildableIndex: Elasticsearch
loads a new index and swaps its alias onto it) is rebuilt that way, so no
search ever sees a half-built index. Any other index (SQLite, PostgreSQL,
in-memory) is reindexed in place by the expert_reindex_all use case. Either
way the cached search pages are dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from domain.ports import ExpertRepository, ResponseCache, SearchIndex, UnitOfWork
from domain.search import ExpertDocument
from services.experts import SEARCH_PAGES, expert_document, expert_reindex_all

# Called with how many more documents were indexed (tqdm's ``update`` fits).
Progress = Callable[[int], object]


@runtime_checkable
class RebuildableIndex(Protocol):
    """A SearchIndex that can replace its whole content in one atomic step."""

    def rebuild(self, documents: Iterable[ExpertDocument], *, progress: Progress | None = None) -> int:
        """Index ``documents`` out of sight, then make them the whole index at once; returns how many.

        Searches answer from the previous content until the switch; a failure
        leaves it in place. ``progress`` is told of every document indexed.
        Raises PortError.
        """
        ...


def search_rebuild(
    *,
    experts: ExpertRepository,
    search: SearchIndex,
    uow: UnitOfWork,
    response_cache: ResponseCache,
    progress: Progress | None = None,
) -> int:
    """Rebuild the search index from the published profiles; returns how many were indexed."""
    if not isinstance(search, RebuildableIndex):
        indexed = expert_reindex_all(experts=experts, search=search, uow=uow, response_cache=response_cache)
        if progress is not None:
            progress(indexed)
        return indexed
    indexed = search.rebuild((expert_document(p) for p in experts.iter_published()), progress=progress)
    response_cache.invalidate(SEARCH_PAGES)  # pages cached from the old index may differ
    return indexed
