"""The exact requests the Elasticsearch adapter sends, through the real client, with no server.

A fake transport node stands in for the cluster: the official client (made by
make_client, as in production) serialises every request exactly as it would
for a server, and the node records the HTTP method, path, query string, body
and timeout, then answers with canned JSON. So these tests pin the index
definition, the queries, the bulk bodies and the alias swap on the wire. What
the cluster then does with them is the contract suite's job: it runs this
adapter against a live server when ELASTICSEARCH_URL is set
(tests/contract/test_search_index.py).
"""

from __future__ import annotations

import json
import logging
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from io import StringIO
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.core.management import CommandError, call_command
from elastic_transport import ApiResponseMeta, BaseNode, ConnectionTimeout, HttpHeaders
from elastic_transport import ConnectionError as ConnectionRefused
from elasticsearch import Elasticsearch

from adapters.elasticsearch.client import make_client
from adapters.elasticsearch.search import ElasticsearchSearchIndex
from adapters.memory.search import InMemorySearchIndex
from adapters.memory.store import FixedClock
from domain.errors import PortError
from domain.ids import ExpertId
from domain.pagination import PageRequest
from domain.ports import RebuildableIndex, ReconcilableIndex
from domain.search import ExpertDocument, SearchQuery, SearchResult, SearchSort, SkillFacet
from domain.users import Role
from project.container import container
from services.experts import SEARCH_PAGES, search_rebuild
from tests.unit.conftest import World

ALIAS = "experts"
NEW_INDEX = "experts-20300102030405678901"  # the alias plus the rebuild clock's UTC time
REBUILD_CLOCK = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
TIMEOUT = 3.0
MAINTENANCE_TIMEOUT = 120.0
EXPERT_A = "0b7cbd3e-54a2-4c5e-9a3c-2f0a0d1e5a01"
EXPERT_B = "5f3e2a10-8c1b-4f7d-a2e4-6b9c0d8e7f02"
ID_A = ExpertId(uuid.UUID(EXPERT_A))
ID_B = ExpertId(uuid.UUID(EXPERT_B))

