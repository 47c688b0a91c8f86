"""The Elasticsearch definition of the expert index: analyzers, mapping, documents and queries.

Written with ``elasticsearch.dsl``, the query DSL that ships inside the official
client since 8.18 (the standalone elasticsearch-dsl package is now a shim over
it). This module only builds objects and request bodies; it never opens a
connection: adapters/elasticsearch sends them and maps the answers.

Words are matched exactly as every other search adapter matches them: the text
fields hold the words of the shared analyser (search.text), and a query asks
for those words one by one. Elasticsearch's own analyzer splits the same way
(so ad-hoc queries in Kibana and the raw skill tags in ``skills.text`` behave
alike) and adds ASCII folding on both sides ("æ" finds "ae").

Scoring uses the ``boolean`` similarity: a word found in a field scores that
field's weight (search.text: headline > skills > bio), summed over the words
and fields it matched. BM25's rarity weighting would let a rare bio word
outrank a common skill and break that promise depending on the corpus; with
field weights alone, results that match equally are ordered by rating, then
rating count, then expert id, as the port requires.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from elasticsearch.dsl import (
    Date,
    Document,
    Float,
    Index,
    Integer,
    Keyword,
    Long,
    M,
    MetaField,
    Q,
    Search,
    Text,
    analyzer,
    char_filter,
    mapped_field,
    token_filter,
    tokenizer,
)
from elasticsearch.dsl.query import Query

from domain.experts import HEADLINE_MAX
from domain.pagination import PageRequest
from domain.search import FACET_LIMIT, ExpertDocument, SearchQuery, SearchSort
from search.text import BIO_WEIGHT, HEADLINE_WEIGHT, SKILLS_WEIGHT, analyse_document, query_terms

# Elasticsearch refuses from + size beyond index.max_result_window (its default).
MAX_RESULT_WINDOW = 10_000
# The name of the skills aggregation in a search request and its response.
SKILL_FACETS = "skills"
# Every prefix of every word a headline can hold is indexed (skills are shorter);
# a longer word still matches whole (preserve_original).
AUTOCOMPLETE_MAX_GRAM = HEADLINE_MAX

# search.text's rule on raw text: diacritics (non-spacing marks) vanish, runs of
# letters, digits and spacing marks are words, anything else separates them.
_drop_marks = char_filter("expert_drop_marks", "pattern_replace", pattern=r"\p{Mn}+", replacement="")
_words = tokenizer("expert_words", "pattern", pattern=r"[^\p{L}\p{N}\p{Mc}\p{Me}\p{Co}]+")
_prefixes = token_filter(
    "expert_prefixes", "edge_ngram", min_gram=1, max_gram=AUTOCOMPLETE_MAX_GRAM, preserve_original=True
)

expert_text = analyzer("expert_text", char_filter=[_drop_marks], tokenizer=_words, filter=["lowercase", "asciifolding"])
# Index-time only: each word and its prefixes, so a prefix is one term lookup.
expert_autocomplete = analyzer(
    "expert_autocomplete",
    char_filter=[_drop_marks],
    tokenizer=_words,
    filter=["lowercase", "asciifolding", _prefixes],
)


def _words_field(**options: Any) -> Text:
    return Text(analyzer=expert_text, similarity="boolean", **options)


def _autocomplete_field() -> Text:
    # Searched with the plain analyzer: the typed prefix must not be cut into n-grams itself.
    return Text(analyzer=expert_autocomplete, search_analyzer=expert_text, similarity="boolean")


class ExpertIndexDocument(Document):
    """One published expert as Elasticsearch stores it; ``_id`` is the expert id."""

    expert_id: M[str] = mapped_field(Keyword())
    headline: M[str] = mapped_field(_words_field(fields={"autocomplete": _autocomplete_field()}))
    bio: M[str] = mapped_field(_words_field())
    # Raw tags for filters and facets; .text and .autocomplete for the free text.
    skills: M[list[str]] = mapped_field(Keyword(fields={"text": _words_field(), "autocomplete": _autocomplete_field()}))
    languages: M[list[str]] = mapped_field(Keyword())
    rate_amount: M[int] = mapped_field(Long())
    currency: M[str] = mapped_field(Keyword())
    rating_average: M[float | None] = mapped_field(Float())  # absent when unrated
    rating_count: M[int] = mapped_field(Integer())
    published_at: M[datetime | None] = mapped_field(Date())
    # ExpertDocument.version: reconciling reads it (doc values) to find stale documents; never searched.
    version: M[str] = mapped_field(Keyword(index=False))

    class Meta:
        # A field the mapping does not know is a bug, not something to guess a type for.
        dynamic = MetaField("strict")

    class Index:
        # One shard: facet counts are exact, and a marketplace's experts fit many times over.
        settings = {"number_of_shards": 1}


def expert_index(name: str, **settings: Any) -> Index:
    """The definition of a concrete expert index called ``name``: analysis, settings and mapping.

    ``settings`` are added to the index settings (e.g. ``refresh_interval`` while bulk loading).
    """
    index = ExpertIndexDocument._index.clone(name=name)
    index.settings(**settings)
    return index


# Fields added to the definition after indexes were made with it: adding a field to a
# live index is allowed in place, so the adapter puts these onto an existing index on
# first use instead of requiring a rebuild (any other change to the definition does).
ADDED_FIELDS = ("version",)
VERSION_FIELD = "version"


def expert_added_fields() -> dict[str, Any]:
    """The mapping of ADDED_FIELDS, as ``PUT <index>/_mapping`` takes its ``properties``."""
    mapping = ExpertIndexDocument._doc_type.mapping
    return {name: mapping[name].to_dict() for name in ADDED_FIELDS}


def expert_index_document(document: ExpertDocument) -> ExpertIndexDocument:
    """What Elasticsearch stores for ``document``: its text fields as the shared analyser's words."""
    analysed = analyse_document(document)
    stored = ExpertIndexDocument(
        expert_id=str(document.expert_id),
        headline=" ".join(analysed.headline),
        bio=" ".join(analysed.bio),
        skills=list(document.skills),
        languages=list(document.languages),
        rate_amount=document.rate_amount,
        currency=document.currency,
        rating_average=document.rating_average,
        rating_count=document.rating_count,
        published_at=document.published_at,
        version=document.version,
    )
    stored.meta.id = str(document.expert_id)
    return stored


