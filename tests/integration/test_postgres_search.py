"""PostgresSearchIndex beyond the shared contract: transactions, query counts, indexes, limits, errors.

The contract itself runs in tests/contract/test_search_index.py (TestPostgresSearchIndex).
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.db import connection

from adapters.memory.search import InMemorySearchIndex
from adapters.orm.search import BATCH_SIZE, PostgresSearchIndex, tsquery_literal, tsvector_literal
from domain.errors import PortError
from domain.pagination import PageRequest
from domain.search import SearchQuery, SearchSort
from search.text import analyse_document
from tests.contract.test_search_index import add, doc, find, ids, in_rolled_back_transaction

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def index(db: None) -> PostgresSearchIndex:
    return PostgresSearchIndex()


def stored_document(expert_id: object) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT document::text FROM search_expert_pg WHERE expert_id = %s", [str(expert_id)])
        return str(cursor.fetchone()[0])


def test_writes_roll_back_with_the_surrounding_transaction(index: PostgresSearchIndex) -> None:
    kept = add(index, headline="Kept")

    def write() -> None:
        add(index, headline="Rolled back")
        index.remove(kept)

    in_rolled_back_transaction(write)

    assert ids(index) == [kept]
    assert ids(index, text="rolled") == []


def test_search_takes_one_query_whatever_the_page_size(
    index: PostgresSearchIndex, django_assert_num_queries: Any
) -> None:
    index.upsert_many([doc(headline="Python", skills=("python", f"s{n}")) for n in range(60)])

    for size in (1, 50):
        with django_assert_num_queries(1):
            result = find(index, text="pyth", skills=("python",), languages=("en", "de"), page=PageRequest(size=size))
        assert (len(result.expert_ids), result.total, len(result.facets)) == (size, 60, 30)


def test_upsert_many_writes_one_statement_per_batch(index: PostgresSearchIndex, django_assert_num_queries: Any) -> None:
    documents = [doc() for _ in range(2 * BATCH_SIZE + 1)]

    # Three INSERTs, inside one transaction: BEGIN/SAVEPOINT and COMMIT/RELEASE.
    with django_assert_num_queries(5):
        assert index.upsert_many(documents) == len(documents)

    assert find(index).total == len(documents)


def test_the_document_holds_the_shared_analysers_words_weighted_by_field(index: PostgresSearchIndex) -> None:
    expert_id = add(index, headline="Zürich C++/Go-lang", skills=("machine-learning",), bio="Café owner")

    assert stored_document(expert_id) == (
        "'c':2A 'cafe':7C 'go':3A 'lang':4A 'learning':6B 'machine':5B 'owner':8C 'zurich':1A"
    )


def test_literals_quote_every_word() -> None:
    document = doc(headline="it's", bio="back\\slash")
    words = analyse_document(document)

    assert words.headline == ("it", "s")  # the analyser never leaves a quote in a word
    assert tsvector_literal(document) == "'it':1A 's':2A 'back':3C 'slash':4C"
    assert tsquery_literal(["it's", "a\\b"]) == "'it''s' & 'a\\\\b':*"


def test_text_search_uses_the_gin_indexes(index: PostgresSearchIndex) -> None:
    index.upsert_many([doc(headline=f"Expert number{n}", skills=("python",)) for n in range(50)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE search_expert_pg")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT 1 FROM search_expert_pg WHERE document @@ %s::tsquery AND skills @> %s::text[]",
            [tsquery_literal(["number7"]), ["python"]],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "search_expert_pg_document" in plan or "search_expert_pg_skills" in plan, plan


def test_a_word_too_long_for_a_lexeme_is_cut_and_its_prefixes_still_match(index: PostgresSearchIndex) -> None:
    hit = add(index, headline="Python", bio="x" * 5000 + " tail")

    assert ids(index, text="tail") == [hit]
    assert ids(index, text="x" * 200) == [hit]


def test_a_query_word_too_long_for_a_lexeme_matches_nothing(index: PostgresSearchIndex) -> None:
    add(index, headline="Kabushiki kaisha")
    long_word = "\u337f" * 190  # each expands (NFKD) to four CJK letters: 2,280 bytes in all

    assert find(index, text=long_word).total == 0
    assert find(index, text=f"kabushiki {long_word}").total == 0


def test_database_errors_become_port_errors(index: PostgresSearchIndex) -> None:
    def break_the_index() -> None:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE search_expert_pg RENAME TO search_expert_pg_gone")
        with pytest.raises(PortError):
            index.search(SearchQuery(text="python"))

    in_rolled_back_transaction(break_the_index)

    assert find(index, text="python").total == 0


def test_a_failed_write_leaves_the_callers_transaction_usable(index: PostgresSearchIndex) -> None:
    def write_a_bad_row_then_go_on() -> None:
        with pytest.raises(PortError):
            index.upsert(doc(rate_amount=2**70))  # out of bigint range: the INSERT fails
        add(index, headline="Still works")
        assert ids(index, text="still") != []

    in_rolled_back_transaction(write_a_bad_row_then_go_on)


VOCABULARY = [
    "python",
    "pythonic",
    "django",
    "Zürich",
    "café",
    "C++",
    "go-lang",
    "日本語",
    "शिक्षक",
    "naïve",
    "data",
    "dat",
]


def test_matches_filters_and_facets_agree_with_the_in_memory_engine(index: PostgresSearchIndex) -> None:
    chance = random.Random(7)
    reference = InMemorySearchIndex()
    documents = [
        doc(
            headline=" ".join(chance.sample(VOCABULARY, 3)),
            bio=" ".join(chance.choices(VOCABULARY, k=8)),
            skills=tuple(chance.sample(["python", "django", "go", "data-science", "tax"], 2)),
            languages=(chance.choice(["en", "de", "fr"]),),
            rate_amount=chance.choice([5_000, 10_000, 20_000]),
            rating_average=chance.choice([None, 3.0, 4.5]),
            rating_count=chance.randint(0, 3),
        )
        for _ in range(150)
    ]
    index.upsert_many(documents)
    reference.upsert_many(documents)

    for _ in range(60):
        words = chance.sample(VOCABULARY, chance.randint(1, 2))
        words[-1] = words[-1][: chance.randint(1, len(words[-1]))]  # the last word as a prefix
        query = SearchQuery(
            text=" ".join(words),
            skills=tuple(chance.sample(["python", "django", "go"], chance.randint(0, 1))),
            languages=tuple(chance.sample(["en", "de"], chance.randint(0, 1))),
            sort=SearchSort.RATING,
            page=PageRequest(size=100),
        )
        assert index.search(query) == reference.search(query), query
