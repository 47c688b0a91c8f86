"""The ResponseCache contract, run against every adapter: the in-memory fake, and the Django
adapter on local memory and on a real Redis (django-redis, configured as project/cache.py does).

The Django adapter also promises what the fake has no need for (expiry, app
versions, surviving a lost generation, a backend that fails): the second class.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import BaseCache
from django.core.cache.backends.locmem import LocMemCache

from adapters.django_cache.responses import DjangoResponseCache
from adapters.memory.cache import InMemoryResponseCache
from domain.ports import ResponseCache
from project.cache import build_caches
from tests.harness.servers import RedisServer

PAGE = {"count": 2, "results": [{"id": "a", "rating": 4.5, "skills": ["django"]}], "next": None}
# Backend-agnostic: a Django cache backend, isolated from every other test's.
MakeBackend = Callable[[], BaseCache]


class ResponseCacheContract:
    """Subclasses provide ``cache``: an empty ResponseCache."""

    def test_a_key_never_set_misses(self, cache: ResponseCache) -> None:
        assert cache.get("search", "q=django") is None

    def test_a_value_set_is_served(self, cache: ResponseCache) -> None:
        cache.set("search", "q=django", PAGE)

        assert cache.get("search", "q=django") == PAGE

    def test_set_replaces_the_entry(self, cache: ResponseCache) -> None:
        cache.set("search", "q=django", PAGE)
        cache.set("search", "q=django", {"count": 0})

        assert cache.get("search", "q=django") == {"count": 0}

    def test_keys_and_namespaces_are_independent(self, cache: ResponseCache) -> None:
        cache.set("search", "k", 1)
        cache.set("search", "other", 2)
        cache.set("expert:1", "k", 3)

        assert [cache.get("search", "k"), cache.get("search", "other"), cache.get("expert:1", "k")] == [1, 2, 3]

    def test_invalidate_drops_every_entry_of_the_namespace_and_nothing_else(self, cache: ResponseCache) -> None:
        cache.set("search", "page=1", PAGE)
        cache.set("search", "page=2", PAGE)
        cache.set("expert:1", "public", PAGE)

        cache.invalidate("search")

        assert cache.get("search", "page=1") is None
        assert cache.get("search", "page=2") is None
        assert cache.get("expert:1", "public") == PAGE

    def test_entries_set_after_an_invalidation_are_served(self, cache: ResponseCache) -> None:
        cache.set("search", "k", 1)
        cache.invalidate("search")
        cache.invalidate("search")

        assert cache.get("search", "k") is None
        cache.set("search", "k", 2)
        assert cache.get("search", "k") == 2

    def test_invalidating_a_namespace_never_used_is_harmless(self, cache: ResponseCache) -> None:
        cache.invalidate("expert:never")

        cache.set("expert:never", "public", PAGE)
        assert cache.get("expert:never", "public") == PAGE

    def test_values_come_back_as_json_would_give_them(self, cache: ResponseCache) -> None:
        value = {"tuple": (1, 2), "nested": {"none": None, "float": 0.1, "text": "Zoë ✓"}, "empty": []}

        cache.set("search", "k", value)

        assert cache.get("search", "k") == {
            "tuple": [1, 2],
            "nested": {"none": None, "float": 0.1, "text": "Zoë ✓"},
            "empty": [],
        }

    def test_every_get_is_a_fresh_copy(self, cache: ResponseCache) -> None:
        cache.set("search", "k", PAGE)

        cache.get("search", "k")["results"].clear()

        assert cache.get("search", "k") == PAGE

    @pytest.mark.parametrize(
        ("namespace", "key"),
        [
            ("search", '{"q": "django rest", "skills": ["c++"]}'),  # spaces, quotes, symbols
            ("expert:3f1c5a2e-0000-4000-8000-000000000000", "public"),
            ("späce and ünïcode", "\n\t control"),
            ("n" * 300, "k" * 2000),  # over memcached's 250-character limit
        ],
    )
    def test_any_text_is_a_namespace_and_a_key(self, cache: ResponseCache, namespace: str, key: str) -> None:
        cache.set(namespace, key, PAGE)

        assert cache.get(namespace, key) == PAGE
        cache.invalidate(namespace)
        assert cache.get(namespace, key) is None

    def test_a_value_json_cannot_encode_is_a_type_error(self, cache: ResponseCache) -> None:
        with pytest.raises(TypeError):
            cache.set("search", "k", {"id": uuid.uuid4()})


class TestInMemoryResponseCache(ResponseCacheContract):
    @pytest.fixture
    def cache(self) -> ResponseCache:
        return InMemoryResponseCache()


class DjangoResponseCacheContract(ResponseCacheContract):
    """What the Django adapter promises besides the port: subclasses provide ``backend``."""

    @pytest.fixture
    def cache(self, backend: MakeBackend) -> ResponseCache:
        return DjangoResponseCache(version="1.0.0", timeout=60, cache=backend())

    def test_entries_expire_after_the_timeout(self, backend: MakeBackend) -> None:
        cache = DjangoResponseCache(version="1.0.0", timeout=1, cache=backend())
        cache.set("search", "k", PAGE)

        time.sleep(1.2)

        assert cache.get("search", "k") is None

    def test_app_versions_never_serve_each_other_but_share_invalidations(self, backend: MakeBackend) -> None:
        shared = backend()
        old, new = (DjangoResponseCache(version=v, timeout=60, cache=shared) for v in ("1.0.0", "1.1.0"))
        old.set("expert:1", "public", {"rendered_by": "1.0.0"})

        assert new.get("expert:1", "public") is None
        new.set("expert:1", "public", {"rendered_by": "1.1.0"})
        assert old.get("expert:1", "public") == {"rendered_by": "1.0.0"}

        new.invalidate("expert:1")  # a write handled by the new release, during a rolling deploy
        assert old.get("expert:1", "public") is None

    def test_a_lost_generation_never_brings_old_entries_back(self, backend: MakeBackend) -> None:
        shared = backend()
        cache = DjangoResponseCache(version="1.0.0", timeout=60, cache=shared)
        cache.set("search", "k", {"stale": True})
        cache.invalidate("search")

        shared.delete("experthub:gen:search")  # evicted under memory pressure

        assert cache.get("search", "k") is None
        cache.set("search", "k", {"stale": False})
        assert cache.get("search", "k") == {"stale": False}

    def test_a_page_rendered_before_a_concurrent_invalidation_is_never_served(self, backend: MakeBackend) -> None:
        shared = backend()
        reader, writer = (DjangoResponseCache(version="1.0.0", timeout=60, cache=shared) for _ in range(2))

        assert reader.get("expert:1", "public") is None  # the reader misses and reads the database...
        writer.invalidate("expert:1")  # ...a write commits meanwhile...
        reader.set("expert:1", "public", {"stale": True})  # ...and the reader caches what it read

        assert writer.get("expert:1", "public") is None

    def test_a_failing_backend_is_a_miss_never_an_error(self, caplog: pytest.LogCaptureFixture) -> None:
        cache = DjangoResponseCache(version="1.0.0", timeout=60, cache=FailingBackend())

        with caplog.at_level(logging.WARNING, logger="adapters.django_cache.responses"):
            cache.set("search", "k", PAGE)
            cache.invalidate("search")
            assert cache.get("search", "k") is None

        assert "Response cache unavailable" in caplog.text

    def test_an_invalidation_made_during_an_outage_lands_once_the_cache_answers(self) -> None:
        backend = FlakyBackend()
        cache = DjangoResponseCache(version="1.0.0", timeout=60, cache=backend, outage_backoff=0)
        cache.set("expert:1", "public", {"headline": "before the write"})

        backend.down = True
        cache.invalidate("expert:1")  # the write commits while the cache is unreachable
        backend.down = False

        assert cache.get("expert:1", "public") is None

    def test_pending_invalidations_cost_one_attempt_while_the_cache_is_down(self) -> None:
        backend = FlakyBackend()
        cache = DjangoResponseCache(version="1.0.0", timeout=60, cache=backend, outage_backoff=0)
        backend.down = True
        for n in range(10):
            cache.invalidate(f"expert:{n}")
        backend.attempts = 0

        assert cache.get("search", "k") is None
        assert backend.attempts <= 3  # one pending retry (then it stops), the generation read and its creation

        backend.down = False
        cache.get("search", "k")
        assert all(backend.get(f"experthub:gen:expert:{n}") is not None for n in range(10))

    def test_after_a_failure_the_cache_is_left_alone_for_the_backoff(self) -> None:
        backend = FlakyBackend()
        cache = DjangoResponseCache(version="1.0.0", timeout=60, cache=backend, outage_backoff=0.3)
        backend.down = True
        cache.get("search", "k")
        backend.attempts = 0

        cache.set("search", "k", PAGE)
        cache.invalidate("expert:1")
        assert cache.get("search", "k") is None
        assert backend.attempts == 0  # a hung Redis would have cost a timeout each

        backend.down = False
        time.sleep(0.35)
        assert cache.get("search", "k") is None  # the pending invalidation lands first
        assert backend.get("experthub:gen:expert:1") is not None
        cache.set("search", "k", PAGE)
        assert cache.get("search", "k") == PAGE


class FlakyBackend(LocMemCache):
    """Local memory that fails every operation while ``down``, and counts the attempts."""

    def __init__(self) -> None:
        super().__init__(f"flaky-{uuid.uuid4().hex}", {})
        self.down = False
        self.attempts = 0

    def _check(self) -> None:
        self.attempts += 1
        if self.down:
            raise ConnectionError("down")

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return super().get(*args, **kwargs)

    def set(self, *args: Any, **kwargs: Any) -> None:
        self._check()
        super().set(*args, **kwargs)

    def add(self, *args: Any, **kwargs: Any) -> bool:
        self._check()
        return super().add(*args, **kwargs)

    def incr(self, *args: Any, **kwargs: Any) -> int:
        self._check()
        return super().incr(*args, **kwargs)


class FailingBackend(LocMemCache):
    """A Django cache whose every operation fails, as a backend without IGNORE_EXCEPTIONS would."""

    def __init__(self) -> None:
        super().__init__("failing", {})

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("down")

    add = set = incr = delete = get


class TestDjangoLocMemResponseCache(DjangoResponseCacheContract):
    @pytest.fixture
    def backend(self) -> MakeBackend:
        name = f"contract-{uuid.uuid4().hex}"
        return lambda: LocMemCache(name, {})


@pytest.mark.integration
class TestDjangoRedisResponseCache(DjangoResponseCacheContract):
    @pytest.fixture
    def backend(self, redis_server: RedisServer) -> MakeBackend:
        return redis_backend(redis_server.url, key_prefix=f"contract-{uuid.uuid4().hex}")


def redis_backend(url: str, *, key_prefix: str = "", socket_timeout: float = 2.0) -> MakeBackend:
    """django-redis as project/cache.py configures it for REDIS_URL (a patient timeout: a busy CI machine)."""
    from django_redis.cache import RedisCache

    config = build_caches(redis_url=url, socket_timeout=socket_timeout, ssl_cert_reqs="required", ssl_ca_certs=None)
    params = {**config["default"], "KEY_PREFIX": key_prefix}
    return lambda: RedisCache(url, params)
