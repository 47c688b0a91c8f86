"""The circuit breaker of the Redis connections (adapters/redis/breaker.py), on a real redis-server.

A hung server (SIGSTOP) costs one socket timeout; then every command of the process to
it fails at once (ConnectionError, not another TimeoutError) until the breaker's time
is over. A restarted server closes the pooled connections: that must not trip it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from django.core.cache.backends.base import BaseCache
from django_redis.cache import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from adapters.redis.breaker import BreakerConnection, breaker_reset
from adapters.redis.client import make_client
from project.cache import build_caches
from tests.harness.servers import RedisServer

pytestmark = pytest.mark.integration

SOCKET_TIMEOUT = 0.25
BREAKER_SECONDS = 1.0


@pytest.fixture
def client(own_redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = make_client(
        url=own_redis_server.url,
        socket_timeout=SOCKET_TIMEOUT,
        ssl_cert_reqs="required",
        ssl_ca_certs=None,
        breaker_seconds=BREAKER_SECONDS,
    )
    yield client
    client.close()
    breaker_reset()


def test_after_one_timeout_a_hung_server_is_not_waited_for_again(
    own_redis_server: RedisServer, client: redis.Redis
) -> None:
    client.set("k", "v")
    own_redis_server.hang()
    try:
        with pytest.raises(RedisTimeoutError):
            client.get("k")
        for _ in range(3):
            with pytest.raises(RedisConnectionError, match="timed out recently"):
                client.get("k")
    finally:
        own_redis_server.resume()

    time.sleep(BREAKER_SECONDS)
    assert client.get("k") == "v"  # tried again once the breaker's time is over


def test_a_restarted_server_is_used_again_at_once(own_redis_server: RedisServer, client: redis.Redis) -> None:
    client.set("k", "v")
    port = own_redis_server.port
    own_redis_server.stop()
    restarted = RedisServer(port=port).start()
    try:
        assert client.get("k") is None  # a fresh server: the stale connection was retried, not tripped
        client.set("k", "again")
        assert client.get("k") == "again"
    finally:
        restarted.stop()


def test_the_django_cache_uses_the_breaker(own_redis_server: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    caches = build_caches(
        redis_url=own_redis_server.url, socket_timeout=SOCKET_TIMEOUT, ssl_cert_reqs="required", ssl_ca_certs=None
    )
    assert caches["default"]["OPTIONS"]["CONNECTION_POOL_KWARGS"]["connection_class"] is BreakerConnection
    cache: BaseCache = RedisCache(own_redis_server.url, caches["default"])
    own_redis_server.hang()
    try:
        assert cache.get("k") is None  # the timeout: a miss
        caplog.clear()
        assert cache.get("k") is None  # the breaker: a miss without trying the server
    finally:
        own_redis_server.resume()
        breaker_reset()

    assert "timed out recently" in caplog.text  # django-redis logs the error it ignored
