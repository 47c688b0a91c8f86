"""Where throttle counters live and whom they count: the shared ``throttle`` cache, keyed on REMOTE_ADDR.

That the store is shared between processes is proven with real gunicorn workers in
tests/integration/test_throttle_workers.py; here, in one process, what can be seen
from inside: which cache holds the counters, that X-Forwarded-For is not an identity,
and that a store outage keeps a limit (per process) and says so in the log.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from api.throttles import THROTTLE_CACHE
from project.cache import build_caches
from tests.api.conftest import API, assert_error
from tests.harness.servers import free_port

pytestmark = pytest.mark.usefixtures("tight_throttles")

REFRESH = f"{API}/auth/token/refresh/"
GARBAGE = {"refresh": "not-a-token"}


def refresh(anon: APIClient, **extra: str) -> int:
    return int(anon.post(REFRESH, GARBAGE, **extra).status_code)


def test_the_counters_live_in_the_throttle_cache_not_the_response_cache(anon: APIClient) -> None:
    refresh(anon, REMOTE_ADDR="192.0.2.7")

    assert len(caches[THROTTLE_CACHE].get("throttle_token_refresh_192.0.2.7")) == 1
    assert caches["default"].get("throttle_token_refresh_192.0.2.7") is None


def test_x_forwarded_for_is_not_an_identity(anon: APIClient) -> None:
    # From a peer that is not a trusted proxy (TRUSTED_PROXIES): its X-Forwarded-For is its own say-so.
    spoofed = [refresh(anon, REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}") for n in range(3)]

    assert spoofed == [401, 401, 429]


def test_each_client_address_has_its_own_budget(anon: APIClient) -> None:
    assert [refresh(anon, REMOTE_ADDR="192.0.2.1") for _ in range(3)] == [401, 401, 429]

    assert refresh(anon, REMOTE_ADDR="192.0.2.2") == 401


def test_with_the_store_down_the_limit_holds_per_process_and_is_logged(
    anon: APIClient, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    nobody_listens = f"redis://127.0.0.1:{free_port()}/0"
    dead = build_caches(redis_url=nobody_listens, socket_timeout=0.25, ssl_cert_reqs="required", ssl_ca_certs=None)
    settings.CACHES = {**settings.CACHES, THROTTLE_CACHE: dead[THROTTLE_CACHE]}

    with caplog.at_level(logging.WARNING, logger="api.throttles"):
        statuses = [refresh(anon, REMOTE_ADDR="192.0.2.9") for _ in range(3)]

    assert statuses == [401, 401, 429]
    assert_error(anon.post(REFRESH, GARBAGE, REMOTE_ADDR="192.0.2.9"), 429, "throttled")
    assert any("Throttle store unavailable" in record.getMessage() for record in caplog.records)
