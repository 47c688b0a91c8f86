"""Celery's broker TLS options from the REDIS_SSL_* settings, for a ``rediss://`` broker URL.

kombu hands ``broker_use_ssl`` to redis-py's SSLConnection; left unset, a ``rediss://``
broker would connect with certificate checks off (kombu falls back to CERT_NONE and
warns). celery-redbeat falls back to the same setting for its lock and schedule.
"""

from __future__ import annotations

import ssl
from typing import Any

CERT_REQS = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}


def broker_use_ssl(*, broker_url: str, ssl_cert_reqs: str, ssl_ca_certs: str | None) -> dict[str, Any] | None:
    """The ``broker_use_ssl`` setting: TLS options for ``rediss://``, None for any other broker.

    ``ssl_cert_reqs``: "required" (verify the server against ``ssl_ca_certs`` or the
    system CAs), "optional", or "none" (encrypted, not verified: Heroku Key-Value Store).
    """
    if not broker_url.startswith("rediss://"):
        return None
    if ssl_cert_reqs not in CERT_REQS:
        raise ValueError(f"REDIS_SSL_CERT_REQS must be one of {sorted(CERT_REQS)}, not {ssl_cert_reqs!r}.")
    options: dict[str, Any] = {"ssl_cert_reqs": CERT_REQS[ssl_cert_reqs]}
    if ssl_ca_certs:
        options["ssl_ca_certs"] = ssl_ca_certs
    return options
