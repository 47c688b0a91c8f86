"""A search index in SQLite FTS5, inside the application's own database.

DB-backed: its tables (migration orm/0003_sqlite_search) live in Django's
default database and it writes through ``django.db.connection``, so an upsert
made inside a use case's transaction commits or rolls back with the profile
itself; it needs no sync after commit and no server.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import DatabaseError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

from adapters.search_sql import where_rate_and_rating
from domain.errors import PortError
from domain.ids import ExpertId
from domain.search import FACET_LIMIT, ExpertDocument, SearchQuery, SearchResult, SearchSort, SkillFacet
from search.batching import batched
from search.text import BIO_WEIGHT, HEADLINE_WEIGHT, SKILLS_WEIGHT, analyse_document, query_terms

# Bounds the memory a full reindex holds at once; each batch is three statements.
BATCH_SIZE = 500

_RANK = f"bm25(search_expert_fts, {HEADLINE_WEIGHT}, {SKILLS_WEIGHT}, {BIO_WEIGHT})"
_TIEBREAK = "e.rating_average DESC NULLS LAST, e.rating_count DESC, e.expert_id"
_ORDER_BY = {
    SearchSort.RATING: _TIEBREAK,
    SearchSort.RATE_ASC: f"e.rate_amount ASC, {_TIEBREAK}",
    SearchSort.RATE_DESC: f"e.rate_amount DESC, {_TIEBREAK}",
}

_UPSERT_ROW = """
    INSERT INTO search_expert (expert_id, headline, bio, skills, languages, rate_amount, currency,
                               rating_average, rating_count, published_at)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (expert_id) DO UPDATE SET
        headline = excluded.headline, bio = excluded.bio, skills = excluded.skills,
        languages = excluded.languages, rate_amount = excluded.rate_amount, currency = excluded.currency,
        rating_average = excluded.rating_average, rating_count = excluded.rating_count,
        published_at = excluded.published_at
"""
_DELETE_TEXT = "DELETE FROM search_expert_fts WHERE rowid = (SELECT id FROM search_expert WHERE expert_id = %s)"
_INSERT_TEXT = """
    INSERT INTO search_expert_fts (rowid, headline, skills, bio)
    SELECT id, %s, %s, %s FROM search_expert WHERE expert_id = %s
