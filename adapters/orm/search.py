"""A search index in PostgreSQL full-text search, inside the application's own database.

DB-backed, like the SQLite FTS5 adapter: its table (migration
orm/0005_postgres_search) lives in the primary database and writes go through
``connections["default"]``, so an upsert made inside a use case's transaction
commits or rolls back with the profile itself; it needs no sync after commit
and no server of its own. Searches read wherever the database router sends
the profiles' reads (a replica, or the primary for a user who just wrote).

The text is analysed by search.text, as in every other adapter, and handed to
PostgreSQL as a tsvector/tsquery *literal* of those words: no PostgreSQL
parser or dictionary re-tokenises them, so matching is the same as SQLite's
and the in-memory fake's whatever the server's locale. Weights: headline A,
skills B, bio C, ranked with ts_rank_cd in the ratio search.text defines.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import DatabaseError, connections, router, transaction
from django.db.backends.utils import CursorWrapper

from adapters.orm.models import ExpertProfileRow
from adapters.search_sql import where_rate_and_rating
from domain.errors import PortError
from domain.ids import ExpertId
from domain.search import FACET_LIMIT, ExpertDocument, SearchQuery, SearchResult, SearchSort, SkillFacet
from search.batching import batched
from search.text import BIO_WEIGHT, HEADLINE_WEIGHT, SKILLS_WEIGHT, analyse_document, query_terms

# Bounds the memory and the statement size of a full reindex: one INSERT per batch.
BATCH_SIZE = 500
# PostgreSQL refuses a lexeme longer than this many bytes.
MAX_LEXEME_BYTES = 2046

# ts_rank_cd takes the weights of D, C, B, A, each at most 1: ours scaled to the headline's.
_RANK_WEIGHTS = [BIO_WEIGHT / HEADLINE_WEIGHT, BIO_WEIGHT / HEADLINE_WEIGHT, SKILLS_WEIGHT / HEADLINE_WEIGHT, 1.0]
_FIELD_LABELS = ("A", "B", "C")  # headline, skills, bio: the order of AnalysedDocument.weighted_fields()

_TIEBREAK = "m.rating_average DESC NULLS LAST, m.rating_count DESC, m.expert_id"
_ORDER_BY = {
    SearchSort.RATING: _TIEBREAK,
    SearchSort.RATE_ASC: f"m.rate_amount ASC, {_TIEBREAK}",
    SearchSort.RATE_DESC: f"m.rate_amount DESC, {_TIEBREAK}",
}

_COLUMNS = "expert_id, document, skills, languages, rate_amount, currency, rating_average, rating_count, published_at"
_ROW_MARKS = "(%s, %s::tsvector, %s::text[], %s::text[], %s, %s, %s, %s, %s)"
_UPSERT = f"""
    INSERT INTO search_expert_pg ({_COLUMNS}) VALUES {{rows}}
    ON CONFLICT (expert_id) DO UPDATE SET
        document = excluded.document, skills = excluded.skills, languages = excluded.languages,
        rate_amount = excluded.rate_amount, currency = excluded.currency,
        rating_average = excluded.rating_average, rating_count = excluded.rating_count,
        published_at = excluded.published_at
