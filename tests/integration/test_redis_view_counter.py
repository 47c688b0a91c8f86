"""What the Redis view counter promises besides the port (the port itself: tests/contract/test_view_counter.py):
its keys and their expiry, no leftovers, and failures as PortError without stalling on a hung server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from adapters.redis.client import make_client
from adapters.redis.counters import RETENTION_DAYS, RedisExpertViewCounter
from domain.errors import PortError
from domain.ids import ExpertId, new_id
from tests.harness.servers import RedisServer, free_port

pytestmark = pytest.mark.integration

NOW = datetime(2030, 3, 15, 12, 0, tzinfo=UTC)


def client_for(url: str, socket_timeout: float = 0.25, breaker_seconds: float = 5.0) -> redis.Redis:
    return make_client(
        url=url,
        socket_timeout=socket_timeout,
        ssl_cert_reqs="required",
        ssl_ca_certs=None,
        breaker_seconds=breaker_seconds,
    )


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    connection = client_for(redis_server.url, socket_timeout=1.0)
    yield connection
    connection.close()


@pytest.fixture
def prefix() -> str:
    return f"it-{uuid.uuid4().hex}"


def test_keys_and_their_expiry(client: redis.Redis, prefix: str) -> None:
    counter = RedisExpertViewCounter(client=client, prefix=prefix)
    expert = ExpertId(new_id())

    counter.record_view(expert, at=NOW)

    assert client.get(f"{prefix}:{{views}}:total:{expert}") == "1"
    day_key = f"{prefix}:{{views}}:day:2030-03-15"
    assert client.zscore(day_key, str(expert)) == 1.0
    expected_expiry = datetime(2030, 3, 16, tzinfo=UTC) + timedelta(days=RETENTION_DAYS)
    assert client.expiretime(day_key) == int(expected_expiry.timestamp())
    assert client.ttl(f"{prefix}:{{views}}:total:{expert}") == -1  # totals are kept


def test_every_key_shares_one_cluster_hash_slot(client: redis.Redis, prefix: str) -> None:
    counter = RedisExpertViewCounter(client=client, prefix=prefix)
    for days_ago in range(3):
        counter.record_view(ExpertId(new_id()), at=NOW - timedelta(days=days_ago))

    keys = list(client.scan_iter(match=f"{prefix}:*"))

    assert len(keys) == 6
    assert all("{views}" in key for key in keys)


def test_trending_leaves_no_scratch_key_behind(client: redis.Redis, prefix: str) -> None:
    counter = RedisExpertViewCounter(client=client, prefix=prefix)
    for _ in range(3):
        counter.record_view(ExpertId(new_id()), at=NOW)

    assert len(counter.trending(now=NOW, days=7, limit=2)) == 2
    assert list(client.scan_iter(match=f"{prefix}:{{views}}:scratch:*")) == []


def test_an_unreachable_redis_is_a_port_error() -> None:
    counter = RedisExpertViewCounter(client=client_for(f"redis://127.0.0.1:{free_port()}/0"), outage_backoff=0)

    with pytest.raises(PortError):
        counter.record_view(ExpertId(new_id()), at=NOW)
    with pytest.raises(PortError):
        counter.count(ExpertId(new_id()))
    with pytest.raises(PortError):
        counter.trending(now=NOW, days=7, limit=10)


def test_a_hung_redis_costs_one_timeout_then_fails_fast_until_the_backoff_ends(
    own_redis_server: RedisServer,
) -> None:
    # The client's circuit breaker (adapters/redis/breaker.py) would keep failing fast after the
    # adapter's backoff: as short here, so the server is tried again when the backoff ends.
    client = client_for(own_redis_server.url, breaker_seconds=0.5)
    counter = RedisExpertViewCounter(client=client, outage_backoff=0.5)
    counter.record_view(ExpertId(new_id()), at=NOW)
    own_redis_server.hang()
    try:
        first, then = _timed_failure(counter), _timed_failure(counter)
        time.sleep(0.5)
        after_backoff = _timed_failure(counter)
    finally:
        own_redis_server.resume()
        client.close()

    print(f"\n  hung Redis, view counter: {first * 1000:.0f} ms, then {then * 1000:.1f} ms, ", end="")
    print(f"after the backoff {after_backoff * 1000:.0f} ms")
    assert 0.2 < first < 1.0
    assert then < 0.05
    assert 0.2 < after_backoff < 1.0


def _timed_failure(counter: RedisExpertViewCounter) -> float:
    started = time.monotonic()
    with pytest.raises(PortError):
        counter.record_view(ExpertId(new_id()), at=NOW)
    return time.monotonic() - started


def test_make_client_needs_a_url() -> None:
    with pytest.raises(ValueError, match="REDIS_URL"):
        client_for("")
