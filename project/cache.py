"""CACHES from REDIS_URL: django-redis with short timeouts, or process-local memory.

Two aliases: ``default`` (responses, read-your-writes pins: an outage is a
miss) and ``throttle`` (the API's rate-limit counters, which every worker and
node must share: Redis, else a table in the database; errors are raised, so
api/throttles.py can see an outage instead of a silent "no history").

Option names are django-redis's (checked against django-redis 7.0's docs and
source): SOCKET_CONNECT_TIMEOUT and SOCKET_TIMEOUT go to the redis-py
connection, IGNORE_EXCEPTIONS turns a connection failure into a miss (get
returns the default, set/add/incr return None), and CONNECTION_POOL_KWARGS is
passed to redis-py's ``ConnectionPool.from_url``, which is where the TLS
options of a ``rediss://`` URL and the circuit breaker's connection class
(adapters/redis/breaker.py) go. docs/redis.md explains the choices.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from adapters.redis.breaker import BREAKER_SECONDS, breaker_connection_class

LOCAL_MEMORY = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "experthub"}
# Created by migration orm 0009 (the same name is written there: adapters may not import project).
THROTTLE_TABLE = "experthub_throttle_cache"
THROTTLE_IN_DATABASE = {
    "BACKEND": "django.core.cache.backends.db.DatabaseCache",
    "LOCATION": THROTTLE_TABLE,
    # Django's default (300 rows, then a third culled) would drop live counters under a spread attack.
    "OPTIONS": {"MAX_ENTRIES": 100_000},
}


def build_caches(
    *,
    redis_url: str,
    socket_timeout: float,
    ssl_cert_reqs: str,
    ssl_ca_certs: str | None,
    breaker_seconds: float = BREAKER_SECONDS,
) -> dict[str, dict[str, Any]]:
    """The CACHES setting: Redis when ``redis_url`` is set, else local memory (and the database for throttles)."""
    if not redis_url:
        return {"default": dict(LOCAL_MEMORY), "throttle": dict(THROTTLE_IN_DATABASE)}
    # One timeout and the process leaves this Redis alone for breaker_seconds: the
    # several cache calls of one request (throttles, pages, pins) do not each wait.
    pool: dict[str, Any] = {"connection_class": breaker_connection_class(redis_url), "breaker_seconds": breaker_seconds}
    options: dict[str, Any] = {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        # A hung Redis must not stall a worker: every command gives up after
        # socket_timeout, and the request carries on from the database.
        "SOCKET_CONNECT_TIMEOUT": socket_timeout,
        "SOCKET_TIMEOUT": socket_timeout,
        # The cache is an optimisation: an outage is a miss, never a 500. The
        # ignored errors are logged (DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS).
        "IGNORE_EXCEPTIONS": True,
        "CONNECTION_POOL_KWARGS": pool,
    }
    if redis_url.startswith("rediss://"):
        pool |= ssl_options(ssl_cert_reqs=ssl_cert_reqs, ssl_ca_certs=ssl_ca_certs)
    redis = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url}
    return {
        "default": {**redis, "OPTIONS": options},
        "throttle": {**redis, "KEY_PREFIX": "throttle", "OPTIONS": {**options, "IGNORE_EXCEPTIONS": False}},
    }


def ssl_options(*, ssl_cert_reqs: str, ssl_ca_certs: str | None) -> dict[str, Any]:
    """redis-py's TLS options for a ``rediss://`` URL.

    ``ssl_cert_reqs``: "required" (verify the server certificate, against
    ``ssl_ca_certs`` or the system CAs), "optional", or "none" (encrypt but do
    not verify: what Heroku Key-Value Store's self-signed certificates need).
    """
    options: dict[str, Any] = {"ssl_cert_reqs": ssl_cert_reqs}
    if ssl_ca_certs:
        options["ssl_ca_certs"] = ssl_ca_certs
    return options


def redis_url_with_db(url: str, db: int) -> str:
    """The same server with another database number (redis://host:port/<db>)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))
