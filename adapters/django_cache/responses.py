"""ResponseCache on Django's cache framework: Redis (django-redis) in production, local memory by default.

Keys (Django adds its own KEY_PREFIX and ":1:" around them):

    experthub:gen:<namespace>                                      the namespace's generation, no expiry
    experthub:resp:<app version>:<namespace>:<generation>:<sha256 of key>  JSON text, RESPONSE_CACHE_SECONDS

Invalidating a namespace increments its generation (INCR on Redis), so every
entry cached under the old one is unreachable at once and simply expires: no
key scans, no lists of keys to delete. A missing generation (never made, or
evicted by Redis under memory pressure) is created with a random value rather
than 1, so it can never land back on a number old entries were cached under.

Generations are shared by every app version, entries are not: during a rolling
deploy a write handled by the new release also invalidates what the old one
cached, while neither ever serves the other's rendering.

``set`` stores under the generation its ``get`` saw (remembered per thread,
which gevent makes per greenlet). If a write commits and invalidates between a
request's database read and its ``set``, the stale page lands under the old
generation, where nobody reads it.

Outages. A cache outage is never an error: django-redis with IGNORE_EXCEPTIONS
turns a failure into a miss (or a None where a value was due), and anything a
backend raises is logged and treated the same way. After a failure this process
leaves the cache alone for ``outage_backoff`` seconds, so a hung Redis costs
one request per process one or two socket timeouts, not every request. An
invalidation that cannot reach the cache is kept and retried (stopping at the
first failure) before this process's next read or invalidation once the
backoff is over: without that, a write made during a partial outage would leave
its old page served for up to RESPONSE_CACHE_SECONDS once Redis answers again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import BaseCache
from django.core.cache import cache as default_cache

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Short enough that a full key stays under memcached's 250 characters (Django warns past that).
_VERSION = re.compile(r"[A-Za-z0-9._-]{1,40}")
_NAMESPACE = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class DjangoResponseCache:
    """Implements ResponseCache on a Django cache (``django.core.cache.cache`` unless one is given)."""

    def __init__(
        self, *, version: str, timeout: int, cache: BaseCache | None = None, outage_backoff: float = 1.0
    ) -> None:
        self._version = _label(version, _VERSION)
        self._timeout = timeout
        self._cache = cache
        self._outage_backoff = outage_backoff
        self._down_until = 0.0
        self._seen = threading.local()
        self._pending: set[str] = set()  # namespaces whose invalidation has not reached the cache yet
        self._pending_lock = threading.Lock()

    def get(self, namespace: str, key: str) -> Any | None:
        self._retry_pending_invalidations()
        stored = self._stored_generation(namespace)
        generation = stored if stored is not None else self._new_generation(namespace)
        self._seen.last = (namespace, generation)
        if stored is None or generation is None:
            return None  # a new generation holds nothing yet; None: the cache is unreachable
        raw = self._call(lambda cache: cache.get(self._entry_key(namespace, generation, key)))
        return None if raw is None else json.loads(raw)

    def set(self, namespace: str, key: str, value: Any) -> None:
        raw = json.dumps(value, separators=(",", ":"))
        generation = self._generation_for_set(namespace)
        if generation is not None:
            self._call(lambda cache: cache.set(self._entry_key(namespace, generation, key), raw, self._timeout))

    def invalidate(self, namespace: str) -> None:
        self._retry_pending_invalidations()
        if not self._bump(namespace):
            logger.warning("Invalidating %r did not reach the cache; retrying once it answers.", namespace)
            with self._pending_lock:
                self._pending.add(namespace)

    # --- generations ----------------------------------------------------------------------

    def _stored_generation(self, namespace: str) -> int | None:
        value = self._call(lambda cache: cache.get(_generation_key(namespace)))
        return None if value is None else int(value)

    def _new_generation(self, namespace: str) -> int | None:
        fresh = _random_generation()
        added = self._answered(self._call(lambda cache: cache.add(_generation_key(namespace), fresh, None)))
        if added is None:
            return None
        return fresh if added else self._stored_generation(namespace)  # lost a race: the winner's

    def _generation_for_set(self, namespace: str) -> int | None:
        """The generation this thread's last ``get`` of the namespace saw, else the current one."""
        last: tuple[str, int | None] | None = getattr(self._seen, "last", None)
        self._seen.last = None
        if last is not None and last[0] == namespace:
            return last[1]
        stored = self._stored_generation(namespace)
        return stored if stored is not None else self._new_generation(namespace)

    def _bump(self, namespace: str) -> bool:
        """Move the namespace to a new generation; False if the cache could not be reached."""

        def bump(cache: BaseCache) -> int | bool | None:
            answer: int | bool | None
            try:
                answer = cache.incr(_generation_key(namespace))
            except ValueError:  # no generation yet: a random one reaches no earlier entry either
                answer = cache.add(_generation_key(namespace), _random_generation(), None)
            return answer

        return self._answered(self._call(bump)) is not None

    def _retry_pending_invalidations(self) -> None:
        if not self._pending or self._down():
            return
        with self._pending_lock:
            pending, self._pending = list(self._pending), set()
        for index, namespace in enumerate(pending):
            if not self._bump(namespace):
                with self._pending_lock:
                    self._pending.update(pending[index:])
                return

    # --- the backend, and its outages ---------------------------------------------------------

    def _call(self, operation: Callable[[BaseCache], T]) -> T | None:
        if self._down():
            return None
        try:
            return operation(self._cache if self._cache is not None else default_cache)
        except Exception:
            logger.warning("Response cache unavailable; serving from the database.", exc_info=True)
            self._down_until = time.monotonic() + self._outage_backoff
            return None

    def _answered(self, result: T | None) -> T | None:
        """``result`` of an operation that always answers a reachable cache: None means an outage."""
        if result is None and not self._down():
            self._down_until = time.monotonic() + self._outage_backoff
        return result

    def _down(self) -> bool:
        return time.monotonic() < self._down_until

    def _entry_key(self, namespace: str, generation: int, key: str) -> str:
        digest = hashlib.sha256(key.encode()).hexdigest()[:40]
        return f"experthub:resp:{self._version}:{_label(namespace, _NAMESPACE)}:{generation}:{digest}"


def _generation_key(namespace: str) -> str:
    return f"experthub:gen:{_label(namespace, _NAMESPACE)}"


def _label(text: str, allowed: re.Pattern[str]) -> str:
    """The text itself when it is a safe key part, else '#' and its digest ('#' is never in a safe one)."""
    return text if allowed.fullmatch(text) else f"#{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def _random_generation() -> int:
    return secrets.randbits(48)