WORDS_FIELD = {"type": "text", "analyzer": "expert_text", "similarity": "boolean"}
AUTOCOMPLETE_FIELD = {
    "type": "text",
    "analyzer": "expert_autocomplete",
    "search_analyzer": "expert_text",
    "similarity": "boolean",
}
INDEX_DEFINITION = {
    "settings": {
        "number_of_shards": 1,
        "analysis": {
            "char_filter": {"expert_drop_marks": {"type": "pattern_replace", "pattern": r"\p{Mn}+", "replacement": ""}},
            "tokenizer": {"expert_words": {"type": "pattern", "pattern": r"[^\p{L}\p{N}\p{Mc}\p{Me}\p{Co}]+"}},
            "filter": {
                "expert_prefixes": {"type": "edge_ngram", "min_gram": 1, "max_gram": 120, "preserve_original": True}
            },
            "analyzer": {
                "expert_text": {
                    "type": "custom",
                    "char_filter": ["expert_drop_marks"],
                    "tokenizer": "expert_words",
                    "filter": ["lowercase", "asciifolding"],
                },
                "expert_autocomplete": {
                    "type": "custom",
                    "char_filter": ["expert_drop_marks"],
                    "tokenizer": "expert_words",
                    "filter": ["lowercase", "asciifolding", "expert_prefixes"],
                },
            },
        },
    },
    "mappings": {
        "dynamic": "strict",
        "properties": {
            "expert_id": {"type": "keyword"},
            "headline": {**WORDS_FIELD, "fields": {"autocomplete": AUTOCOMPLETE_FIELD}},
            "bio": WORDS_FIELD,
            "skills": {"type": "keyword", "fields": {"text": WORDS_FIELD, "autocomplete": AUTOCOMPLETE_FIELD}},
            "languages": {"type": "keyword"},
            "rate_amount": {"type": "long"},
            "currency": {"type": "keyword"},
            "rating_average": {"type": "float"},
            "rating_count": {"type": "integer"},
            "published_at": {"type": "date"},
            "version": {"type": "keyword", "index": False},
        },
    },
}
# Put onto an index that exists on first use: fields added to the definition since it was made.
ADDED_FIELDS = {"properties": {"version": {"type": "keyword", "index": False}}}
TIEBREAK = [
    {"rating_average": {"order": "desc", "missing": "_last"}},
    {"rating_count": {"order": "desc"}},
    {"expert_id": {"order": "asc"}},
]
FACETS_AGGREGATION = {
    "skills": {"terms": {"field": "skills", "size": 30, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
}
EMPTY_SEARCH_RESPONSE = {
    "hits": {"total": {"value": 0, "relation": "eq"}, "hits": []},
    "aggregations": {"skills": {"buckets": []}},
}


# --- a fake cluster behind the real client ---------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    body: Any  # the JSON body; NDJSON as a list of its lines; None without a body
    headers: dict[str, str]
    timeout: float | None

    @property
    def line(self) -> tuple[str, str]:
        return self.method, self.path


class _Reply(NamedTuple):
    # What the transport expects back from a node (elastic_transport's NodeApiResponse).
    meta: ApiResponseMeta
    body: bytes


Answer = tuple[int, Any] | Exception


class FakeCluster:
    """Records every request; answers from routes, else as a healthy empty cluster would."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._routes: dict[tuple[str, str], list[Answer]] = {}

    def on(self, method: str, path: str, *answers: Answer) -> None:
        """Answer ``method path`` with these, in turn; the last one keeps answering."""
        self._routes[(method, path)] = list(answers)

    def node_class(self) -> type[BaseNode]:
        cluster = self

        class FakeNode(BaseNode):
            def perform_request(  # type: ignore[override]  # answers a look-alike of the private NodeApiResponse
                self,
                method: str,
                target: str,
                body: bytes | None = None,
                headers: HttpHeaders | None = None,
                request_timeout: Any = None,
            ) -> _Reply:
                request = _request(method, target, body, headers, request_timeout)
                cluster.requests.append(request)
                status, payload = cluster._answer(request)
                headers = HttpHeaders({"content-type": "application/json", "x-elastic-product": "Elasticsearch"})
                meta = ApiResponseMeta(
                    status=status, http_version="1.1", headers=headers, duration=0.0, node=self.config
                )
                return _Reply(meta, json.dumps(payload).encode())

        return FakeNode

    def sent(self) -> list[Request]:
        """The requests after the adapter's one-off alias check and field update, which must come first."""
        check, added_fields, *rest = self.requests
        assert check.line == ("HEAD", f"/_alias/{ALIAS}")
        assert added_fields.line == ("PUT", f"/{ALIAS}/_mapping")
        assert added_fields.body == ADDED_FIELDS
        return rest

    def _answer(self, request: Request) -> tuple[int, Any]:
        answers = self._routes.get(request.line)
        answer = (answers.pop(0) if len(answers) > 1 else answers[0]) if answers else _default_answer(request)
        if isinstance(answer, Exception):
            raise type(answer)(*answer.args)  # a fresh one each time: the transport annotates what it catches
        return answer


def _request(method: str, target: str, body: bytes | None, headers: Any, timeout: Any) -> Request:
    url = urlsplit(target)
    header_map = {k.lower(): v for k, v in dict(headers or {}).items()}
    if body is None:
        parsed = None
    elif "ndjson" in header_map.get("content-type", ""):
        parsed = [json.loads(line) for line in body.decode().splitlines()]
    else:
        parsed = json.loads(body)
    return Request(method, url.path, dict(parse_qsl(url.query)), parsed, header_map, timeout)


def _default_answer(request: Request) -> tuple[int, Any]:
    if request.path.endswith("/_bulk"):
        actions = request.body[::2]
        return 200, {"errors": False, "items": [{"index": {"_id": a["index"]["_id"], "status": 201}} for a in actions]}
    if request.path.endswith("/_search"):
        return 200, EMPTY_SEARCH_RESPONSE
    return 200, {"acknowledged": True}


def error(status: int, kind: str) -> tuple[int, Any]:
    return status, {"error": {"type": kind, "reason": kind, "root_cause": [{"type": kind, "reason": kind}]}}


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def client(cluster: FakeCluster) -> Elasticsearch:
    return make_client(
        url="http://es.test:9200", api_key=None, ca_certs=None, timeout=TIMEOUT, node_class=cluster.node_class()
    )


@pytest.fixture
def index(client: Elasticsearch) -> ElasticsearchSearchIndex:
    return ElasticsearchSearchIndex(client, ALIAS, clock=FixedClock(REBUILD_CLOCK))


def document(expert_id: str = EXPERT_A, **overrides: Any) -> ExpertDocument:
    values: dict[str, Any] = {
        "expert_id": ExpertId(uuid.UUID(expert_id)),
        "headline": "Café owner in Zürich",
        "bio": "Ten years of PostgreSQL, C++/Go-lang.",
        "skills": ("machine-learning", "c++"),
        "languages": ("de", "en"),
        "rate_amount": 12_000,
        "currency": "EUR",
        "rating_average": 4.5,
        "rating_count": 3,
        "published_at": datetime(2030, 1, 1, 9, 0, tzinfo=UTC),
    }
    return ExpertDocument(**{**values, **overrides})


def stored(expert_id: str = EXPERT_A) -> dict[str, Any]:
    """What the index stores for document(): the text fields as the shared analyser's words, and its version."""
    return {
        "expert_id": expert_id,
        "headline": "cafe owner in zurich",
        "bio": "ten years of postgresql c go lang",
        "skills": ["machine-learning", "c++"],
        "languages": ["de", "en"],
        "rate_amount": 12_000,
        "currency": "EUR",
        "rating_average": 4.5,
        "rating_count": 3,
        "published_at": "2030-01-01T09:00:00+00:00",
        "version": document(expert_id).version,
    }


def search_body(cluster: FakeCluster, index: ElasticsearchSearchIndex, **query: Any) -> dict[str, Any]:
    index.search(SearchQuery(**query))
    request = cluster.requests[-1]
    assert request.line == ("POST", f"/{ALIAS}/_search")
    return dict(request.body)


def bulk_lines(*sources: dict[str, Any]) -> list[dict[str, Any]]:
    return [line for source in sources for line in ({"index": {"_id": source["expert_id"]}}, source)]


# --- the index definition and its first creation ------------------------------------------------


def test_first_use_creates_the_first_index_behind_the_alias(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    cluster.on("HEAD", f"/_alias/{ALIAS}", (404, None))

    index.search(SearchQuery())

    check, create, search = cluster.requests
    assert check.line == ("HEAD", "/_alias/experts")
    assert create.line == ("PUT", "/experts-initial")
    assert create.body == {**INDEX_DEFINITION, "aliases": {"experts": {}}}
    assert create.timeout == MAINTENANCE_TIMEOUT
    assert search.line == ("POST", "/experts/_search")


def test_the_alias_is_checked_once_per_process(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    index.search(SearchQuery())
    index.upsert(document())
    index.remove(ID_A)

    assert [r.line for r in cluster.sent()] == [
        ("POST", "/experts/_search"),
        ("PUT", f"/experts/_doc/{EXPERT_A}"),
        ("DELETE", f"/experts/_doc/{EXPERT_A}"),
    ]


def test_a_first_index_another_process_just_made_is_no_error(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    cluster.on("HEAD", f"/_alias/{ALIAS}", (404, None))
    cluster.on("PUT", "/experts-initial", error(400, "resource_already_exists_exception"))

    assert index.search(SearchQuery()).total == 0


def test_a_bad_index_definition_is_a_port_error(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    cluster.on("HEAD", f"/_alias/{ALIAS}", (404, None))
    cluster.on("PUT", "/experts-initial", error(400, "mapper_parsing_exception"))

    with pytest.raises(PortError):
        index.search(SearchQuery())


def test_a_vanished_alias_is_looked_for_again(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    cluster.on("POST", "/experts/_search", error(404, "index_not_found_exception"), (200, EMPTY_SEARCH_RESPONSE))

    with pytest.raises(PortError):
        index.search(SearchQuery())
    index.search(SearchQuery())

    assert [r.method for r in cluster.requests] == ["HEAD", "PUT", "POST", "HEAD", "PUT", "POST"]


# --- writes ---------------------------------------------------------------------------------------


def test_upsert_stores_the_analysers_words_under_the_expert_id_through_the_alias(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    index.upsert(document())

    (request,) = cluster.sent()
    assert request.line == ("PUT", f"/experts/_doc/{EXPERT_A}")
    # require_alias: a write never auto-creates an index; wait_for: it returns once searchable.
    assert request.params == {"require_alias": "true", "refresh": "wait_for"}
    assert request.body == stored()
    assert request.timeout == TIMEOUT


def test_an_unrated_expert_has_no_rating_average(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    index.upsert(document(rating_average=None, rating_count=0, skills=(), bio=""))

    body = cluster.sent()[0].body
    assert "rating_average" not in body
    assert body["rating_count"] == 0
    assert "skills" not in body


@pytest.mark.parametrize(("refresh", "param"), [(False, None), (True, "true"), ("wait_for", "wait_for")])
def test_writes_carry_the_chosen_refresh_policy(
    client: Elasticsearch, cluster: FakeCluster, refresh: Any, param: str
) -> None:
    index = ElasticsearchSearchIndex(client, ALIAS, refresh=refresh)

    index.upsert(document())
    index.upsert_many([document()])
    index.remove(ID_A)

    assert [r.params.get("refresh") for r in cluster.sent()] == [param, param, param]


def test_upsert_many_streams_bulk_chunks_through_the_alias(client: Elasticsearch, cluster: FakeCluster) -> None:
    index = ElasticsearchSearchIndex(client, ALIAS, chunk_size=2)
    ids = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(5)]

    count = index.upsert_many(document(expert_id) for expert_id in ids)

    assert count == 5
    requests = cluster.sent()
    assert [r.line for r in requests] == [("PUT", "/experts/_bulk")] * 3
    assert {tuple(sorted(r.params.items())) for r in requests} == {(("refresh", "wait_for"), ("require_alias", "true"))}
    assert [r.body for r in requests] == [
        bulk_lines(stored(ids[0]), stored(ids[1])),
        bulk_lines(stored(ids[2]), stored(ids[3])),
        bulk_lines(stored(ids[4])),
    ]
    assert {r.timeout for r in requests} == {MAINTENANCE_TIMEOUT}


def test_upsert_many_of_nothing_sends_nothing(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    assert index.upsert_many([]) == 0
    assert cluster.sent() == []


def test_a_rejected_document_is_a_port_error(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    rejected = {"index": {"_id": EXPERT_A, "status": 400, "error": {"type": "document_parsing_exception"}}}
    cluster.on("PUT", "/experts/_bulk", (200, {"errors": True, "items": [rejected]}))

    with pytest.raises(PortError):
        index.upsert_many([document()])


def test_remove_deletes_by_id_and_absence_is_no_error(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    cluster.on("DELETE", f"/experts/_doc/{EXPERT_A}", (404, {"result": "not_found"}))

    index.remove(ID_A)

    (request,) = cluster.sent()
    assert request.line == ("DELETE", f"/experts/_doc/{EXPERT_A}")
    assert request.params == {"refresh": "wait_for"}


def test_an_existing_index_gets_the_fields_added_since_it_was_made_on_first_use(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    index.upsert(document())

    check, added_fields, write = cluster.requests
    assert check.line == ("HEAD", f"/_alias/{ALIAS}")
    assert added_fields.line == ("PUT", "/experts/_mapping")  # onto every index behind the alias
    assert added_fields.body == ADDED_FIELDS
    assert added_fields.timeout == TIMEOUT
    assert write.body["version"] == document().version


def test_a_field_the_live_index_refuses_is_a_port_error(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    cluster.on("PUT", "/experts/_mapping", error(400, "illegal_argument_exception"))

    with pytest.raises(PortError):
        index.upsert(document())


# --- reading what the index holds, for the reconcile ------------------------------------------------


def version_hit(expert_id: str, version: str | None, sort: int) -> dict[str, Any]:
    hit: dict[str, Any] = {"_index": "experts-initial", "_id": expert_id, "_score": None, "sort": [sort]}
    if version is not None:
        hit["fields"] = {"version": [version]}
    return hit


def test_document_versions_pages_a_point_in_time_fetching_ids_and_versions_only(
    cluster: FakeCluster, index: ElasticsearchSearchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("adapters.elasticsearch.search.VERSIONS_PAGE_SIZE", 2)
    expert_c = "9d1e7c55-0c4e-4a11-8f1b-3a2b1c0d9e03"
    cluster.on("POST", "/experts/_pit", (200, {"id": "pit-1"}))
    cluster.on(
        "POST",
        "/_search",
        (
            200,
            {"pit_id": "pit-2", "hits": {"hits": [version_hit(EXPERT_A, "v-a", 7), version_hit(EXPERT_B, "v-b", 9)]}},
        ),
        (200, {"pit_id": "pit-3", "hits": {"hits": [version_hit(expert_c, None, 12)]}}),  # written before versions
    )

    versions = index.document_versions()

    assert versions == {ID_A: "v-a", ID_B: "v-b", ExpertId(uuid.UUID(expert_c)): ""}
    opened, first, second, closed = cluster.sent()
    assert opened.line == ("POST", "/experts/_pit")
    assert opened.params == {"keep_alive": "2m"}
    page = {
        "pit": {"id": "pit-1", "keep_alive": "2m"},
        "sort": [{"_shard_doc": "asc"}],
        "size": 2,
        "_source": False,
        "docvalue_fields": ["version"],
        "track_total_hits": False,
    }
    assert first.line == ("POST", "/_search")
    assert first.body == page
    assert second.body == {**page, "pit": {"id": "pit-2", "keep_alive": "2m"}, "search_after": [9]}
    assert closed.line == ("DELETE", "/_pit")
    assert closed.body == {"id": "pit-3"}
    assert {r.timeout for r in (opened, first, second, closed)} == {MAINTENANCE_TIMEOUT}


def test_document_versions_of_an_empty_index_reads_one_page(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    cluster.on("POST", "/experts/_pit", (200, {"id": "pit-1"}))
    cluster.on("POST", "/_search", (200, {"hits": {"hits": []}}))

    assert index.document_versions() == {}
    assert [r.line for r in cluster.sent()] == [("POST", "/experts/_pit"), ("POST", "/_search"), ("DELETE", "/_pit")]


def test_a_failed_page_closes_the_point_in_time_and_is_a_port_error(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    cluster.on("POST", "/experts/_pit", (200, {"id": "pit-1"}))
    cluster.on("POST", "/_search", error(503, "search_phase_execution_exception"))

    with pytest.raises(PortError):
        index.document_versions()

    assert cluster.requests[-1].line == ("DELETE", "/_pit")


def test_a_point_in_time_left_open_is_logged_not_raised(
    cluster: FakeCluster, index: ElasticsearchSearchIndex, caplog: pytest.LogCaptureFixture
) -> None:
    cluster.on("POST", "/experts/_pit", (200, {"id": "pit-1"}))
    cluster.on("POST", "/_search", (200, {"hits": {"hits": [version_hit(EXPERT_A, "v-a", 1)]}}))
    cluster.on("DELETE", "/_pit", error(503, "cluster_block_exception"))

    with caplog.at_level(logging.WARNING):
        assert index.document_versions() == {ID_A: "v-a"}

    assert "point in time" in caplog.text


def test_the_adapter_is_a_reconcilable_index(index: ElasticsearchSearchIndex) -> None:
    assert isinstance(index, ReconcilableIndex)


# --- searches ---------------------------------------------------------------------------------------


def test_text_requires_every_word_and_the_last_as_a_prefix(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    body = search_body(cluster, index, text="Senior  PYTHON/Djan")

    assert body == {
        "query": {
            "bool": {
                "must": [
                    {
                        "multi_match": {
                            "query": "senior",
                            "fields": ["headline^10", "skills.text^4", "bio^1"],
                            "type": "most_fields",
                            "operator": "and",
                        }
                    },
                    {
                        "multi_match": {
                            "query": "python",
                            "fields": ["headline^10", "skills.text^4", "bio^1"],
                            "type": "most_fields",
                            "operator": "and",
                        }
                    },
                    {
                        "bool": {
                            "should": [
                                {
                                    "match": {
                                        "headline.autocomplete": {"query": "djan", "operator": "and", "boost": 10.0}
                                    }
                                },
                                {"match": {"skills.autocomplete": {"query": "djan", "operator": "and", "boost": 4.0}}},
                                {"match_bool_prefix": {"bio": {"query": "djan", "operator": "and", "boost": 1.0}}},
                            ],
                            "minimum_should_match": 1,
                        }
                    },
                ]
            }
        },
        "sort": [{"_score": {"order": "desc"}}, *TIEBREAK],
        "from": 0,
        "size": 20,
        "track_total_hits": True,
        "_source": False,
        "aggs": FACETS_AGGREGATION,
    }


def test_query_words_are_the_shared_analysers_so_syntax_is_never_parsed(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    body = search_body(cluster, index, text='Zürich "café" AND headline:(x*')

    must = body["query"]["bool"]["must"]
    assert [clause["multi_match"]["query"] for clause in must[:-1]] == ["zurich", "cafe", "and", "headline"]
    assert must[-1]["bool"]["should"][0]["match"]["headline.autocomplete"]["query"] == "x"


@pytest.mark.parametrize("text", ["", "   ", '"*( -', "\u200b"])
def test_text_without_words_matches_everything_in_the_tiebreak_order(
    cluster: FakeCluster, index: ElasticsearchSearchIndex, text: str
) -> None:
    body = search_body(cluster, index, text=text)

    assert body["query"] == {"bool": {"must": [{"match_all": {}}]}}
    assert body["sort"] == TIEBREAK


def test_every_filter_narrows_without_scoring(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    body = search_body(
        cluster,
        index,
        text="mentor",
        skills=("Python", "teaching"),
        languages=("de", "FR"),
        min_rate=1_000,
        max_rate=7_000,
        currency="EUR",
        min_rating=4.5,
    )

    assert body["query"]["bool"]["filter"] == [
        {"term": {"skills": "python"}},
        {"term": {"skills": "teaching"}},
        {"terms": {"languages": ["de", "fr"]}},
        {"term": {"currency": "EUR"}},
        {"range": {"rate_amount": {"gte": 1_000, "lte": 7_000}}},
        {"range": {"rating_average": {"gte": 4.5}}},
    ]
    assert len(body["query"]["bool"]["must"]) == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"min_rate": 500}, [{"range": {"rate_amount": {"gte": 500}}}]),
        ({"max_rate": 500}, [{"range": {"rate_amount": {"lte": 500}}}]),
        ({"min_rating": 0}, [{"range": {"rating_average": {"gte": 0}}}]),
        ({"currency": "JPY"}, [{"term": {"currency": "JPY"}}]),
        ({}, None),
    ],
)
def test_each_filter_alone(
    cluster: FakeCluster, index: ElasticsearchSearchIndex, query: dict[str, Any], expected: Any
) -> None:
    assert search_body(cluster, index, **query)["query"]["bool"].get("filter") == expected


@pytest.mark.parametrize(
    ("sort", "text", "expected"),
    [
        (SearchSort.RELEVANCE, "python", [{"_score": {"order": "desc"}}, *TIEBREAK]),
        (SearchSort.RELEVANCE, "", TIEBREAK),
        (SearchSort.RATING, "python", TIEBREAK),
        (SearchSort.RATE_ASC, "python", [{"rate_amount": {"order": "asc"}}, *TIEBREAK]),
        (SearchSort.RATE_DESC, "", [{"rate_amount": {"order": "desc"}}, *TIEBREAK]),
    ],
)
def test_each_sort_ends_in_the_deterministic_tiebreak(
    cluster: FakeCluster, index: ElasticsearchSearchIndex, sort: SearchSort, text: str, expected: list[Any]
) -> None:
    assert search_body(cluster, index, text=text, sort=sort)["sort"] == expected


@pytest.mark.parametrize(
    ("page", "window"),
    [
        (PageRequest(number=1, size=20), (0, 20)),
        (PageRequest(number=3, size=25), (50, 25)),
        (PageRequest(number=100, size=100), (9_900, 100)),
        (PageRequest(number=197, size=51), (9_996, 4)),  # cut at the result window
        (PageRequest(number=5_000, size=100), (10_000, 0)),  # beyond it: no hits, still a total and facets
    ],
)
def test_pages_are_from_and_size_within_the_result_window(
    cluster: FakeCluster, index: ElasticsearchSearchIndex, page: PageRequest, window: tuple[int, int]
) -> None:
    body = search_body(cluster, index, page=page)

    assert (body["from"], body["size"]) == window
    assert body["track_total_hits"] is True
    assert body["aggs"] == FACETS_AGGREGATION


def test_a_response_becomes_ids_in_order_the_exact_total_and_facets(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    cluster.on(
        "POST",
        "/experts/_search",
        (
            200,
            {
                "took": 2,
                "timed_out": False,
                "hits": {
                    "total": {"value": 42, "relation": "eq"},
                    "max_score": None,
                    "hits": [
                        {"_index": NEW_INDEX, "_id": EXPERT_B, "_score": 14.0, "sort": [14.0, 4.9, 7, EXPERT_B]},
                        {"_index": NEW_INDEX, "_id": EXPERT_A, "_score": 14.0, "sort": [14.0, 4.5, 2, EXPERT_A]},
                    ],
                },
                "aggregations": {
                    "skills": {
                        "doc_count_error_upper_bound": 0,
                        "sum_other_doc_count": 3,
                        "buckets": [{"key": "python", "doc_count": 30}, {"key": "django", "doc_count": 12}],
                    }
                },
            },
        ),
    )

    result = index.search(SearchQuery(text="python", page=PageRequest(size=2)))

    assert result == SearchResult(
        expert_ids=(ID_B, ID_A),
        total=42,
        facets=(SkillFacet("python", 30), SkillFacet("django", 12)),
    )


# --- rebuild: a new index, bulk-loaded, then one atomic alias swap ------------------------------------


def test_rebuild_loads_a_new_index_then_swaps_the_alias_and_deletes_the_old(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    cluster.on("GET", f"/_alias/{ALIAS}", (200, {"experts-initial": {"aliases": {"experts": {}}}}))
    progress: list[int] = []

    count = index.rebuild([document(EXPERT_A), document(EXPERT_B)], progress=progress.append)

    assert count == 2
    assert progress == [1, 1]
    create, bulk, settings, refresh, aliases, swap, delete = cluster.requests
    assert create.line == ("PUT", f"/{NEW_INDEX}")
    # No refreshes while loading, one at the end.
    assert create.body == {**INDEX_DEFINITION, "settings": {**INDEX_DEFINITION["settings"], "refresh_interval": "-1"}}
    assert bulk.line == ("PUT", f"/{NEW_INDEX}/_bulk")
    assert bulk.params == {}  # straight into the new index, not through the alias
    assert bulk.body == bulk_lines(stored(EXPERT_A), stored(EXPERT_B))
    assert settings.line == ("PUT", f"/{NEW_INDEX}/_settings")
    assert settings.body == {"index": {"refresh_interval": None}}
    assert refresh.line == ("POST", f"/{NEW_INDEX}/_refresh")
    assert aliases.line == ("GET", "/_alias/experts")
    assert swap.line == ("POST", "/_aliases")
    assert swap.body == {
        "actions": [
            {"remove": {"index": "experts-initial", "alias": "experts", "must_exist": True}},
            {"add": {"index": NEW_INDEX, "alias": "experts"}},
        ]
    }
    assert delete.line == ("DELETE", "/experts-initial")
    assert {r.timeout for r in cluster.requests} == {MAINTENANCE_TIMEOUT}


def test_rebuild_moves_the_alias_off_every_index_it_was_on(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    current = {"experts-1": {"aliases": {"experts": {}}}, "experts-2": {"aliases": {"experts": {}}}}
    cluster.on("GET", f"/_alias/{ALIAS}", (200, current))

    index.rebuild([])

    swap = next(r for r in cluster.requests if r.line == ("POST", "/_aliases"))
    assert swap.body["actions"] == [
        {"remove": {"index": "experts-1", "alias": "experts", "must_exist": True}},
        {"remove": {"index": "experts-2", "alias": "experts", "must_exist": True}},
        {"add": {"index": NEW_INDEX, "alias": "experts"}},
    ]
    assert cluster.requests[-1].line == ("DELETE", "/experts-1,experts-2")


def test_the_first_rebuild_only_adds_the_alias(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    cluster.on("GET", f"/_alias/{ALIAS}", (404, {"error": "alias [experts] missing", "status": 404}))
    cluster.on("HEAD", f"/{ALIAS}", (404, None))

    index.rebuild([document()])

    assert [r.line for r in cluster.requests[-3:]] == [
        ("GET", "/_alias/experts"),
        ("HEAD", "/experts"),
        ("POST", "/_aliases"),
    ]
    assert cluster.requests[-1].body == {"actions": [{"add": {"index": NEW_INDEX, "alias": "experts"}}]}


def test_rebuild_replaces_a_concrete_index_squatting_on_the_alias_name(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    cluster.on("GET", f"/_alias/{ALIAS}", (404, {"error": "alias [experts] missing", "status": 404}))
    cluster.on("HEAD", f"/{ALIAS}", (200, None))

    index.rebuild([document()])

    assert cluster.requests[-1].body == {
        "actions": [{"remove_index": {"index": "experts"}}, {"add": {"index": NEW_INDEX, "alias": "experts"}}]
    }


def test_a_failed_load_deletes_the_new_index_and_leaves_the_alias_alone(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    cluster.on("PUT", f"/{NEW_INDEX}/_bulk", error(500, "es_rejected_execution_exception"))

    with pytest.raises(PortError):
        index.rebuild([document()])

    assert [r.line for r in cluster.requests] == [
        ("PUT", f"/{NEW_INDEX}"),
        ("PUT", f"/{NEW_INDEX}/_bulk"),
        ("DELETE", f"/{NEW_INDEX}"),
    ]


def test_a_swap_lost_to_a_concurrent_rebuild_fails_whole(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    cluster.on("GET", f"/_alias/{ALIAS}", (200, {"experts-initial": {"aliases": {"experts": {}}}}))
    cluster.on("POST", "/_aliases", error(404, "aliases_not_found_exception"))

    with pytest.raises(PortError):
        index.rebuild([document()])

    assert cluster.requests[-1].line == ("DELETE", f"/{NEW_INDEX}")  # the old index is kept


def test_an_old_index_left_behind_is_logged_not_raised(
    cluster: FakeCluster, index: ElasticsearchSearchIndex, caplog: pytest.LogCaptureFixture
) -> None:
    cluster.on("GET", f"/_alias/{ALIAS}", (200, {"experts-initial": {"aliases": {"experts": {}}}}))
    cluster.on("DELETE", "/experts-initial", error(503, "cluster_block_exception"))

    with caplog.at_level(logging.WARNING):
        assert index.rebuild([document()]) == 1

    assert "experts-initial" in caplog.text


def test_clear_swaps_an_empty_index_in(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    cluster.on("GET", f"/_alias/{ALIAS}", (200, {"experts-initial": {"aliases": {"experts": {}}}}))

    index.clear()
    index.search(SearchQuery())

    assert [r.line for r in cluster.requests] == [
        ("PUT", f"/{NEW_INDEX}"),
        ("PUT", f"/{NEW_INDEX}/_settings"),
        ("POST", f"/{NEW_INDEX}/_refresh"),
        ("GET", "/_alias/experts"),
        ("POST", "/_aliases"),
        ("DELETE", "/experts-initial"),
        ("POST", "/experts/_search"),  # the swap proved the alias: no check needed
    ]


def test_the_adapter_is_a_rebuildable_index(index: ElasticsearchSearchIndex) -> None:
    assert isinstance(index, RebuildableIndex)
    assert not isinstance(InMemorySearchIndex(), RebuildableIndex)


# --- the client: short timeouts, bounded retries, credentials, every failure a PortError ---------------------


def test_a_refused_connection_is_retried_once_then_a_port_error(
    cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    cluster.on("POST", "/experts/_search", ConnectionRefused("refused"))

    with pytest.raises(PortError):
        index.search(SearchQuery(text="python"))

    assert [r.line for r in cluster.sent()] == [("POST", "/experts/_search")] * 2


def test_a_timeout_is_never_retried(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    cluster.on("POST", "/experts/_search", ConnectionTimeout("timed out"))

    with pytest.raises(PortError):
        index.search(SearchQuery(text="python"))

    assert len(cluster.sent()) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 429, 500, 503])
def test_an_error_answer_is_a_port_error(cluster: FakeCluster, index: ElasticsearchSearchIndex, status: int) -> None:
    cluster.on("POST", "/experts/_search", error(status, "some_exception"))

    with pytest.raises(PortError) as raised:
        index.search(SearchQuery())

    assert raised.value.message == "The search index is unavailable."  # the cluster's reason is only logged


def test_reads_and_single_writes_carry_the_short_timeout(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    index.search(SearchQuery())
    index.upsert(document())
    index.remove(ID_A)

    assert {r.timeout for r in cluster.requests} == {TIMEOUT}


def test_the_api_key_goes_in_the_authorization_header(cluster: FakeCluster) -> None:
    client = make_client(
        url="http://es.test:9200",
        api_key="a2V5OnNlY3JldA==",
        ca_certs=None,
        timeout=1.0,
        node_class=cluster.node_class(),
    )

    ElasticsearchSearchIndex(client, ALIAS).search(SearchQuery())

    assert {r.headers["authorization"] for r in cluster.requests} == {"ApiKey a2V5OnNlY3JldA=="}


def test_a_ca_bundle_is_used_for_https(tmp_path: Any) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")

    client = make_client(url="https://es.example:9243", api_key=None, ca_certs=str(bundle), timeout=1.0)

    (node,) = client.transport.node_pool.all()
    assert node.config.ca_certs == str(bundle)


def test_the_client_keeps_a_connection_per_greenlet_a_worker_serves() -> None:
    # Fewer would queue requests behind busy connections with no timeout at all (gevent).
    client = make_client(url="http://es.test:9200", api_key=None, ca_certs=None, timeout=1.0)

    (node,) = client.transport.node_pool.all()
    assert node.config.connections_per_node == 100


def test_a_real_client_never_connects_until_used_and_an_unreachable_server_is_a_port_error() -> None:
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = make_client(url=f"http://127.0.0.1:{port}", api_key=None, ca_certs=None, timeout=1.0)
    index = ElasticsearchSearchIndex(client, ALIAS)

    with pytest.raises(PortError):
        index.search(SearchQuery(text="python"))


# --- the search_rebuild command --------------------------------------------------------------------------


@pytest.fixture
def ports(world: World) -> Iterator[Callable[[Any], None]]:
    """Point the command's container at the world's in-memory experts and at a given search index."""
    with ExitStack() as overrides:
        overrides.enter_context(container.experts.override(world.experts))
        overrides.enter_context(container.uow.override(world.uow))
        yield lambda search: overrides.enter_context(container.search.override(search))


def test_search_rebuild_rebuilds_elasticsearch_behind_its_alias(
    world: World, cluster: FakeCluster, index: ElasticsearchSearchIndex, ports: Callable[[Any], None]
) -> None:
    published = [world.published_expert(headline=f"Expert {n}") for n in range(3)]
    world.expert_create(
        actor=world.register(Role.EXPERT, name="Drafty").id, headline="Draft", hourly_rate=published[0].hourly_rate
    )
    cluster.on("GET", f"/_alias/{ALIAS}", (200, {"experts-initial": {"aliases": {"experts": {}}}}))
    ports(index)
    out = StringIO()

    call_command("search_rebuild", verbosity=0, stdout=out)

    bulk = next(r for r in cluster.requests if r.path.endswith("/_bulk"))
    assert sorted(line["index"]["_id"] for line in bulk.body[::2]) == sorted(str(p.id) for p in published)
    assert ("POST", "/_aliases") in [r.line for r in cluster.requests]
    assert "3 published experts" in out.getvalue()


def test_search_rebuild_reindexes_other_backends_in_place(world: World, ports: Callable[[Any], None]) -> None:
    expert = world.published_expert(headline="Python mentor")
    stale = InMemorySearchIndex()
    stale.upsert(document())  # an expert the repository no longer publishes
    ports(stale)

    call_command("search_rebuild", verbosity=0, stdout=StringIO())

    assert stale.search(SearchQuery()).expert_ids == (expert.id,)


def test_search_rebuild_fails_loudly_and_leaves_the_live_index(
    world: World, cluster: FakeCluster, index: ElasticsearchSearchIndex, ports: Callable[[Any], None]
) -> None:
    world.published_expert()
    cluster.on("PUT", f"/{NEW_INDEX}/_bulk", ConnectionTimeout("timed out"))
    ports(index)

    with pytest.raises(CommandError, match="Search rebuild failed"):
        call_command("search_rebuild", verbosity=0, stdout=StringIO())

    assert ("POST", "/_aliases") not in [r.line for r in cluster.requests]


def test_a_rebuild_drops_the_cached_search_pages(
    world: World, cluster: FakeCluster, index: ElasticsearchSearchIndex
) -> None:
    world.published_expert()
    world.response_cache.set(SEARCH_PAGES, "q=python", {"count": 0})

    assert search_rebuild(experts=world.experts, search=index, uow=world.uow, response_cache=world.response_cache) == 1

    assert world.response_cache.get(SEARCH_PAGES, "q=python") is None
