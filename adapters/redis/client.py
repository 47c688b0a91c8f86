"""The redis-py client the Redis adapters share, made by the container on first use (never at import)."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.retry import Retry

from adapters.redis.breaker import BREAKER_SECONDS, breaker_connection_class

# PING a connection that sat idle this long before reusing it.
HEALTH_CHECK_INTERVAL_SECONDS = 30


def make_client(
    *,
    url: str,
    socket_timeout: float,
    ssl_cert_reqs: str,
    ssl_ca_certs: str | None,
    breaker_seconds: float = BREAKER_SECONDS,
) -> redis.Redis:
    """A pooled client for REDIS_URL that fails fast.

    Connect and read timeouts are ``socket_timeout`` so a hung server costs a
    request at most that long per command. A broken connection (a restarted
    server, a failover) is retried once at once on a fresh connection; a
    timeout is never retried, it would only double the wait, and it leaves the
    server alone for ``breaker_seconds`` (adapters/redis/breaker.py).
    """
    if not url:
        raise ValueError("REDIS_URL is not set: the Redis adapters need a server.")
    tls = {"ssl_cert_reqs": ssl_cert_reqs, "ssl_ca_certs": ssl_ca_certs} if url.startswith("rediss://") else {}
    return redis.Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        health_check_interval=HEALTH_CHECK_INTERVAL_SECONDS,
        retry=Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,)),
        connection_class=breaker_connection_class(url),
        breaker_seconds=breaker_seconds,
        **tls,
    )
