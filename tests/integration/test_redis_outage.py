"""A Redis outage never fails a request: with Redis stopped or hung (SIGSTOP), every request is
answered from the database, bounded by the short socket timeouts.

Django's cache and the Redis view counter both point at a redis-server of
this test's own (``own_redis_server``), configured exactly as project/cache.py
and adapters/redis/client.py configure them for REDIS_URL, with the default
0.25 s socket timeout. The time bound asserted here is only a sanity guard
(a stalled worker would blow through it); latency targets belong in bench/.
Run with ``-s`` to see the measured latencies.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from dependency_injector import providers
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from adapters.django_cache.responses import DjangoResponseCache
from adapters.redis.client import make_client
from adapters.redis.counters import RedisExpertViewCounter
from domain.experts import ExpertProfile
from domain.money import Money
from domain.users import Role, User
from project.cache import build_caches
from project.container import container
from tests.harness.servers import RedisServer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SOCKET_TIMEOUT = 0.25
OUTAGE_BACKOFF = 1.0  # DjangoResponseCache's default
SANITY_BOUND_SECONDS = 5.0
API = "/api/v1"


@dataclass
class Marketplace:
    redis: RedisServer
    owner: APIClient
    anon: APIClient
    profile: ExpertProfile

    @property
    def detail(self) -> str:
        return f"{API}/experts/{self.profile.id}/"


@pytest.fixture
def marketplace(own_redis_server: RedisServer, settings: Any) -> Iterator[Marketplace]:
    """The API on Redis: Django's cache (django-redis) and the view counter, plus one published expert."""
    redis_options: dict[str, Any] = {
        "socket_timeout": SOCKET_TIMEOUT,
        "ssl_cert_reqs": "required",
        "ssl_ca_certs": None,
        "breaker_seconds": OUTAGE_BACKOFF,  # a breaker as short as the adapters' backoff: the test waits it out
    }
    # pytest-django's settings fixture makes Django drop its cache connections, now and after the test.
    settings.CACHES = build_caches(redis_url=own_redis_server.url, **redis_options)
    client = make_client(url=own_redis_server.url, **redis_options)
    response_cache = DjangoResponseCache(version=settings.APP_VERSION, timeout=60, outage_backoff=OUTAGE_BACKOFF)
    with (
        container.redis_client.override(client),
        container.view_counter.override(providers.Singleton(RedisExpertViewCounter, client=container.redis_client)),
        container.response_cache.override(response_cache),
    ):
        container.search().clear()  # an index outside the ORM survives the transactional flush
        owner, profile = published_expert()
        yield Marketplace(redis=own_redis_server, owner=owner, anon=APIClient(), profile=profile)
    client.close()


def published_expert() -> tuple[APIClient, ExpertProfile]:
    user: User = container.account_register(
        email="ada@example.com", password="Correct-horse-battery-staple-9", name="Ada", role=Role.EXPERT
    )
    profile = container.expert_create(
        actor=user.id, headline="Django consultant", skills=["django"], hourly_rate=Money(12000, "EUR")
    )
    container.expert_publish(actor=user.id, expert_id=profile.id)
    owner = APIClient()
    owner.force_authenticate(user=get_user_model().objects.get(pk=user.id))
    return owner, profile


def timed(request: Callable[[], Any], label: str) -> Any:
    started = time.monotonic()
    response = request()
    elapsed = time.monotonic() - started
    print(f"  {label:<40} {response.status_code}  {elapsed * 1000:7.1f} ms")
    assert response.status_code < 500, (label, response.content)
    assert elapsed < SANITY_BOUND_SECONDS, (label, elapsed)
    return response


def every_request(m: Marketplace, phase: str) -> None:
    """Public reads (cached and not), the trending list, and a write that must invalidate."""
    timed(lambda: m.anon.get(f"{API}/experts/", {"q": "django"}), f"{phase}: search (cached before)")
    timed(lambda: m.anon.get(f"{API}/experts/", {"q": phase}), f"{phase}: search (never cached)")
    timed(lambda: m.anon.get(m.detail), f"{phase}: profile (cached before)")
    timed(lambda: m.anon.get(f"{API}/experts/trending/"), f"{phase}: trending")
    edited = timed(lambda: m.owner.patch(m.detail, {"headline": f"Edited while {phase}"}), f"{phase}: edit")
    assert edited.status_code == 200
    assert (
        timed(lambda: m.anon.get(m.detail), f"{phase}: profile after edit").json()["headline"]
        == edited.json()["headline"]
    )


def warm_up(m: Marketplace) -> None:
    m.anon.get(f"{API}/experts/", {"q": "django"})
    m.anon.get(m.detail)


def test_healthy_redis_serves_repeated_reads_without_the_database(
    marketplace: Marketplace, django_assert_num_queries: Any
) -> None:
    warm_up(marketplace)

    with django_assert_num_queries(0):  # the page from Redis, the view counted in Redis
        assert marketplace.anon.get(marketplace.detail).status_code == 200
        assert marketplace.anon.get(f"{API}/experts/", {"q": "django"}).status_code == 200

    assert container.view_counter().count(marketplace.profile.id) == 2


def test_every_request_succeeds_with_redis_stopped(marketplace: Marketplace) -> None:
    warm_up(marketplace)
    print()

    marketplace.redis.stop()

    every_request(marketplace, "stopped")


def test_every_request_succeeds_with_redis_hung(marketplace: Marketplace) -> None:
    warm_up(marketplace)
    print()

    marketplace.redis.hang()
    try:
        every_request(marketplace, "hung")
    finally:
        marketplace.redis.resume()

    # The edit's invalidation could not reach Redis while it hung: once the backoff is over it lands
    # before the next read, so the page cached before the edit is never served again.
    time.sleep(OUTAGE_BACKOFF)
    page = timed(lambda: marketplace.anon.get(marketplace.detail), "resumed: profile")
    assert page.json()["headline"] == "Edited while hung"
    assert container.view_counter().count(marketplace.profile.id) >= 1


def test_a_restarted_redis_is_used_again_at_once(marketplace: Marketplace) -> None:
    warm_up(marketplace)
    port = marketplace.redis.port

    marketplace.redis.stop()
    marketplace.redis = RedisServer(port=port).start()
    try:
        # Pooled connections to the old process are dead: the client retries once on a fresh one.
        container.expert_record_view(expert_id=marketplace.profile.id)
        assert container.view_counter().count(marketplace.profile.id) == 1
        warm_up(marketplace)
        assert marketplace.anon.get(marketplace.detail).status_code == 200
    finally:
        marketplace.redis.stop()
