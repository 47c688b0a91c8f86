"""Throttles on a real Redis that hangs (SIGSTOP) and comes back: the limit never lifts.

While Redis answers, the counters are in Redis (the ``throttle`` alias, as
project/cache.py builds it for REDIS_URL). While it hangs, each cache call gives up
after the socket timeout and the throttle counts in the process's own memory, logging
why; once it answers again, the counts kept in Redis are the ones that count.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from rest_framework.test import APIClient

from adapters.redis.breaker import breaker_reset
from api.throttles import THROTTLE_CACHE
from project.cache import build_caches
from tests.harness.servers import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

REFRESH = "/api/v1/auth/token/refresh/"
LIMIT = 2


@pytest.fixture
def throttled_on(own_redis_server: RedisServer, settings: Any) -> RedisServer:
    caches = build_caches(
        redis_url=own_redis_server.url, socket_timeout=0.25, ssl_cert_reqs="required", ssl_ca_certs=None
    )
    settings.CACHES = {**settings.CACHES, THROTTLE_CACHE: caches[THROTTLE_CACHE]}
    rates = dict.fromkeys(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], f"{LIMIT}/min")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    return own_redis_server


def refreshes(address: str, count: int) -> list[int]:
    anon = APIClient()
    return [anon.post(REFRESH, {"refresh": "x"}, REMOTE_ADDR=address).status_code for _ in range(count)]


def test_the_limit_holds_before_during_and_after_a_redis_outage(
    throttled_on: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert refreshes("192.0.2.1", LIMIT + 1) == [401] * LIMIT + [429]

    throttled_on.hang()
    try:
        with caplog.at_level(logging.WARNING, logger="api.throttles"):
            during = refreshes("192.0.2.2", LIMIT + 1)
    finally:
        throttled_on.resume()
    # The circuit breaker (adapters/redis/breaker.py) keeps skipping the server for REDIS_BREAKER_SECONDS
    # after its timeout; forget that, as a process does once that time has passed.
    breaker_reset()

    assert during == [401] * LIMIT + [429]
    assert any("Throttle store unavailable" in record.getMessage() for record in caplog.records)
    assert refreshes("192.0.2.1", 1) == [429]  # Redis's count from before the outage still holds
    assert refreshes("192.0.2.3", LIMIT + 1) == [401] * LIMIT + [429]
