"""Who may read the operator endpoints: /metrics, and the details of /readyz.

One rule for both. With METRICS_TOKEN set, only a request bearing it
(``Authorization: Bearer <token>``, compared in constant time). Without, only a
client whose address is in METRICS_ALLOWED_IPS (addresses or networks; loopback
by default). The address is REMOTE_ADDR as TrustedProxyMiddleware resolved it
(project/proxies.py): a public client relayed by nginx is that client, not loopback.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest

from project.proxies import address_in, parse_networks


def operator_allowed(request: HttpRequest) -> bool:
    if settings.METRICS_TOKEN:
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        expected = settings.METRICS_TOKEN.encode()
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)
    return address_in(request.META.get("REMOTE_ADDR", ""), parse_networks(settings.METRICS_ALLOWED_IPS))