def expert_search(query: SearchQuery) -> Search:
    """The search request for ``query``: matches, filters, order, page, total and skill facets.

    Unbound: the caller adds ``.using(client).index(alias)``. Only ids come back (no _source).
    """
    terms = query_terms(query.text)
    search = Search().query(Q("bool", must=_text_clauses(terms), filter=_filters(query)))
    search = search.sort(*_sort(query.sort, ranked=bool(terms))).source(False).extra(track_total_hits=True)
    search.aggs.bucket(
        SKILL_FACETS, "terms", field="skills", size=FACET_LIMIT, order=[{"_count": "desc"}, {"_key": "asc"}]
    )
    return _page(search, query.page)


def _text_clauses(terms: tuple[str, ...]) -> list[Query]:
    """Every word must match in some field, the last one also as a prefix; none matches everything."""
    if not terms:
        return [Q("match_all")]
    *words, last = terms
    return [*(_word(word) for word in words), _prefix(last)]


def _word(word: str) -> Query:
    # most_fields: a word found in several fields scores each field's weight.
    fields = [f"headline^{HEADLINE_WEIGHT:g}", f"skills.text^{SKILLS_WEIGHT:g}", f"bio^{BIO_WEIGHT:g}"]
    return Q("multi_match", query=word, fields=fields, type="most_fields", operator="and")


def _prefix(word: str) -> Query:
    # Bio has no n-grams (it is long): there the prefix is a prefix query, which,
    # unlike match_phrase_prefix, has no cap on how many words it expands to.
    return Q(
        "bool",
        should=[
            Q("match", **{"headline.autocomplete": {"query": word, "operator": "and", "boost": HEADLINE_WEIGHT}}),
            Q("match", **{"skills.autocomplete": {"query": word, "operator": "and", "boost": SKILLS_WEIGHT}}),
            Q("match_bool_prefix", bio={"query": word, "operator": "and", "boost": BIO_WEIGHT}),
        ],
        minimum_should_match=1,
    )


def _filters(query: SearchQuery) -> list[Query]:
    """Filters narrow the matches (and so the facets) without touching the score."""
    filters = [Q("term", skills=skill) for skill in query.skills]  # every skill is required
    if query.languages:
        filters.append(Q("terms", languages=list(query.languages)))  # any language will do
    if query.currency is not None:
        filters.append(Q("term", currency=query.currency))
    rate = {bound: value for bound, value in (("gte", query.min_rate), ("lte", query.max_rate)) if value is not None}
    if rate:
        filters.append(Q("range", rate_amount=rate))
    if query.min_rating is not None:
        filters.append(Q("range", rating_average={"gte": query.min_rating}))  # unrated: no value, no match
    return filters


_TIEBREAK: tuple[dict[str, Any], ...] = (
    {"rating_average": {"order": "desc", "missing": "_last"}},
    {"rating_count": {"order": "desc"}},
    {"expert_id": {"order": "asc"}},
)
_SORTS: dict[SearchSort, tuple[dict[str, Any], ...]] = {
    SearchSort.RELEVANCE: ({"_score": {"order": "desc"}}, *_TIEBREAK),
    SearchSort.RATING: _TIEBREAK,
    SearchSort.RATE_ASC: ({"rate_amount": {"order": "asc"}}, *_TIEBREAK),
    SearchSort.RATE_DESC: ({"rate_amount": {"order": "desc"}}, *_TIEBREAK),
}


def _sort(sort: SearchSort, *, ranked: bool) -> tuple[dict[str, Any], ...]:
    # Without text every match scores the same: the tie-break is the whole order.
    return _SORTS[sort] if ranked or sort is not SearchSort.RELEVANCE else _TIEBREAK


def _page(search: Search, page: PageRequest) -> Search:
    """The page's slice, cut at the result window: a page beyond it is empty but still counts and facets."""
    start = min(page.offset, MAX_RESULT_WINDOW)
    stop = min(page.offset + page.size, MAX_RESULT_WINDOW)
    return search[start:stop]
