"""A circuit breaker for redis-py connections: after one timeout, a hung Redis is not waited for again.

Each command to a hung server (stopped with SIGSTOP, a stalled VM, a network that
drops packets) costs a full socket timeout, and a request makes several (throttles,
the response cache's generation and entry, the read-your-writes pin, the view
counter): they add up. So after a timeout every connection of the process to that
server fails at once, with ``ConnectionError``, for ``breaker_seconds``; callers
treat that as the outage it is (django-redis's IGNORE_EXCEPTIONS: a miss). The
first command after that tries the server again.

Only timeouts trip it: a refused or reset connection fails fast on its own, and
a connection a restarted server closed must stay retryable at once on a fresh one.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

BREAKER_SECONDS = 5.0

# Per server (host, port): when the process may try it again. Shared by every pool of the process.
_open_until: dict[tuple[str, int], float] = {}


class _Breaker:
    """The checks around a redis-py connection's network calls; mixed into Connection and SSLConnection."""

    host: str
    port: int

    def __init__(self, *args: Any, breaker_seconds: float = BREAKER_SECONDS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._breaker_seconds = breaker_seconds

    def connect(self) -> None:
        self._guarded(super().connect)  # type: ignore[misc]

    def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        self._guarded(lambda: super(_Breaker, self).send_packed_command(*args, **kwargs))  # type: ignore[misc]

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        return self._guarded(lambda: super(_Breaker, self).read_response(*args, **kwargs))  # type: ignore[misc]

    def _guarded(self, call: Any) -> Any:
        server = (self.host, self.port)
        if time.monotonic() < _open_until.get(server, float("-inf")):
            raise RedisConnectionError(f"Redis {server[0]}:{server[1]} timed out recently: not tried for a while.")
        try:
            return call()
        except RedisTimeoutError:
            _open_until[server] = time.monotonic() + self._breaker_seconds
            raise


class BreakerConnection(_Breaker, redis.Connection):
    """redis.Connection with the breaker: ``connection_class`` of a ``redis://`` pool."""


class BreakerSSLConnection(_Breaker, redis.SSLConnection):
    """redis.SSLConnection with the breaker: ``connection_class`` of a ``rediss://`` pool."""


def breaker_connection_class(url: str) -> type[redis.Connection]:
    """The breaker connection class for a Redis URL (TLS for ``rediss://``)."""
    return BreakerSSLConnection if url.startswith("rediss://") else BreakerConnection


def breaker_reset() -> None:
    """Forget every recent timeout (tests that freeze and thaw a server)."""
    _open_until.clear()
