"""Read-your-writes across requests: a user who wrote reads from the primary for a while.

Each request runs in a routing scope (project/routers.py). The scope is pinned
to the primary when the method is not safe, or when the user wrote within
DATABASE_READ_YOUR_WRITES_SECONDS. A request that wrote pins, for that window:

- its user, in Django's cache under ``db-pin:<user id>`` (Redis in production,
  so every process sees it; token clients that keep no cookies rely on it;
  with the local-memory cache only the process that served the write does);
- its client, with a signed cookie that expires with the window: this keeps
  browsers (anonymous ones included) on the primary while the cache is down,
  since django-redis then ignores errors and the cache pin is silently lost.

The user is identified before any read is routed, without a query of its
own: from the Bearer access token (simplejwt, verified, as JWTAuthentication
will), else from the session's ``_auth_user_id`` (the session lookup every
DRF request with a session cookie makes anyway, done first, on the primary).

Without replicas the middleware removes itself (MiddlewareNotUsed).

Also here, first in MIDDLEWARE: AppVersionMiddleware (the X-App-Version header) and
ProjectEndpointsMiddleware (/healthz, /readyz, /metrics; docs/operations.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponseBase
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import AccessToken

from api.errors import method_not_allowed
from project.routers import replica_aliases, routing_scope

PIN_COOKIE = "db_pin"
_PIN_SALT = "experthub.db-pin"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

logger = logging.getLogger(__name__)


def pin_key(user_id: str) -> str:
    return f"db-pin:{user_id}"


class ReadYourWritesMiddleware:
    """Runs each request in a routing scope and pins its user and client after a write."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        if not replica_aliases():
            raise MiddlewareNotUsed("no read replicas: every query goes to the primary")
        if isinstance(caches["default"], LocMemCache):
            logger.warning(
                "Read replicas with a process-local cache: a token client's pin is seen only by the process that "
                "served its write. Set REDIS_URL so every process reads the pins."
            )
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        window = settings.DATABASE_READ_YOUR_WRITES_SECONDS
        user_id = request_user_id(request)
        pinned = request.method not in SAFE_METHODS or _is_pinned(request, user_id, window)
        with routing_scope(pinned=pinned) as state:
            response = self.get_response(request)
        if state.wrote and window > 0:
            _pin(response, request, {user_id, *state.written_users} - {None}, window)
        return response


def request_user_id(request: HttpRequest) -> str | None:
    """The user the request authenticates as, by token or session, without a query of its own."""
    return _token_user_id(request) or _session_user_id(request)


def _token_user_id(request: HttpRequest) -> str | None:
    scheme, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme not in jwt_settings.AUTH_HEADER_TYPES or not raw.strip():
        return None
    try:
        token = AccessToken(raw.strip())  # signature, expiry and type; no query
    except TokenError:
        return None  # JWTAuthentication will answer 401
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    return None if user_id is None else str(user_id)


def _session_user_id(request: HttpRequest) -> str | None:
    session = getattr(request, "session", None)
    if session is None or session.session_key is None:
        return None  # no session cookie: nothing to load
    user_id = session.get(SESSION_KEY)  # outside the routing scope: read on the primary
    return None if user_id is None else str(user_id)


def _is_pinned(request: HttpRequest, user_id: str | None, window: int) -> bool:
    if window <= 0:
        return False
    if request.get_signed_cookie(PIN_COOKIE, default=None, salt=_PIN_SALT, max_age=window) is not None:
        return True
    return user_id is not None and _cached_pin(user_id)


def _cached_pin(user_id: str) -> bool:
    try:
        return cache.get(pin_key(user_id)) is not None
    except Exception:  # a cache outage must never fail the request: read from the replica
        logger.warning("Could not read the read-your-writes pin from the cache.", exc_info=True)
        return False


def _pin(response: HttpResponseBase, request: HttpRequest, user_ids: Iterable[str | None], window: int) -> None:
    response.set_signed_cookie(
        PIN_COOKIE, "1", salt=_PIN_SALT, max_age=window, httponly=True, samesite="Lax", secure=request.is_secure()
    )
    try:
        cache.set_many({pin_key(user_id): 1 for user_id in user_ids if user_id is not None}, timeout=window)
    except Exception:  # a cache outage must never fail the request: the cookie still pins browsers
        logger.warning("Could not store the read-your-writes pin in the cache.", exc_info=True)


# --- version header, and the endpoints answered before any other middleware -----------------------


class AppVersionMiddleware:
    """``X-App-Version: <APP_VERSION>`` on every response (first in MIDDLEWARE: even on errors and probes)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response["X-App-Version"] = settings.APP_VERSION
        return response


class ProjectEndpointsMiddleware:
    """Answers /healthz, /readyz and /metrics itself, before the rest of the stack.

    Load balancers and scrapers call by IP address, with a Host that
    ALLOWED_HOSTS would refuse (CommonMiddleware answers 400): nothing here
    calls ``request.get_host()``. No session, CSRF, auth, or SSL redirect
    applies; /metrics guards itself (project/metrics.py). Not counted in the
    HTTP metrics, so probes and scrapes do not drown the traffic.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        from project import health, metrics

        self.get_response = get_response
        self.endpoints: dict[str, Callable[[HttpRequest], HttpResponseBase]] = {
            "/healthz": health.healthz,
            "/readyz": health.readyz,
            "/metrics": metrics.metrics,
        }

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        endpoint = self.endpoints.get(request.path_info.rstrip("/"))
        if endpoint is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return method_not_allowed(["GET", "HEAD"])
        return endpoint(request)