"""


@dataclass
class _Filter:
    """The WHERE of the matches, the rank expression and their parameters, in SQL order."""

    rank: str = "0"
    rank_params: list[object] = field(default_factory=list)
    clauses: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)

    def where(self, clause: str, *params: object) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def where_sql(self) -> str:
        return f"WHERE {' AND '.join(self.clauses)}" if self.clauses else ""


class PostgresSearchIndex:
    """Implements SearchIndex with a weighted tsvector, a GIN index and ts_rank_cd (headline > skills > bio)."""

    def __init__(self, using: str = "default") -> None:
        self._using = using

    def upsert(self, document: ExpertDocument) -> None:
        """Add the document, or replace the one with the same expert id."""
        self.upsert_many([document])

    def upsert_many(self, documents: Iterable[ExpertDocument]) -> int:
        """One multi-row INSERT ... ON CONFLICT per batch, all in one transaction; returns how many were indexed."""
        count = 0
        with self._writing() as cursor:
            for batch in batched(documents, BATCH_SIZE):
                unique = list({d.expert_id: d for d in batch}.values())  # a row may be updated once per statement
                rows = ", ".join([_ROW_MARKS] * len(unique))
                cursor.execute(_UPSERT.format(rows=rows), [value for d in unique for value in _row(d)])
                count += len(unique)
        return count

    def remove(self, expert_id: ExpertId) -> None:
        """Drop the expert; no error if absent."""
        with self._writing() as cursor:
            cursor.execute("DELETE FROM search_expert_pg WHERE expert_id = %s", [str(expert_id)])

    def clear(self) -> None:
        """Drop every document (DELETE, not TRUNCATE: it takes no exclusive lock and rolls back like a row)."""
        with self._writing() as cursor:
            cursor.execute("DELETE FROM search_expert_pg")

    def ping(self) -> None:
        """One query on the table, where searches read it (no rows read); PortError if it is missing."""
        with self._cursor(self._read_alias()) as cursor:
            cursor.execute("SELECT 1 FROM search_expert_pg WHERE false")

    def search(self, query: SearchQuery) -> SearchResult:
        """One page, the total and the facets in one query, whatever the page size."""
        sql, params = _search_sql(_filter(query), query)
        with self._cursor(self._read_alias()) as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        page = sorted((number, key) for kind, key, number in rows if kind == "page")
        facets = sorted((SkillFacet(key, number) for kind, key, number in rows if kind == "facet"), key=_facet_order)
        return SearchResult(
            expert_ids=tuple(ExpertId(uuid.UUID(key)) for _, key in page),
            total=next(number for kind, _, number in rows if kind == "total"),
            facets=tuple(facets),
        )

    def _read_alias(self) -> str:
        # The index projects the profiles, so it is read where they are.
        return router.db_for_read(ExpertProfileRow) if self._using == "default" else self._using

    @contextmanager
    def _writing(self) -> Iterator[CursorWrapper]:
        # A savepoint inside the caller's transaction (or a transaction of its
        # own): a failed statement leaves the caller's transaction usable.
        with self._cursor(self._using) as cursor, transaction.atomic(using=self._using):
            yield cursor

    @contextmanager
    def _cursor(self, alias: str) -> Iterator[CursorWrapper]:
        try:
            with connections[alias].cursor() as cursor:
                yield cursor
        except DatabaseError as e:
            raise PortError("The search index is unavailable.") from e


def _row(d: ExpertDocument) -> list[object]:
    return [
        str(d.expert_id),
        tsvector_literal(d),
        list(dict.fromkeys(d.skills)),  # each skill counted once per expert in the facets
        list(d.languages),
        d.rate_amount,
        d.currency,
        d.rating_average,
        d.rating_count,
        d.published_at,
    ]


def tsvector_literal(document: ExpertDocument) -> str:
    """The analysed words of the document as a tsvector literal: 'word':position+weight ...

    Positions run on across headline, skills and bio (ts_rank_cd needs them);
    PostgreSQL merges repeated words and keeps the first 256 positions of each.
    A word too long for a lexeme is cut to fit, so its prefixes still match.
    """
    entries: list[str] = []
    position = 0
    for (words, _), label in zip(analyse_document(document).weighted_fields(), _FIELD_LABELS, strict=True):
        for word in words:
            position += 1
            entries.append(f"{_quote(_truncated(word))}:{min(position, 16383)}{label}")
    return " ".join(entries)


def tsquery_literal(terms: Sequence[str]) -> str:
    """A tsquery requiring every term, the last also as a prefix.

    Each term is a quoted lexeme, so nothing the user typed is read as
    tsquery syntax (&, |, !, <->, :*, parentheses).
    """
    quoted = [_quote(term) for term in terms]
    quoted[-1] += ":*"
    return " & ".join(quoted)


def _quote(word: str) -> str:
    # search.text words hold only letters, digits and marks; escape anyway.
    return "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"


def _fits(word: str) -> bool:
    return len(word.encode()) <= MAX_LEXEME_BYTES


def _truncated(word: str) -> str:
    return word.encode()[:MAX_LEXEME_BYTES].decode(errors="ignore")  # never half a character


def _filter(query: SearchQuery) -> _Filter:
    found = _Filter()
    terms = query_terms(query.text)
    if terms and not all(_fits(term) for term in terms):
        found.where("FALSE")  # longer than any stored lexeme: it can equal no word
    elif terms:
        found.rank, found.rank_params = "ts_rank_cd(%s::float4[], e.document, %s::tsquery)", [_RANK_WEIGHTS]
        tsquery = tsquery_literal(terms)
        found.rank_params.append(tsquery)
        found.where("e.document @@ %s::tsquery", tsquery)
    if query.skills:
        found.where("e.skills @> %s::text[]", list(query.skills))
    if query.languages:
        found.where("e.languages && %s::text[]", list(query.languages))
    where_rate_and_rating(found, query)
    return found


def _search_sql(found: _Filter, query: SearchQuery) -> tuple[str, list[object]]:
    """Matches once, then the page, the facets and the total as rows (kind, key, number).

    Page rows carry their position in the order, facet rows their count; the
    skill tiebreak is COLLATE "C" (code point order, as every adapter sorts).
    """
    order = _order_by(query.sort, ranked=bool(found.rank_params))
    sql = f"""
        WITH matches AS MATERIALIZED (
            SELECT e.expert_id, e.skills, e.rate_amount, e.rating_average, e.rating_count, {found.rank} AS rank
            FROM search_expert_pg AS e {found.where_sql()}
        ),
        page AS (
            SELECT m.expert_id, row_number() OVER (ORDER BY {order}) AS n
            FROM matches AS m ORDER BY {order} LIMIT %s OFFSET %s
        ),
        facets AS (
            SELECT skill, COUNT(*) AS n FROM matches, unnest(matches.skills) AS skill
            GROUP BY skill ORDER BY n DESC, skill COLLATE "C" LIMIT %s
        )
        SELECT 'page', expert_id::text, n FROM page
        UNION ALL SELECT 'facet', skill, n FROM facets
        UNION ALL SELECT 'total', NULL, COUNT(*) FROM matches
    """
    params = [*found.rank_params, *found.params, query.page.size, query.page.offset, FACET_LIMIT]
    return sql, params


def _order_by(sort: SearchSort, *, ranked: bool) -> str:
    if sort is not SearchSort.RELEVANCE:
        return _ORDER_BY[sort]
    # Without text there is nothing to rank: the tiebreak is the whole order.
    return f"m.rank DESC, {_TIEBREAK}" if ranked else _TIEBREAK


def _facet_order(facet: SkillFacet) -> tuple[int, str]:
    return -facet.count, facet.skill
