"""Rate limits for the endpoints worth abusing: login, token refresh, registration, booking requests.

Rates live in settings (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], scopes
``login``, ``token_refresh``, ``register``, ``booking_create``). Clients are
told apart by user id, or by REMOTE_ADDR for anonymous ones: the client's
address as TrustedProxyMiddleware resolved it from TRUSTED_PROXIES
(project/proxies.py), so a forged X-Forwarded-For cannot buy a fresh bucket.

The counters live in the ``throttle`` cache alias (project/cache.py), which
every worker and node shares: Redis when REDIS_URL is set, else a database
table. docs/security.md ("Rate limits") says what happens when it fails.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

LOGIN = "login"
TOKEN_REFRESH = "token_refresh"
REGISTER = "register"
BOOKING_CREATE = "booking_create"
THROTTLE_CACHE = "throttle"

logger = logging.getLogger(__name__)


class SharedThrottleStore:
    """The shared ``throttle`` cache, or this process's memory for as long as that cache fails.

    Failing open (no limit) would hand an attacker the login endpoint whenever
    Redis is down; failing closed would take logins down with Redis. A limit
    kept per process is the middle: at most WEB_CONCURRENCY times the rate per
    node, and every failure is logged (logger ``api.throttles``).
    """

    def __init__(self) -> None:
        self._local = LocMemCache("experthub-throttle-fallback", {})

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return caches[THROTTLE_CACHE].get(key, default)
        except Exception:  # any store failure: Redis down or hung, a database error
            _log_failure()
            return self._local.get(key, default)

    def set(self, key: str, value: Any, timeout: float) -> None:
        try:
            caches[THROTTLE_CACHE].set(key, value, timeout)
        except Exception:  # see get()
            _log_failure()
            self._local.set(key, value, timeout)


def _log_failure() -> None:
    logger.warning("Throttle store unavailable: limits hold per process until it is back.", exc_info=True)


class ScopedThrottle(ScopedRateThrottle):
    """DRF's ScopedRateThrottle on the shared store, keyed on REMOTE_ADDR, reading the rates at request time.

    DRF copies the rates into a class attribute when it is imported, so a
    changed setting (an operator's reload, a test's override) would be ignored.
    """

    cache = SharedThrottleStore()

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES
        if self.scope not in rates:
            raise ImproperlyConfigured(f"No throttle rate set for scope {self.scope!r}.")
        return rates[self.scope]

    def get_ident(self, request: Request) -> str:
        return str(request.META.get("REMOTE_ADDR") or "")
