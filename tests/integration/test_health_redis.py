"""/readyz against a real redis-server as cache and Celery broker, then with that server stopped."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from project.cache import build_caches
from tests.harness.servers import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def on_redis(settings: Any, own_redis_server: RedisServer) -> RedisServer:
    """Django's cache and the broker on a redis-server of this test's own (the test stops it)."""
    settings.CACHES = build_caches(
        redis_url=own_redis_server.url,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT_SECONDS,
        ssl_cert_reqs="required",
        ssl_ca_certs=None,
    )
    settings.CELERY_BROKER_URL = own_redis_server.url
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
    return own_redis_server


def checks(response: Any) -> dict[str, dict[str, Any]]:
    body = response.json()
    assert body["status"] == ("ok" if response.status_code == 200 else "fail")
    result: dict[str, dict[str, Any]] = body["checks"]
    return result


def test_ready_while_redis_answers(on_redis: RedisServer) -> None:
    response = Client().get("/readyz")

    assert response.status_code == 200, response.content
    assert checks(response)["cache"]["ok"] is True
    assert checks(response)["broker"]["ok"] is True


def test_a_stopped_redis_fails_the_cache_and_the_broker_and_the_rest_is_reported(on_redis: RedisServer) -> None:
    on_redis.stop()

    response = Client().get("/readyz")

    assert response.status_code == 503
    reported = checks(response)
    assert reported["cache"]["ok"] is False
    assert reported["cache"]["error"] == ("CheckFailed: the cache did not return the value just written (unreachable?)")
    assert reported["broker"]["ok"] is False
    assert "Connection refused" in reported["broker"]["error"]
    assert {name for name, check in reported.items() if check["ok"]} == {"database", "search", "blobs"}


def test_a_stopped_cache_alone_can_be_made_non_critical(on_redis: RedisServer, settings: Any) -> None:
    settings.CELERY_BROKER_URL = "memory://"  # the broker elsewhere, still up
    settings.READINESS_NONCRITICAL_CHECKS = ["cache"]
    on_redis.stop()

    response = Client().get("/readyz")

    assert response.status_code == 200, response.content
    assert checks(response)["cache"] == {**checks(response)["cache"], "ok": False, "critical": False}
