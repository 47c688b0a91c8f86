"""ElasticsearchSearchIndex.ping on the wire, against the fake cluster of test_elasticsearch_requests.
(Against a live cluster: the contract suite's test_ping_answers_and_changes_nothing.)"""

from __future__ import annotations

import pytest
from elastic_transport import ConnectionError as ConnectionRefused

from adapters.elasticsearch.client import make_client
from adapters.elasticsearch.search import ElasticsearchSearchIndex
from domain.errors import PortError
from tests.unit.test_elasticsearch_requests import ALIAS, FakeCluster

HEALTH = ("GET", "/_cluster/health")


@pytest.fixture
def cluster() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
def index(cluster: FakeCluster) -> ElasticsearchSearchIndex:
    client = make_client(
        url="http://es.test:9200", api_key=None, ca_certs=None, timeout=3.0, node_class=cluster.node_class()
    )
    return ElasticsearchSearchIndex(client, ALIAS)


@pytest.mark.parametrize("status", ["green", "yellow"])
def test_ping_asks_for_cluster_health_and_accepts_green_and_yellow(
    cluster: FakeCluster, index: ElasticsearchSearchIndex, status: str
) -> None:
    cluster.on(*HEALTH, (200, {"status": status}))

    index.ping()

    assert [request.line for request in cluster.requests] == [HEALTH]


def test_a_red_cluster_is_not_ready(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    cluster.on(*HEALTH, (200, {"status": "red"}))

    with pytest.raises(PortError):
        index.ping()


def test_an_unreachable_cluster_is_not_ready(cluster: FakeCluster, index: ElasticsearchSearchIndex) -> None:
    cluster.on(*HEALTH, ConnectionRefused("refused"))

    with pytest.raises(PortError):
        index.ping()
