"""Forwarded headers count only from TRUSTED_PROXIES; REMOTE_ADDR is the client (project/proxies.py)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import Client, RequestFactory, override_settings
from rest_framework.throttling import SimpleRateThrottle

from project.proxies import TrustedProxies, resolve_client

PUBLIC, OTHER_PUBLIC = "203.0.113.9", "198.51.100.7"
HTTPS = {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}
FORGED = {"HTTP_X_FORWARDED_FOR": "127.0.0.1", "HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "evil.test"}


def seen(**request: str) -> dict[str, Any]:
    body: dict[str, Any] = Client().get("/_test/request/", **request).json()  # type: ignore[arg-type]
    return body


pytestmark = pytest.mark.urls("tests.deploy.web_urls")


@override_settings(**HTTPS)
def test_a_client_cannot_forge_its_address_or_https() -> None:
    request = seen(REMOTE_ADDR=PUBLIC, **FORGED)

    assert request["remote_addr"] == PUBLIC
    assert request["x_forwarded_for"] is None
    assert request["is_secure"] is False
    assert request["host"] == "testserver"


@override_settings(**HTTPS)
def test_behind_nginx_on_loopback_the_client_is_the_address_nginx_added() -> None:
    # nginx appends the address it saw to whatever the client sent.
    request = seen(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=f"10.9.9.9, {PUBLIC}", HTTP_X_FORWARDED_PROTO="https")

    assert request["remote_addr"] == PUBLIC
    assert request["is_secure"] is True


def test_a_unix_socket_peer_is_the_local_nginx() -> None:
    assert seen(REMOTE_ADDR="", HTTP_X_FORWARDED_FOR=PUBLIC)["remote_addr"] == PUBLIC


@override_settings(TRUSTED_PROXIES=["127.0.0.1"])
def test_without_unix_in_the_list_a_unix_socket_peer_is_not_believed() -> None:
    assert seen(REMOTE_ADDR="", HTTP_X_FORWARDED_FOR=PUBLIC)["remote_addr"] == ""


@override_settings(TRUSTED_PROXIES=["*"], **HTTPS)
def test_behind_a_paas_router_the_client_is_the_hop_the_router_added() -> None:
    request = seen(REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR=f"127.0.0.1, {PUBLIC}", HTTP_X_FORWARDED_PROTO="https")

    assert request["remote_addr"] == PUBLIC  # "*" trusts the peer, never an address the client wrote
    assert request["is_secure"] is True


@pytest.mark.parametrize(
    ("forwarded_for", "client"),
    [
        (f"{OTHER_PUBLIC}, {PUBLIC}", PUBLIC),  # the left one is the client's own claim
        (f"{PUBLIC}, 10.0.0.5", PUBLIC),  # a second proxy inside the trusted network
        ("127.0.0.1, 10.0.0.5", "127.0.0.1"),  # every hop a proxy: the request began on one
        (f"{PUBLIC}, not-an-address, 10.0.0.5", ""),  # a proxy passed on garbage: no address at all
        ("", "127.0.0.1"),  # the proxy itself, with no header
        (f"{PUBLIC}, ::ffff:10.0.0.5", PUBLIC),  # an IPv4 proxy as a dual-stack socket reports it
    ],
)
def test_the_client_is_the_rightmost_hop_that_is_not_a_proxy(forwarded_for: str, client: str) -> None:
    proxies = TrustedProxies.parse(["127.0.0.1", "10.0.0.0/8"])

    assert proxies.client_address("127.0.0.1", forwarded_for) == client


def test_drf_throttles_key_on_the_resolved_address() -> None:
    proxies = TrustedProxies.parse(["127.0.0.1", "::1", "unix"])
    ident = SimpleRateThrottle.get_ident
    idents = set()
    for forged in ("192.0.2.1", "192.0.2.2", ""):
        request = RequestFactory().get("/", REMOTE_ADDR=PUBLIC, HTTP_X_FORWARDED_FOR=forged)
        resolve_client(request.META, proxies)
        idents.add(ident(SimpleRateThrottle.__new__(SimpleRateThrottle), request))

    assert idents == {PUBLIC}  # one bucket, whatever the client claims


@pytest.mark.urls("project.urls")
def test_metrics_refuse_a_public_client_relayed_by_nginx_and_allow_a_local_one() -> None:
    assert Client().get("/metrics", REMOTE_ADDR="", HTTP_X_FORWARDED_FOR=PUBLIC).status_code == 403
    assert Client().get("/metrics", REMOTE_ADDR=PUBLIC, HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 403
    assert Client().get("/metrics", REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200


@pytest.mark.parametrize(
    ("setting", "value", "check_id"),
    [
        ("TRUSTED_PROXIES", ["10.0.0.1/8"], "experthub.E040"),  # host bits set: gunicorn refuses it too
        ("METRICS_ALLOWED_IPS", ["localhost"], "experthub.E040"),
        ("NUM_PROXIES", 1, "experthub.E041"),
    ],
)
def test_proxy_settings_that_cannot_work_refuse_to_run(settings: Any, setting: str, value: Any, check_id: str) -> None:
    setattr(settings, setting, value)

    assert check_id in {message.id for message in run_checks() if message.is_serious()}
