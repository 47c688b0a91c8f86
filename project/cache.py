"""CACHES from REDIS_URL: django-redis with short timeouts, or process-local memory."""

from __future__ import annotations

from typing import Any


def build_caches(
    *, redis_url: str, socket_timeout: float, ssl_cert_reqs: str, ssl_ca_certs: str | None
) -> dict[str, dict[str, Any]]:
    if not redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "experthub"}}
    options: dict[str, Any] = {
        "CLIENT_CLASS": "django_redis.client.DefaultClient",
        # A hung Redis must not stall a worker: fail fast and fall back to the database.
        "SOCKET_CONNECT_TIMEOUT": socket_timeout,
        "SOCKET_TIMEOUT": socket_timeout,
        "IGNORE_EXCEPTIONS": True,
    }
    if redis_url.startswith("rediss://"):
        options["CONNECTION_POOL_KWARGS"] = {"ssl_cert_reqs": ssl_cert_reqs, "ssl_ca_certs": ssl_ca_certs}
    return {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url, "OPTIONS": options}}
