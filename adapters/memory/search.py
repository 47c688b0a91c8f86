"""An in-memory search index: a real (simple) engine over the shared analyser, for tests and demos."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from domain.ids import ExpertId
from domain.search import FACET_LIMIT, ExpertDocument, SearchQuery, SearchResult, SearchSort, SkillFacet
from search.text import AnalysedDocument, analyse_document, query_terms

SortKey = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    document: ExpertDocument
    analysed: AnalysedDocument


@dataclass(frozen=True, slots=True)
class _Hit:
    document: ExpertDocument
    score: float


class InMemorySearchIndex:
    """Implements SearchIndex (and ReconcilableIndex) with dicts; every search scans every document.

    Reconcilable like an external index: the unit tests use it as the stand-in for
    Elasticsearch behind after-commit sync tasks.
    """

    def __init__(self) -> None:
        self._entries: dict[ExpertId, _Entry] = {}
        self._lock = threading.Lock()

    def upsert(self, document: ExpertDocument) -> None:
        """Add the document, or replace the one with the same expert id."""
        self.upsert_many([document])

    def upsert_many(self, documents: Iterable[ExpertDocument]) -> int:
        """Upsert every document; returns how many experts were indexed."""
        entries = {d.expert_id: _Entry(d, analyse_document(d)) for d in documents}
        with self._lock:
            self._entries.update(entries)
        return len(entries)

    def remove(self, expert_id: ExpertId) -> None:
        """Drop the expert; no error if absent."""
        with self._lock:
            self._entries.pop(expert_id, None)

    def clear(self) -> None:
        """Drop every document."""
        with self._lock:
            self._entries.clear()

    def document_versions(self) -> dict[ExpertId, str]:
        """Every held document's version, by expert id."""
        with self._lock:
            return {expert_id: entry.document.version for expert_id, entry in self._entries.items()}

    def ping(self) -> None:
        """Always ready: the index is this process's memory."""

    def search(self, query: SearchQuery) -> SearchResult:
        """Match, filter, sort, page and facet, as the SearchIndex port describes."""
        terms = query_terms(query.text)
        with self._lock:
            entries = list(self._entries.values())
        hits = [hit for entry in entries if (hit := _hit(entry, query, terms)) is not None]
        hits.sort(key=_sort_key(query.sort))
        start = query.page.offset
        page = hits[start : start + query.page.size]
        return SearchResult(
            expert_ids=tuple(h.document.expert_id for h in page),
            total=len(hits),
            facets=_facets(h.document for h in hits),
        )


def _hit(entry: _Entry, query: SearchQuery, terms: Sequence[str]) -> _Hit | None:
    if not _passes_filters(entry.document, query):
        return None
    score = _score(entry.analysed, terms)
    return None if score is None else _Hit(entry.document, score)


def _passes_filters(document: ExpertDocument, query: SearchQuery) -> bool:
    rating = document.rating_average
    return (
        set(query.skills) <= set(document.skills)
        and (not query.languages or bool(set(query.languages) & set(document.languages)))
        and (query.currency is None or document.currency == query.currency)
        and (query.min_rate is None or document.rate_amount >= query.min_rate)
        and (query.max_rate is None or document.rate_amount <= query.max_rate)
        and (query.min_rating is None or (rating is not None and rating >= query.min_rating))
    )


def _score(analysed: AnalysedDocument, terms: Sequence[str]) -> float | None:
    """Sum of the terms' scores; None if some term matches nowhere."""
    total = 0.0
    for position, term in enumerate(terms):
        term_score = _term_score(analysed, term, prefix=position == len(terms) - 1)
        if not term_score:
            return None
        total += term_score
    return total


def _term_score(analysed: AnalysedDocument, term: str, *, prefix: bool) -> float:
    """Field weight times matching words, summed over the fields."""
    matches = str.startswith if prefix else str.__eq__
    fields = analysed.weighted_fields()
    return sum(weight * sum(bool(matches(word, term)) for word in words) for words, weight in fields)


def _tiebreak(document: ExpertDocument) -> SortKey:
    """Best rated first (unrated last), then most rated, then expert id: a total, stable order."""
    rating = document.rating_average
    return (rating is None, -(rating or 0.0), -document.rating_count, str(document.expert_id))


_SORT_KEYS: dict[SearchSort, Callable[[_Hit], SortKey]] = {
    SearchSort.RELEVANCE: lambda h: (-h.score, *_tiebreak(h.document)),
    SearchSort.RATING: lambda h: _tiebreak(h.document),
    SearchSort.RATE_ASC: lambda h: (h.document.rate_amount, *_tiebreak(h.document)),
    SearchSort.RATE_DESC: lambda h: (-h.document.rate_amount, *_tiebreak(h.document)),
}


def _sort_key(sort: SearchSort) -> Callable[[_Hit], SortKey]:
    return _SORT_KEYS[sort]


def _facets(documents: Iterable[ExpertDocument]) -> tuple[SkillFacet, ...]:
    counts = Counter(skill for d in documents for skill in set(d.skills))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(SkillFacet(skill=skill, count=count) for skill, count in ranked[:FACET_LIMIT])
