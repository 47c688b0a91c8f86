"""The Elasticsearch client, made by the container on first use (never at import)."""

from __future__ import annotations

from typing import Any

from elastic_transport.client_utils import DEFAULT
from elasticsearch import Elasticsearch

# Under gevent one worker serves many requests at once, and a request that finds
# every pooled connection busy waits for one with no timeout at all. One
# connection per greenlet (gunicorn's worker_connections here) means a hung
# server costs each request its request timeout, never a queue of them.
CONNECTIONS_PER_NODE = 100


def make_client(
    *,
    url: str,
    api_key: str | None,
    ca_certs: str | None,
    timeout: float,
    connections: int = CONNECTIONS_PER_NODE,
    **options: Any,
) -> Elasticsearch:
    """A client for the cluster at ``url`` (``https://user:password@host:port`` carries basic auth).

    Short and final: each request gives up after ``timeout`` seconds and is never
    retried after a timeout (a slow cluster must not hold a web request twice as
    long); a refused connection or a 429/502/503/504 answer is retried once.
    ``ca_certs`` is a CA bundle path for a private CA (https only). ``options``
    go to ``Elasticsearch()`` as they are (tests pass a ``node_class``).
    """
    return Elasticsearch(
        hosts=[url],
        api_key=api_key or None,
        request_timeout=timeout,
        max_retries=1,
        retry_on_timeout=False,
        connections_per_node=connections,
        ca_certs=ca_certs or DEFAULT,  # the client refuses TLS options on http:// even when None
        **options,
    )
