"""Who the client is: REMOTE_ADDR, resolved once, from forwarded headers that only trusted proxies may set.

A request's peer (REMOTE_ADDR as gunicorn gives it) is either a trusted proxy
(TRUSTED_PROXIES: addresses and networks; ``unix`` for a unix-socket peer, which
gunicorn reports with an empty REMOTE_ADDR and only the local nginx can reach;
``*`` for any peer, where only a PaaS router reaches the port) or a client.

From a trusted proxy, REMOTE_ADDR becomes the right-most X-Forwarded-For address
that is not itself a trusted proxy (each proxy appends the address it saw, so
anything left of that was written by the client), and X-Forwarded-Proto stands
for SECURE_PROXY_SSL_HEADER. From anyone else every forwarding header is removed.
Nothing downstream (HTTPS detection, DRF throttles, /metrics and /readyz, logs)
reads a header a client could have forged: they read REMOTE_ADDR.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UNIX_SOCKET = "unix"
ANY_PEER = "*"
# What a client could forge; Django reads the X-Forwarded-Host/-Port pair only with
# USE_X_FORWARDED_HOST/PORT (off), but no later reader may be fooled by them either.
FORWARDING_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_REAL_IP",
    "HTTP_FORWARDED",
)


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses and CIDR networks (strictly: no host bits, as gunicorn requires); ValueError names a bad one."""
    return tuple(ipaddress.ip_network(entry.strip()) for entry in entries if entry.strip())


def address_in(address: str, networks: Iterable[Network]) -> bool:
    ip = _ip(address)
    return ip is not None and any(ip in network for network in networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return ip.ipv4_mapped  # a dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d
    return ip


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[Network, ...]
    unix_socket: bool = False
    any_peer: bool = False

    @classmethod
    def parse(cls, entries: Iterable[str]) -> TrustedProxies:
        names = [entry.strip() for entry in entries if entry.strip()]
        others = [name for name in names if name not in (UNIX_SOCKET, ANY_PEER)]
        return cls(parse_networks(others), unix_socket=UNIX_SOCKET in names, any_peer=ANY_PEER in names)

    def trusts_peer(self, peer: str) -> bool:
        if not peer:
            return self.unix_socket
        return self.any_peer or address_in(peer, self.networks)

    def client_address(self, peer: str, forwarded_for: str) -> str:
        """The right-most hop no trusted proxy accounts for; "" when that hop is not an address.

        ``*`` trusts the peer only: a hop inside X-Forwarded-For must match a network
        to be skipped, so behind a PaaS router the client is the hop the router added.
        """
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not address_in(hop, self.networks):
                return hop if _ip(hop) is not None else ""
        return hops[0] if hops else peer  # every hop was a proxy: the request started on one


def resolve_client(meta: MutableMapping[str, Any], proxies: TrustedProxies) -> None:
    """Set REMOTE_ADDR to the client, and keep forwarding headers only when a trusted proxy sent them."""
    peer = meta.get("REMOTE_ADDR") or ""
    if proxies.trusts_peer(peer):
        meta["REMOTE_ADDR"] = proxies.client_address(peer, meta.get("HTTP_X_FORWARDED_FOR", ""))
        return
    for header in FORWARDING_HEADERS:
        meta.pop(header, None)


class TrustedProxyMiddleware:
    """First in MIDDLEWARE: every later component sees the resolved REMOTE_ADDR and only trusted headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.proxies = TrustedProxies.parse(settings.TRUSTED_PROXIES)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        resolve_client(request.META, self.proxies)
        return self.get_response(request)
