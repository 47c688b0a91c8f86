"""Rate limits for the endpoints worth abusing: login, registration, booking requests.

Rates live in settings (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], scopes
``login``, ``register``, ``booking_create``). Clients are told apart by user
id, or by REMOTE_ADDR for anonymous ones: the client's address as
TrustedProxyMiddleware resolved it from TRUSTED_PROXIES (project/proxies.py), so
a forged X-Forwarded-For cannot buy a fresh bucket.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

LOGIN = "login"
REGISTER = "register"
BOOKING_CREATE = "booking_create"


class ScopedThrottle(ScopedRateThrottle):
    """DRF's ScopedRateThrottle, reading the rates at request time.

    DRF copies the rates into a class attribute when it is imported, so a
    changed setting (an operator's reload, a test's override) would be ignored.
    """

    def get_rate(self) -> str | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES
        if self.scope not in rates:
            raise ImproperlyConfigured(f"No throttle rate set for scope {self.scope!r}.")
        return rates[self.scope]
