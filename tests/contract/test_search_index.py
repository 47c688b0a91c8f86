"""The SearchIndex contract, run against every adapter."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection, transaction

from adapters.local.search import SqliteSearchIndex
from adapters.memory.search import InMemorySearchIndex
from adapters.orm.search import PostgresSearchIndex
from domain.errors import PortError
from domain.ids import ExpertId, new_id
from domain.pagination import PageRequest
from domain.ports import ReconcilableIndex, SearchIndex
from domain.search import FACET_LIMIT, ExpertDocument, SearchQuery, SearchResult, SearchSort, SkillFacet

HOSTILE_TEXTS = [
    '"',
    '""',
    "'",
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "NEAR(a b, 2)",
    "a AND",
    "OR b",
    "*",
    "py*",
    "(",
    ")",
    "(python",
    "-",
    "-python",
    "+",
    "^python",
    ":",
    "headline:python",
    "{headline bio}: python",
    '"unbalanced quote',
    'python" OR "',
    "'; DROP TABLE search_expert; --",
    "%",
    "_",
    "\\",
    "\x00",
    "   ",
    "🙂",
    "日本語",
    "Zürich café",
    "e\u0301",
    "\u200b",
    "a" * 200,
]


def doc(**overrides: Any) -> ExpertDocument:
    values: dict[str, Any] = {
        "expert_id": ExpertId(new_id()),
        "headline": "Consultant",
        "bio": "",
        "skills": (),
        "languages": ("en",),
        "rate_amount": 10_000,
        "currency": "USD",
        "rating_average": None,
        "rating_count": 0,
        "published_at": datetime(2030, 1, 1, tzinfo=UTC),
    }
    values.update(overrides)
    return ExpertDocument(**values)


def find(index: SearchIndex, **query: Any) -> SearchResult:
    return index.search(SearchQuery(**query))


def ids(index: SearchIndex, **query: Any) -> list[ExpertId]:
    return list(find(index, **query).expert_ids)


def add(index: SearchIndex, **overrides: Any) -> ExpertId:
    document = doc(**overrides)
    index.upsert(document)
    return document.expert_id


def by_id(*documents: ExpertDocument) -> list[ExpertId]:
    return sorted((d.expert_id for d in documents), key=str)


class SearchIndexContract:
    """Subclasses provide ``index``, empty at the start of each test."""

    # --- text matching -------------------------------------------------------

    def test_text_matches_a_word_of_the_headline(self, index: SearchIndex) -> None:
        hit = add(index, headline="Senior Python developer")
        add(index, headline="Designer")

        assert ids(index, text="python") == [hit]

    def test_text_matches_a_skill(self, index: SearchIndex) -> None:
        hit = add(index, skills=("kubernetes", "go"))
        add(index, skills=("figma",))

        assert ids(index, text="kubernetes") == [hit]

    def test_text_matches_a_word_inside_a_skill_tag(self, index: SearchIndex) -> None:
        hit = add(index, skills=("machine-learning",))

        assert ids(index, text="learning") == [hit]
        assert ids(index, text="machine learning") == [hit]

    def test_text_matches_a_word_of_the_bio(self, index: SearchIndex) -> None:
        hit = add(index, bio="Ten years of PostgreSQL tuning.")
        add(index, bio="Ten years of design.")

        assert ids(index, text="postgresql") == [hit]

    def test_matching_ignores_case_and_diacritics(self, index: SearchIndex) -> None:
        hit = add(index, headline="Café owner in Zürich")

        assert ids(index, text="ZURICH CAFE") == [hit]
        assert ids(index, text="zürich") == [hit]

    def test_every_word_is_required(self, index: SearchIndex) -> None:
        both = add(index, headline="Django and React")
        add(index, headline="Django only")
        add(index, headline="React only")

        assert ids(index, text="django react") == [both]

    def test_words_may_match_in_different_fields(self, index: SearchIndex) -> None:
        hit = add(index, headline="Backend engineer", skills=("rust",), bio="Based in Lisbon")

        assert ids(index, text="engineer rust lisbon") == [hit]

    def test_the_last_word_matches_as_a_prefix(self, index: SearchIndex) -> None:
        hit = add(index, headline="Kubernetes operator")

        assert ids(index, text="kub") == [hit]
        assert ids(index, text="operator kubern") == [hit]

    def test_only_the_last_word_matches_as_a_prefix(self, index: SearchIndex) -> None:
        add(index, headline="Kubernetes operator")

        assert ids(index, text="kub operator") == []

    def test_a_word_that_matches_nothing_finds_nothing(self, index: SearchIndex) -> None:
        add(index, headline="Python developer")

        result = find(index, text="python cobol")

        assert result == SearchResult(expert_ids=(), total=0, facets=())

    def test_an_empty_text_matches_everything(self, index: SearchIndex) -> None:
        documents = [doc(), doc(), doc()]
        index.upsert_many(documents)

        assert sorted(ids(index), key=str) == by_id(*documents)

    def test_operator_words_are_matched_as_plain_words(self, index: SearchIndex) -> None:
        hit = add(index, headline="Research and development")
        add(index, headline="Python")

        assert ids(index, text="AND") == [hit]
        assert ids(index, text="research AND development") == [hit]
        assert ids(index, text="python OR research") == []

    def test_punctuation_separates_words(self, index: SearchIndex) -> None:
        hit = add(index, headline="C++/Go-lang expert")

        assert ids(index, text="c++") == [hit]
        assert ids(index, text="go-lang") == [hit]

    def test_text_of_punctuation_only_is_like_an_empty_text(self, index: SearchIndex) -> None:
        documents = [doc(), doc()]
        index.upsert_many(documents)

        assert sorted(ids(index, text='"*( -'), key=str) == by_id(*documents)

    def test_non_latin_words_match(self, index: SearchIndex) -> None:
        hindi = add(index, headline="हिन्दी शिक्षक")
        japanese = add(index, headline="日本語 教師")

        assert ids(index, text="शिक्षक") == [hindi]
        assert ids(index, text="日本語") == [japanese]

    @pytest.mark.parametrize("text", HOSTILE_TEXTS)
    def test_hostile_text_gives_results_never_an_error(self, index: SearchIndex, text: str) -> None:
        add(index, headline='Python "quoted" AND (parens) - NEAR * café 日本語', skills=("c++",))

        result = find(index, text=text)

        assert isinstance(result, SearchResult)
        assert result.total == len(result.expert_ids)
        assert find(index, text="python").total == 1

    # --- relevance ---------------------------------------------------------------

    def test_a_headline_match_ranks_above_a_bio_only_match(self, index: SearchIndex) -> None:
        in_bio = add(index, headline="Backend engineer", bio="I mostly write Python services.", rating_average=5.0)
        in_headline = add(index, headline="Python developer", bio="Backend services.", rating_average=3.0)
        add(index, headline="Designer", bio="Figma and Sketch.")

        assert ids(index, text="python") == [in_headline, in_bio]

    def test_a_skill_match_ranks_above_a_bio_only_match(self, index: SearchIndex) -> None:
        in_bio = add(index, headline="Engineer", bio="Some rust on the side.", rating_average=5.0)
        in_skills = add(index, headline="Engineer", skills=("rust",), bio="Systems work.", rating_average=3.0)
        add(index, headline="Designer")

        assert ids(index, text="rust") == [in_skills, in_bio]

    def test_a_headline_match_ranks_above_a_skill_only_match(self, index: SearchIndex) -> None:
        in_skills = add(index, headline="Engineer", skills=("rust",), rating_average=5.0)
        in_headline = add(index, headline="Rust engineer", rating_average=3.0)
        add(index, headline="Designer")

        assert ids(index, text="rust") == [in_headline, in_skills]

    def test_equal_relevance_breaks_ties_by_rating_then_count_then_id(self, index: SearchIndex) -> None:
        unrated = add(index, headline="Python developer")
        good_few = add(index, headline="Python developer", rating_average=4.5, rating_count=2)
        good_many = add(index, headline="Python developer", rating_average=4.5, rating_count=9)
        best = add(index, headline="Python developer", rating_average=4.9, rating_count=1)
        twins = by_id(doc(), doc())
        for twin in twins:
            add(index, expert_id=twin, headline="Python developer", rating_average=4.0, rating_count=3)

        assert ids(index, text="python") == [best, good_many, good_few, *twins, unrated]

    # --- filters -----------------------------------------------------------------

    def test_skills_filter_requires_every_skill(self, index: SearchIndex) -> None:
        both = add(index, skills=("python", "django", "aws"))
        add(index, skills=("python",))
        add(index, skills=("django",))

        assert ids(index, skills=("python", "django")) == [both]

    def test_languages_filter_accepts_any_language(self, index: SearchIndex) -> None:
        german = add(index, languages=("de",))
        french_english = add(index, languages=("fr", "en"))
        add(index, languages=("es",))

        assert sorted(ids(index, languages=("de", "fr")), key=str) == sorted([german, french_english], key=str)

    def test_rate_bounds_are_inclusive_minor_units(self, index: SearchIndex) -> None:
        cheap = add(index, rate_amount=5_000)
        middle = add(index, rate_amount=10_000)
        dear = add(index, rate_amount=20_000)

        assert ids(index, min_rate=10_000, sort=SearchSort.RATE_ASC) == [middle, dear]
        assert ids(index, max_rate=10_000, sort=SearchSort.RATE_ASC) == [cheap, middle]
        assert ids(index, min_rate=10_000, max_rate=10_000) == [middle]

    def test_rate_bounds_apply_within_the_currency(self, index: SearchIndex) -> None:
        euro = add(index, rate_amount=8_000, currency="EUR")
        add(index, rate_amount=8_000, currency="USD")
        add(index, rate_amount=50_000, currency="EUR")

        assert ids(index, min_rate=5_000, max_rate=10_000, currency="EUR") == [euro]

    def test_currency_alone_filters_by_currency(self, index: SearchIndex) -> None:
        yen = add(index, rate_amount=9_000, currency="JPY")
        add(index, rate_amount=9_000, currency="USD")

        assert ids(index, currency="JPY") == [yen]

    def test_min_rating_excludes_lower_and_unrated(self, index: SearchIndex) -> None:
        high = add(index, rating_average=4.5, rating_count=3)
        exact = add(index, rating_average=4.0, rating_count=3)
        add(index, rating_average=3.9, rating_count=3)
        add(index, rating_average=None, rating_count=0)

        assert ids(index, min_rating=4.0) == [high, exact]

    def test_min_rating_zero_still_excludes_unrated(self, index: SearchIndex) -> None:
        rated = add(index, rating_average=1.0, rating_count=1)
        add(index, rating_average=None)

        assert ids(index, min_rating=0) == [rated]

    def test_filters_combine_with_text_and_each_other(self, index: SearchIndex) -> None:
        hit = add(
            index,
            headline="Python mentor",
            skills=("python", "teaching"),
            languages=("de", "en"),
            rate_amount=6_000,
            currency="EUR",
            rating_average=4.8,
            rating_count=5,
        )
        base = {
            "headline": "Python mentor",
            "skills": ("python", "teaching"),
            "languages": ("de",),
            "rate_amount": 6_000,
            "currency": "EUR",
            "rating_average": 4.8,
        }
        for differing in (
            {"headline": "Java mentor", "skills": ("java", "teaching")},
            {"skills": ("python",)},
            {"languages": ("it",)},
            {"rate_amount": 12_000},
            {"currency": "GBP"},
            {"rating_average": 3.0},
        ):
            add(index, **{**base, **differing})

        query = {
            "text": "mentor pyth",
            "skills": ("teaching",),
            "languages": ("de", "fr"),
            "min_rate": 1_000,
            "max_rate": 7_000,
            "currency": "EUR",
            "min_rating": 4.5,
        }
        assert ids(index, **query) == [hit]

    # --- sorting -------------------------------------------------------------------

    def test_relevance_without_text_orders_by_rating_then_count_then_id(self, index: SearchIndex) -> None:
        unrated = add(index)
        low = add(index, rating_average=3.0, rating_count=50)
        high_few = add(index, rating_average=5.0, rating_count=1)
        high_many = add(index, rating_average=5.0, rating_count=7)

        assert ids(index) == [high_many, high_few, low, unrated]

    def test_rating_sort_ignores_relevance_and_puts_unrated_last(self, index: SearchIndex) -> None:
        unrated = add(index, headline="Python Python Python")
        in_bio = add(index, headline="Engineer", bio="python", rating_average=4.9, rating_count=2)
        in_headline = add(index, headline="Python developer", rating_average=4.1, rating_count=8)

        assert ids(index, text="python", sort=SearchSort.RATING) == [in_bio, in_headline, unrated]

    def test_rate_ascending_breaks_ties_by_rating(self, index: SearchIndex) -> None:
        dear = add(index, rate_amount=30_000, rating_average=5.0)
        cheap_unrated = add(index, rate_amount=5_000)
        cheap_rated = add(index, rate_amount=5_000, rating_average=4.0)

        assert ids(index, sort=SearchSort.RATE_ASC) == [cheap_rated, cheap_unrated, dear]

    def test_rate_descending_breaks_ties_by_rating(self, index: SearchIndex) -> None:
        cheap = add(index, rate_amount=5_000, rating_average=5.0)
        dear_low = add(index, rate_amount=30_000, rating_average=2.0)
        dear_high = add(index, rate_amount=30_000, rating_average=4.0)

        assert ids(index, sort=SearchSort.RATE_DESC) == [dear_high, dear_low, cheap]

    def test_full_ties_break_by_expert_id(self, index: SearchIndex) -> None:
        documents = [doc(rating_average=4.0, rating_count=2, rate_amount=100) for _ in range(5)]
        index.upsert_many(documents)

        for sort in SearchSort:
            assert ids(index, sort=sort) == by_id(*documents), sort

    # --- paging --------------------------------------------------------------------

    def test_pages_are_disjoint_and_in_a_stable_order(self, index: SearchIndex) -> None:
        documents = [doc(rating_average=float(i % 3 + 2), rating_count=i % 2) for i in range(25)]
        index.upsert_many(documents)

        everything = ids(index, page=PageRequest(number=1, size=100))
        pages = [find(index, page=PageRequest(number=n, size=10)) for n in (1, 2, 3)]

        assert [len(p.expert_ids) for p in pages] == [10, 10, 5]
        assert {p.total for p in pages} == {25}
        assert [i for p in pages for i in p.expert_ids] == everything
        assert ids(index, page=PageRequest(number=2, size=10)) == everything[10:20]

    def test_a_page_past_the_end_is_empty_but_counts_everything(self, index: SearchIndex) -> None:
        index.upsert_many([doc(skills=("go",)), doc(skills=("go",))])

        result = find(index, page=PageRequest(number=5, size=10))

        assert result.expert_ids == ()
        assert result.total == 2
        assert result.facets == (SkillFacet("go", 2),)

    # --- facets --------------------------------------------------------------------

    def test_facets_count_every_match_not_only_the_page(self, index: SearchIndex) -> None:
        add(index, skills=("python", "django"))
        add(index, skills=("python", "flask"))
        add(index, skills=("python", "django"))

        result = find(index, page=PageRequest(number=1, size=1))

        assert len(result.expert_ids) == 1
        assert result.total == 3
        assert result.facets == (SkillFacet("python", 3), SkillFacet("django", 2), SkillFacet("flask", 1))

    def test_facets_respect_text_and_filters(self, index: SearchIndex) -> None:
        add(index, headline="Python mentor", skills=("python", "teaching"), languages=("de",))
        add(index, headline="Python mentor", skills=("python", "django"), languages=("en",))
        add(index, headline="Design mentor", skills=("figma",), languages=("de",))

        result = find(index, text="mentor", languages=("de",))

        assert result.facets == (SkillFacet("figma", 1), SkillFacet("python", 1), SkillFacet("teaching", 1))
        assert find(index, skills=("django",)).facets == (SkillFacet("django", 1), SkillFacet("python", 1))

    def test_facets_are_capped_and_ordered_by_count_then_name(self, index: SearchIndex) -> None:
        many = tuple(f"skill-{n:02d}" for n in range(FACET_LIMIT + 5))
        index.upsert_many([doc(skills=many), doc(skills=("zeta", "alpha")), doc(skills=("zeta", "alpha"))])

        facets = find(index).facets

        assert len(facets) == FACET_LIMIT
        assert facets[:2] == (SkillFacet("alpha", 2), SkillFacet("zeta", 2))
        assert [f.skill for f in facets[2:]] == list(many[: FACET_LIMIT - 2])
        assert {f.count for f in facets[2:]} == {1}

    def test_no_match_has_no_facets(self, index: SearchIndex) -> None:
        add(index, skills=("python",))

        assert find(index, text="cobol").facets == ()

    # --- writing -------------------------------------------------------------------

    def test_upsert_replaces_the_document_of_the_same_expert(self, index: SearchIndex) -> None:
        expert_id = add(index, headline="Python developer", skills=("python",), rate_amount=5_000)

        add(index, expert_id=expert_id, headline="Rust developer", skills=("rust",), rate_amount=9_000)

        assert ids(index, text="python") == []
        assert ids(index, text="rust") == [expert_id]
        assert ids(index, min_rate=9_000) == [expert_id]
        assert find(index).facets == (SkillFacet("rust", 1),)
        assert find(index).total == 1

    def test_upsert_many_indexes_every_document_and_returns_the_count(self, index: SearchIndex) -> None:
        documents = [doc(headline=f"Expert number{n}") for n in range(7)]

        assert index.upsert_many(iter(documents)) == 7
        assert sorted(ids(index, text="expert"), key=str) == by_id(*documents)
        assert ids(index, text="number3") == [documents[3].expert_id]

    def test_upsert_many_replaces_existing_documents(self, index: SearchIndex) -> None:
        first = add(index, headline="Old headline")

        count = index.upsert_many([doc(expert_id=first, headline="New headline"), doc(headline="Other")])

        assert count == 2
        assert ids(index, text="old") == []
        assert ids(index, text="new") == [first]
        assert find(index).total == 2

    def test_upsert_many_of_nothing_returns_zero(self, index: SearchIndex) -> None:
        assert index.upsert_many([]) == 0
        assert find(index).total == 0

    def test_remove_drops_the_expert(self, index: SearchIndex) -> None:
        gone = add(index, headline="Python", skills=("python",))
        kept = add(index, headline="Python")

        index.remove(gone)

        assert ids(index, text="python") == [kept]
        assert find(index).facets == ()

    def test_remove_of_an_absent_expert_is_no_error(self, index: SearchIndex) -> None:
        index.remove(ExpertId(new_id()))

        assert find(index).total == 0

    def test_clear_drops_every_document(self, index: SearchIndex) -> None:
        index.upsert_many([doc(headline="Python"), doc(headline="Rust")])

        index.clear()

        assert find(index) == SearchResult(expert_ids=(), total=0, facets=())
        assert find(index, text="python").total == 0

    # --- readiness ---------------------------------------------------------------------

    def test_ping_answers_and_changes_nothing(self, index: SearchIndex) -> None:
        kept = add(index, headline="Python developer")

        assert index.ping() is None
        assert index.ping() is None

        assert ids(index) == [kept]
        assert find(index, text="python").total == 1


class ReconcilableIndexContract:
    """For the indexes outside the database (ReconcilableIndex): what they hold, by id and version.

    Subclasses provide ``index``, empty at the start of each test.
    """

    def test_an_empty_index_holds_nothing(self, index: Any) -> None:
        assert index.document_versions() == {}

    def test_each_document_is_held_with_its_version(self, index: Any) -> None:
        single, *many = doc(), doc(headline="Python"), doc(rating_average=4.5, rating_count=2)
        index.upsert(single)
        index.upsert_many(many)

        assert index.document_versions() == {d.expert_id: d.version for d in (single, *many)}

    def test_a_replaced_document_has_the_new_version(self, index: Any) -> None:
        old = doc(headline="Old headline")
        new = doc(expert_id=old.expert_id, headline="New headline")
        index.upsert(old)

        index.upsert(new)

        assert new.version != old.version
        assert index.document_versions() == {old.expert_id: new.version}

    def test_removed_and_cleared_documents_are_not_held(self, index: Any) -> None:
        gone, kept = doc(), doc()
        index.upsert_many([gone, kept])

        index.remove(gone.expert_id)
        assert index.document_versions() == {kept.expert_id: kept.version}

        index.clear()
        assert index.document_versions() == {}

    def test_the_adapter_is_reconcilable(self, index: Any) -> None:
        assert isinstance(index, ReconcilableIndex)


def test_database_backed_indexes_are_not_reconcilable() -> None:
    # They commit and roll back with the profiles: nothing to reconcile (docs/replicas-and-search.md).
    assert not isinstance(SqliteSearchIndex(), ReconcilableIndex)
    assert not isinstance(PostgresSearchIndex(), ReconcilableIndex)


class TestInMemorySearchIndex(SearchIndexContract, ReconcilableIndexContract):
    @pytest.fixture
    def index(self) -> SearchIndex:
        return InMemorySearchIndex()


@pytest.mark.sqlite_only
class TestSqliteSearchIndex(SearchIndexContract):
    @pytest.fixture
    def index(self, db: None) -> SearchIndex:
        return SqliteSearchIndex()

    def test_writes_roll_back_with_the_surrounding_transaction(self, index: SearchIndex) -> None:
        kept = add(index, headline="Kept")

        def write() -> None:
            add(index, headline="Rolled back")
            index.remove(kept)

        in_rolled_back_transaction(write)

        assert ids(index) == [kept]
        assert ids(index, text="rolled") == []

    def test_search_takes_a_constant_number_of_queries(
        self, index: SearchIndex, django_assert_num_queries: Any
    ) -> None:
        index.upsert_many([doc(headline="Python", skills=("python", f"s{n}")) for n in range(60)])

        for size in (1, 50):
            with django_assert_num_queries(2):
                find(index, text="pyth", skills=("python",), languages=("en", "de"), page=PageRequest(size=size))

    def test_upsert_many_writes_in_bulk(self, index: SearchIndex, django_assert_max_num_queries: Any) -> None:
        # Three executemany statements plus the savepoint around them.
        with django_assert_max_num_queries(5):
            index.upsert_many([doc() for _ in range(100)])

        assert find(index).total == 100

    def test_database_errors_become_port_errors(self, index: SearchIndex) -> None:
        def break_the_index() -> None:
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE search_expert_fts")
            with pytest.raises(PortError):
                find(index, text="python")
            with pytest.raises(PortError):
                add(index)

        in_rolled_back_transaction(break_the_index)

        assert find(index, text="python").total == 0

    @pytest.mark.parametrize("table", ["search_expert", "search_expert_fts"])
    def test_ping_fails_when_a_table_is_missing(self, index: SearchIndex, table: str) -> None:
        def break_the_index() -> None:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE {table}")
            with pytest.raises(PortError):
                index.ping()

        in_rolled_back_transaction(break_the_index)

        assert index.ping() is None


@pytest.mark.postgres_only
class TestPostgresSearchIndex(SearchIndexContract):
    """PostgreSQL-specific behaviour (transactions, query counts, errors): tests/integration/test_postgres_search.py."""

    @pytest.fixture
    def index(self, db: None) -> SearchIndex:
        return PostgresSearchIndex()

    def test_ping_fails_when_the_table_is_missing(self, index: SearchIndex) -> None:
        def break_the_index() -> None:
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE search_expert_pg")
            with pytest.raises(PortError):
                index.ping()

        in_rolled_back_transaction(break_the_index)

        assert index.ping() is None


class _Rollback(Exception):
    pass


def in_rolled_back_transaction(action: Callable[[], None]) -> None:
    """Run ``action`` in a transaction that then rolls back (DDL included, on SQLite)."""
    with contextlib.suppress(_Rollback), transaction.atomic():
        action()
        raise _Rollback


# --- Elasticsearch: the same contract against a live server, when one is given ----------------------

# No Elasticsearch server can be installed where this suite usually runs, so this class is opt-in,
# and its skip is the one allowed skip: export ELASTICSEARCH_URL (e.g. http://localhost:9200) to run
# the whole contract against a server (see docs/elasticsearch.md). What the adapter sends is pinned
# without a server, always, by tests/unit/test_elasticsearch_requests.py. Read from the environment
# here, not from settings, because settings default the URL to localhost, which would make every
# run without a server fail rather than skip.
ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL", "")


@dataclass
class LiveElasticsearch:
    client: Any  # elasticsearch.Elasticsearch, imported only when a server is given
    alias: str

    def index_names(self) -> list[str]:
        """Every concrete index made for this alias (its name is a prefix of theirs)."""
        resolved = self.client.indices.resolve_index(name=f"{self.alias}*")
        return sorted(entry["name"] for entry in resolved["indices"])


class TestElasticsearchSearchIndex(SearchIndexContract, ReconcilableIndexContract):
    """Each test gets an alias of its own (and so indexes of its own), deleted afterwards."""

    @pytest.fixture
    def live(self) -> Iterator[LiveElasticsearch]:
        if not ELASTICSEARCH_URL:
            pytest.skip("no Elasticsearch server: set ELASTICSEARCH_URL to run the contract suite against one")
        from django.conf import settings

        from adapters.elasticsearch.client import make_client

        client = make_client(
            url=ELASTICSEARCH_URL,
            api_key=settings.ELASTICSEARCH_API_KEY,
            ca_certs=settings.ELASTICSEARCH_CA_CERTS,
            timeout=settings.ELASTICSEARCH_TIMEOUT_SECONDS,
        )
        live = LiveElasticsearch(client=client, alias=f"experthub-contract-{new_id().hex}")
        yield live
        if names := live.index_names():
            client.options(ignore_status=404).indices.delete(index=",".join(names))

    @pytest.fixture
    def index(self, live: LiveElasticsearch) -> SearchIndex:
        from adapters.elasticsearch.search import ElasticsearchSearchIndex

        # The production refresh policy ("wait_for"): the contract proves read-after-write as deployed.
        return ElasticsearchSearchIndex(live.client, live.alias)

    def test_the_index_analyser_splits_raw_text_as_the_shared_analyser(
        self, index: SearchIndex, live: LiveElasticsearch
    ) -> None:
        from search.text import analyse

        find(index)  # creates the first index behind the alias
        for text in [
            "C++/Go-lang expert",
            "Zürich café e\u0301",
            "हिन्दी शिक्षक",
            "日本語 教師",
            "don't 3.5 a_b",
            *HOSTILE_TEXTS,
        ]:
            tokens = live.client.indices.analyze(index=live.alias, analyzer="expert_text", text=text)["tokens"]
            assert [t["token"] for t in tokens] == list(analyse(text)), text

    def test_rebuild_swaps_in_a_complete_index_and_drops_the_old_one(self, index: Any, live: LiveElasticsearch) -> None:
        old = add(index, headline="Old expert")
        first_indexes = live.index_names()
        seen_while_loading: list[list[ExpertId]] = []
        new = [doc(headline="New expert one"), doc(headline="New expert two")]

        def documents() -> Iterator[ExpertDocument]:
            yield new[0]
            seen_while_loading.append(ids(index, text="expert"))  # the new index is loading now
            yield new[1]

        assert index.rebuild(documents()) == 2

        assert seen_while_loading == [[old]]
        assert sorted(ids(index, text="expert"), key=str) == by_id(*new)
        (current,) = live.client.indices.get_alias(name=live.alias)
        assert live.index_names() == [current]
        assert current not in first_indexes

    def test_rebuild_takes_over_a_concrete_index_with_the_alias_name(self, index: Any, live: LiveElasticsearch) -> None:
        live.client.indices.create(index=live.alias)  # as a write without require_alias would have made it

        index.rebuild([doc(headline="Python developer")])

        assert find(index, text="python").total == 1
        assert live.client.indices.exists_alias(name=live.alias)

    def test_document_versions_pages_through_every_document(self, index: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        import adapters.elasticsearch.search

        monkeypatch.setattr(adapters.elasticsearch.search, "VERSIONS_PAGE_SIZE", 2)
        documents = [doc(headline=f"Expert {n}") for n in range(5)]
        index.upsert_many(documents)

        assert index.document_versions() == {d.expert_id: d.version for d in documents}

    def test_an_index_made_before_versions_gets_the_field_on_first_use(self, live: LiveElasticsearch) -> None:
        from adapters.elasticsearch.search import ElasticsearchSearchIndex
        from search.experts import expert_index

        old = expert_index(f"{live.alias}-old").to_dict()
        del old["mappings"]["properties"]["version"]  # as every index made before reconciling existed
        live.client.indices.create(index=f"{live.alias}-old", **old, aliases={live.alias: {}})
        index = ElasticsearchSearchIndex(live.client, live.alias)

        index.upsert(document := doc())  # strict mapping: refused if the field were still unknown

        assert index.document_versions() == {document.expert_id: document.version}