"""


@dataclass
class _Filter:
    """The FROM and WHERE shared by the page query and the facet query, with their parameters."""

    terms: tuple[str, ...]
    sql: str = "FROM search_expert AS e"
    clauses: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)

    def where(self, clause: str, *params: object) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def from_where(self) -> str:
        return f"{self.sql} WHERE {' AND '.join(self.clauses)}" if self.clauses else self.sql


class SqliteSearchIndex:
    """Implements SearchIndex with FTS5 full-text matching and bm25 ranking (headline > skills > bio)."""

    def __init__(self, using: str = "default") -> None:
        self._using = using

    @property
    def _connection(self) -> BaseDatabaseWrapper:
        return connections[self._using]

    def upsert(self, document: ExpertDocument) -> None:
        """Add the document, or replace the one with the same expert id."""
        self.upsert_many([document])

    def upsert_many(self, documents: Iterable[ExpertDocument]) -> int:
        """Upsert in batches of executemany statements; returns how many experts were indexed."""
        count = 0
        for batch in batched(documents, BATCH_SIZE):
            unique = list({d.expert_id: d for d in batch}.values())  # one FTS row per rowid
            self._write_batch(unique)
            count += len(unique)
        return count

    def remove(self, expert_id: ExpertId) -> None:
        """Drop the expert; no error if absent."""
        with self._writing() as cursor:
            cursor.execute(_DELETE_TEXT, [str(expert_id)])
            cursor.execute("DELETE FROM search_expert WHERE expert_id = %s", [str(expert_id)])

    def clear(self) -> None:
        """Drop every document."""
        with self._writing() as cursor:
            cursor.execute("DELETE FROM search_expert_fts")
            cursor.execute("DELETE FROM search_expert")

    def ping(self) -> None:
        """One query that touches both tables (no rows read); PortError if either is missing."""
        with self._reading() as cursor:
            cursor.execute("SELECT 1 FROM search_expert, search_expert_fts WHERE 0")

    def search(self, query: SearchQuery) -> SearchResult:
        """One page, the total and the facets in two queries, whatever the page size."""
        found = _filter(query)
        with self._reading() as cursor:
            cursor.execute(*_page_sql(found, query))
            expert_ids = tuple(ExpertId(uuid.UUID(row[0])) for row in cursor.fetchall())
            cursor.execute(*_facets_sql(found))
            rows = cursor.fetchall()
        total = next(count for skill, count in rows if skill is None)
        facets = sorted((SkillFacet(skill, count) for skill, count in rows if skill is not None), key=_facet_order)
        return SearchResult(expert_ids=expert_ids, total=total, facets=tuple(facets))

    def _write_batch(self, documents: Sequence[ExpertDocument]) -> None:
        # Row first (a new expert gets its rowid), then its FTS row replaced.
        with self._writing() as cursor:
            cursor.executemany(_UPSERT_ROW, [_row(d) for d in documents])
            cursor.executemany(_DELETE_TEXT, [[str(d.expert_id)] for d in documents])
            cursor.executemany(_INSERT_TEXT, [_text_row(d) for d in documents])

    @contextmanager
    def _writing(self) -> Iterator[CursorWrapper]:
        # A savepoint inside the caller's transaction (or a transaction of its
        # own), so a failure never leaves a row without its text.
        with self._reading() as cursor, transaction.atomic(using=self._using):
            yield cursor

    @contextmanager
    def _reading(self) -> Iterator[CursorWrapper]:
        try:
            with self._connection.cursor() as cursor:
                yield cursor
        except DatabaseError as e:
            raise PortError("The search index is unavailable.") from e


def _row(d: ExpertDocument) -> list[object]:
    published_at = d.published_at.isoformat() if d.published_at else None
    return [
        str(d.expert_id),
        d.headline,
        d.bio,
        json.dumps(list(d.skills)),
        json.dumps(list(d.languages)),
        d.rate_amount,
        d.currency,
        d.rating_average,
        d.rating_count,
        published_at,
    ]


def _text_row(d: ExpertDocument) -> list[object]:
    analysed = analyse_document(d)
    return [" ".join(analysed.headline), " ".join(analysed.skills), " ".join(analysed.bio), str(d.expert_id)]


def _filter(query: SearchQuery) -> _Filter:
    found = _Filter(terms=query_terms(query.text))
    if found.terms:
        found.sql += " JOIN search_expert_fts ON search_expert_fts.rowid = e.id"
        found.where("search_expert_fts MATCH %s", fts_match(found.terms))
    for skill in query.skills:
        found.where("EXISTS (SELECT 1 FROM json_each(e.skills) WHERE value = %s)", skill)
    if query.languages:
        marks = ", ".join(["%s"] * len(query.languages))
        found.where(f"EXISTS (SELECT 1 FROM json_each(e.languages) WHERE value IN ({marks}))", *query.languages)
    where_rate_and_rating(found, query)
    return found


def fts_match(terms: Sequence[str]) -> str:
    """An FTS5 query requiring every term, the last as a prefix.

    Each term is a quoted string (quotes doubled), so whatever the user typed
    is matched as text and never read as FTS5 syntax (AND, NEAR, *, ^, columns).
    """
    quoted = ['"' + term.replace('"', '""') + '"' for term in terms]
    quoted[-1] += " *"
    return " ".join(quoted)


def _page_sql(found: _Filter, query: SearchQuery) -> tuple[str, list[object]]:
    order = _order_by(query.sort, ranked=bool(found.terms))
    sql = f"SELECT e.expert_id {found.from_where()} ORDER BY {order} LIMIT %s OFFSET %s"
    return sql, [*found.params, query.page.size, query.page.offset]


def _order_by(sort: SearchSort, *, ranked: bool) -> str:
    if sort is not SearchSort.RELEVANCE:
        return _ORDER_BY[sort]
    # bm25 is lower for a better match; without text there is nothing to rank.
    return f"{_RANK}, {_TIEBREAK}" if ranked else _TIEBREAK


def _facets_sql(found: _Filter) -> tuple[str, list[object]]:
    # The total rides along as the one row whose skill is NULL.
    sql = f"""
        WITH matches AS (SELECT e.id, e.skills {found.from_where()})
        SELECT NULL, COUNT(*) FROM matches
        UNION ALL
        SELECT skill, n FROM (
            SELECT j.value AS skill, COUNT(DISTINCT matches.id) AS n
            FROM matches, json_each(matches.skills) AS j
            GROUP BY j.value ORDER BY n DESC, skill LIMIT %s
        )
    """
    return sql, [*found.params, FACET_LIMIT]


def _facet_order(facet: SkillFacet) -> tuple[int, str]:
    return -facet.count, facet.skill
