"""The shipped nginx site (deploy/nginx/experthub.conf), rendered and run by a real nginx.

In front of the real app (gunicorn, gevent workers, production settings on SQLite) for
what Django must see, and in front of tiny counting servers (tests/deploy/backends.py)
for what reaches an app server at all: failover, retries, body limits, /metrics.
"""

from __future__ import annotations

import gzip
import http.client
import json
import re
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from api.errors import error_body
from deploy.render_nginx import SiteOptions, render
from tests.deploy.backends import FakeAppServer
from tests.deploy.conftest import ROOT, AppServer
from tests.e2e.stack import Site
from tests.harness.fixtures import started
from tests.harness.nginx import (
    SITE_NAME,
    NginxServer,
    Reply,
    TlsCertificate,
    curl_binary,
    curl_request,
    nginx_binary,
    request,
)
from tests.harness.servers import LOOPBACK, free_port, port_open, wait_until
from tests.harness.web import GUNICORN

pytestmark = pytest.mark.integration

HSTS = "max-age=63072000; includeSubDomains"
YEAR_IMMUTABLE = "public, max-age=31536000, immutable"


def site_options(
    nginx: NginxServer, certificate: TlsCertificate, upstreams: Sequence[str], static_root: Path | None = None
) -> SiteOptions:
    return SiteOptions(
        server_name=SITE_NAME,
        http_listen=f"{LOOPBACK}:{nginx.http_port}",
        https_listen=f"{LOOPBACK}:{nginx.https_port}",
        upstream_servers=upstreams,
        tls_certificate=str(certificate.certificate),
        tls_certificate_key=str(certificate.key),
        static_root=str(static_root or nginx.root / "static"),
        metrics_allow=("127.0.0.1",),
        log_dir=str(nginx.logs),
        ipv6=False,
    )


@pytest.fixture
def fake_servers() -> Iterator[list[FakeAppServer]]:
    servers: list[FakeAppServer] = []
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def front_of_app(nginx_server: NginxServer, tls_certificate: TlsCertificate, app_server: AppServer) -> NginxServer:
    """The shipped site in front of the real app."""
    options = site_options(nginx_server, tls_certificate, [app_server.address], app_server.static_root)
    return nginx_server.start(render(options))


def https(nginx: NginxServer, certificate: TlsCertificate, method: str, path: str, **kwargs: Any) -> Reply:
    return request(nginx.https_port, method, path, tls=certificate.client_context(), **kwargs)


def faked(
    nginx: NginxServer,
    certificate: TlsCertificate,
    fakes: list[FakeAppServer],
    *servers: FakeAppServer | str,
    edits: Sequence[tuple[str, str]] = (),
    **options: object,
) -> NginxServer:
    """nginx in front of these fake app servers (a string: an address nobody listens on)."""
    fakes.extend(server.start() for server in servers if isinstance(server, FakeAppServer))
    addresses = [server if isinstance(server, str) else server.address for server in servers]
    site = render(replace(site_options(nginx, certificate, addresses), **options))  # type: ignore[arg-type]
    for edit in edits:  # shorten a timeout so the test takes a second, not thirty
        assert edit[0] in site, edit
        site = site.replace(*edit)
    return nginx.start(site)


def nobody_listening() -> str:
    return f"{LOOPBACK}:{free_port()}"


# --- the config itself --------------------------------------------------------------------------


def test_the_shipped_config_with_production_defaults_passes_nginx_t(
    nginx_server: NginxServer, tls_certificate: TlsCertificate
) -> None:
    options = replace(
        SiteOptions(),
        tls_certificate=str(tls_certificate.certificate),
        tls_certificate_key=str(tls_certificate.key),
        log_dir=str(nginx_server.logs),
    )
    site = render(options)
    assert "@" not in re.sub(r"#.*", "", site)  # every placeholder filled

    checked = nginx_server.write(site).check()

    assert checked.returncode == 0, checked.stderr
    assert "server unix:/run/experthub/web.sock" in site
    assert "listen [::]:443 ssl http2;" in site


def test_the_site_also_passes_nginx_t_inside_debians_nginx_conf(
    tmp_path: Path, tls_certificate: TlsCertificate
) -> None:
    """Included in http{} of the distribution's nginx.conf (its own gzip, ssl and log settings)."""
    distribution = Path("/etc/nginx/nginx.conf")
    if not distribution.exists():
        pytest.skip("no /etc/nginx/nginx.conf (nginx not installed from Debian's package)")
    site = tmp_path / "experthub"
    site.write_text(
        render(
            replace(
                SiteOptions(),
                tls_certificate=str(tls_certificate.certificate),
                tls_certificate_key=str(tls_certificate.key),
                log_dir=str(tmp_path),
            )
        )
    )
    main = distribution.read_text()
    main = re.sub(r"include /etc/nginx/sites-enabled/\*;", f"include {site};", main)
    main = re.sub(r"^pid .*;$", f"pid {tmp_path / 'nginx.pid'};", main, flags=re.MULTILINE)
    main = re.sub(r"(access|error)_log /var/log/nginx/", rf"\1_log {tmp_path}/", main)
    (tmp_path / "nginx.conf").write_text(main)

    checked = subprocess.run(
        [nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "e.log")],
        capture_output=True,
        text=True,
        check=False,
    )

    assert checked.returncode == 0, checked.stderr


# --- TLS, redirect, unknown hosts ------------------------------------------------------------------


def test_plain_http_is_redirected_permanently_to_https_keeping_path_and_query(front_of_app: NginxServer) -> None:
    reply = request(front_of_app.http_port, "GET", "/api/v1/experts/?q=tax&page=2")

    assert reply.status == 301
    assert reply.headers["Location"] == f"https://{SITE_NAME}:{front_of_app.https_port}/api/v1/experts/?q=tax&page=2"


def test_https_answers_with_hsts_from_the_app(front_of_app: NginxServer, tls_certificate: TlsCertificate) -> None:
    reply = https(front_of_app, tls_certificate, "GET", "/admin/login/")

    assert reply.status == 200
    assert b"csrfmiddlewaretoken" in reply.body  # Django's page, through gunicorn
    assert reply.headers["Strict-Transport-Security"] == HSTS


def test_an_unknown_host_gets_no_answer(front_of_app: NginxServer, tls_certificate: TlsCertificate) -> None:
    with pytest.raises(http.client.RemoteDisconnected):  # 444: closed without a response
        request(front_of_app.http_port, "GET", "/", host="evil.example")
    with pytest.raises(http.client.RemoteDisconnected):  # our certificate, another Host header
        https(front_of_app, tls_certificate, "GET", "/", host="evil.example")
    with pytest.raises(ssl.SSLError, match="UNRECOGNIZED_NAME"):  # SNI of another site: no certificate at all
        https(front_of_app, tls_certificate, "GET", "/", server_name="evil.example")


# --- what Django sees --------------------------------------------------------------------------------


def seen_by_django(nginx: NginxServer, certificate: TlsCertificate, **headers: str) -> tuple[dict[str, object], str]:
    reply = https(nginx, certificate, "GET", "/_test/request/", headers=headers)
    assert reply.status == 200, reply.body
    return json.loads(reply.body), reply.headers["X-Request-ID"]


def test_django_sees_https_from_the_forwarded_proto_nginx_sets(
    front_of_app: NginxServer, tls_certificate: TlsCertificate
) -> None:
    seen, _ = seen_by_django(front_of_app, tls_certificate, **{"X-Forwarded-Proto": "http"})

    assert seen["is_secure"] is True  # nginx overwrote the client's header with $scheme
    # Host is the public name and port (not 443 here, so it is written out).
    assert seen["absolute_uri"] == f"https://{SITE_NAME}:{front_of_app.https_port}/_test/request/"
    assert seen["x_forwarded_for"] == LOOPBACK
    # The client as nginx saw it (TRUSTED_PROXIES: nginx on loopback), which is this test, on loopback.
    assert seen["remote_addr"] == LOOPBACK


def test_a_request_id_is_made_when_absent_and_reaches_django(
    front_of_app: NginxServer, tls_certificate: TlsCertificate
) -> None:
    seen, returned = seen_by_django(front_of_app, tls_certificate)
    _, other = seen_by_django(front_of_app, tls_certificate)

    assert re.fullmatch(r"[0-9a-f]{32}", returned)
    assert seen["request_id"] == returned
    assert other != returned


def test_a_clients_request_id_is_passed_through_unless_malformed(
    front_of_app: NginxServer, tls_certificate: TlsCertificate
) -> None:
    kept, returned = seen_by_django(front_of_app, tls_certificate, **{"X-Request-ID": "checkout-7f3a.42"})
    replaced, made = seen_by_django(front_of_app, tls_certificate, **{"X-Request-ID": "x" * 200})

    assert kept["request_id"] == returned == "checkout-7f3a.42"
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert replaced["request_id"] == made


def test_json_from_the_app_is_gzipped(front_of_app: NginxServer, tls_certificate: TlsCertificate) -> None:
    zipped = https(
        front_of_app, tls_certificate, "GET", "/api/schema/?format=json", headers={"Accept-Encoding": "gzip"}
    )
    plain = https(front_of_app, tls_certificate, "GET", "/api/schema/?format=json")

    assert zipped.status == plain.status == 200
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert plain.headers["Content-Encoding"] is None
    assert json.loads(gzip.decompress(zipped.body)) == json.loads(plain.body)


# --- static files --------------------------------------------------------------------------------------


@pytest.fixture
def static_only(
    nginx_server: NginxServer, tls_certificate: TlsCertificate, app_server: AppServer
) -> tuple[NginxServer, dict[str, str]]:
    """collectstatic's files behind nginx whose app server is down: whatever answers is nginx."""
    options = site_options(nginx_server, tls_certificate, [nobody_listening()], app_server.static_root)
    manifest = json.loads((app_server.static_root / "staticfiles.json").read_text())["paths"]
    return nginx_server.start(render(options)), manifest


def test_hashed_static_files_are_served_by_nginx_cached_for_a_year(
    static_only: tuple[NginxServer, dict[str, str]], tls_certificate: TlsCertificate
) -> None:
    nginx, manifest = static_only
    hashed = manifest["admin/css/base.css"]

    reply = https(nginx, tls_certificate, "GET", f"/static/{hashed}")

    assert reply.status == 200
    assert b"body" in reply.body
    assert reply.headers["Cache-Control"] == YEAR_IMMUTABLE
    assert reply.headers["Strict-Transport-Security"] == HSTS
    assert reply.headers["Content-Type"] == "text/css"


def test_unhashed_static_files_are_cached_briefly_and_missing_ones_are_404(
    static_only: tuple[NginxServer, dict[str, str]], tls_certificate: TlsCertificate
) -> None:
    nginx, _ = static_only

    unhashed = https(nginx, tls_certificate, "GET", "/static/admin/css/base.css")
    missing = https(nginx, tls_certificate, "GET", "/static/admin/css/nothing.0123456789ab.css")

    assert unhashed.status == 200
    assert unhashed.headers["Cache-Control"] == "public, max-age=300"
    assert missing.status == 404


def test_css_is_served_gzipped(
    static_only: tuple[NginxServer, dict[str, str]], tls_certificate: TlsCertificate
) -> None:
    nginx, manifest = static_only
    path = f"/static/{manifest['admin/css/base.css']}"

    zipped = https(nginx, tls_certificate, "GET", path, headers={"Accept-Encoding": "gzip"})
    plain = https(nginx, tls_certificate, "GET", path)

    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.body) == plain.body


# --- app servers: keepalive, failover, retries -------------------------------------------------------


def test_connections_to_the_app_server_are_kept_alive(
    nginx_server: NginxServer, tls_certificate: TlsCertificate, fake_servers: list[FakeAppServer]
) -> None:
    app = FakeAppServer()
    nginx = faked(nginx_server, tls_certificate, fake_servers, app)

    statuses = [https(nginx, tls_certificate, "GET", f"/api/v1/experts/?n={n}").status for n in range(3)]

    assert statuses == [200, 200, 200]
    assert app.connections == 1, [r.connection for r in app.received]
    assert "connection" not in app.received[0].headers  # nginx cleared "close" (HTTP/1.1 keeps alive)


def test_a_get_fails_over_when_an_app_server_is_down(
    nginx_server: NginxServer, tls_certificate: TlsCertificate, fake_servers: list[FakeAppServer]
) -> None:
    alive = FakeAppServer(name="alive")
    nginx = faked(nginx_server, tls_certificate, fake_servers, nobody_listening(), alive)

    replies = [https(nginx, tls_certificate, "GET", "/api/v1/experts/") for _ in range(4)]

    assert [reply.status for reply in replies] == [200] * 4
    assert {json.loads(reply.body)["server"] for reply in replies} == {"alive"}
    assert len(alive.received) == 4


@pytest.mark.parametrize(
    ("behaviour", "edits", "failed_status"),
    [
        ("reset", (), 502),
        (
            "hang",
            (
                ("proxy_read_timeout 30s;", "proxy_read_timeout 1s;"),
                ("proxy_read_timeout 10s;", "proxy_read_timeout 1s;"),
            ),
            504,
        ),
    ],
)
def test_a_get_is_retried_on_the_next_server_but_a_post_never_is(
    nginx_server: NginxServer,
    tls_certificate: TlsCertificate,
    fake_servers: list[FakeAppServer],
    behaviour: str,
    edits: Sequence[tuple[str, str]],
    failed_status: int,
) -> None:
    """The failing server read the whole request before failing: a POST may have done its
    work there (a booking made), so sending it again elsewhere could do it twice."""
    failing, healthy = FakeAppServer(behaviour, name="failing"), FakeAppServer(name="healthy")
    # max_fails=0: the failing server stays in rotation, so every request has its turn at it.
    nginx = faked(
        nginx_server, tls_certificate, fake_servers, failing, healthy, edits=edits, server_parameters="max_fails=0"
    )

    gets = [https(nginx, tls_certificate, "GET", "/api/v1/experts/").status for _ in range(4)]
    replies = [https(nginx, tls_certificate, "POST", "/api/v1/bookings/", body=b"{}") for _ in range(4)]
    posts = [reply.status for reply in replies]

    assert gets == [200] * 4
    assert failing.methods().count("GET") >= 1  # some GET met the failing server first, then was retried
    assert healthy.methods().count("GET") == 4
    assert failing.methods().count("POST") >= 1
    assert sorted(posts) == sorted(
        [failed_status] * failing.methods().count("POST") + [200] * healthy.methods().count("POST")
    )
    assert failing.methods().count("POST") + healthy.methods().count("POST") == 4  # no POST reached both
    failed = next(reply for reply in replies if reply.status == failed_status)
    assert json.loads(failed.body)["error"]["code"] == {502: "bad_gateway", 504: "gateway_timeout"}[failed_status]
    assert failed.headers["Content-Type"] == "application/json"


# --- limits and closed locations ---------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_before_the_app_server(
    nginx_server: NginxServer, tls_certificate: TlsCertificate, fake_servers: list[FakeAppServer]
) -> None:
    app = FakeAppServer()
    nginx = faked(nginx_server, tls_certificate, fake_servers, app)
    two_megabytes = b"x" * (2 * 1024 * 1024)

    api = https(nginx, tls_certificate, "POST", "/api/v1/auth/register/", body=two_megabytes)
    upload = https(nginx, tls_certificate, "POST", "/blobs/upload/", body=two_megabytes)
    too_big_upload = https(nginx, tls_certificate, "POST", "/blobs/upload/", body=b"x" * (7 * 1024 * 1024))

    assert api.status == 413
    assert json.loads(api.body)["error"]["code"] == "too_large"  # the API's error shape
    assert upload.status == 200  # avatars are up to 5 MiB: /blobs/ allows 6
    assert too_big_upload.status == 413
    assert [r.path for r in app.received] == ["/blobs/upload/"]


@pytest.mark.parametrize(
    ("allowed", "status", "reached"),
    [(("127.0.0.1",), 200, 1), (("192.0.2.0/24",), 403, 0)],
    ids=["loopback-allowed", "loopback-not-allowed"],
)
def test_metrics_are_for_the_allowed_networks_only(
    nginx_server: NginxServer,
    tls_certificate: TlsCertificate,
    fake_servers: list[FakeAppServer],
    allowed: tuple[str, ...],
    status: int,
    reached: int,
) -> None:
    app = FakeAppServer()
    nginx = faked(nginx_server, tls_certificate, fake_servers, app, metrics_allow=allowed)

    reply = https(nginx, tls_certificate, "GET", "/metrics")

    assert reply.status == status
    assert len(app.received) == reached


def test_a_client_that_stops_sending_its_body_is_cut_off(
    nginx_server: NginxServer, tls_certificate: TlsCertificate, fake_servers: list[FakeAppServer]
) -> None:
    app = FakeAppServer()
    edits = [("client_body_timeout 15s;", "client_body_timeout 1s;")]
    nginx = faked(nginx_server, tls_certificate, fake_servers, app, edits=edits)
    context = tls_certificate.client_context()

    raw = socket.create_connection((LOOPBACK, nginx.https_port))
    with context.wrap_socket(raw, server_hostname=SITE_NAME) as tls:
        tls.settimeout(10)
        tls.sendall(f"POST /api/v1/bookings/ HTTP/1.1\r\nHost: {SITE_NAME}\r\nContent-Length: 100\r\n\r\n{{".encode())
        answer = tls.recv(4096)

    assert answer.startswith(b"HTTP/1.1 408") or answer == b""
    assert app.received == []


# --- TLS policy and what nginx says about itself ------------------------------------------------------


def handshake(nginx: NginxServer, cipher: str) -> str:
    """The TLS 1.2 cipher openssl s_client agreed offering only ``cipher``, or '' if refused."""
    binary = shutil.which("openssl")
    assert binary is not None  # the certificate was made with it
    offer = ["-servername", SITE_NAME, "-tls1_2", "-cipher", cipher]
    result = subprocess.run(
        [binary, "s_client", "-connect", f"{LOOPBACK}:{nginx.https_port}", *offer],
        input="",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    agreed = re.search(r"Cipher is (\S+)", result.stdout)
    return agreed.group(1) if result.returncode == 0 and agreed and agreed.group(1) != "(NONE)" else ""


@pytest.mark.parametrize(
    ("cipher", "accepted"),
    [
        ("AES128-SHA", False),  # CBC, SHA-1, RSA key exchange (no forward secrecy)
        ("ECDHE-RSA-AES128-SHA", False),  # forward secret, but CBC with SHA-1
        ("AES128-GCM-SHA256", False),  # AEAD, but RSA key exchange
        ("ECDHE-RSA-AES256-SHA384", False),  # CBC
        ("ECDHE-RSA-AES128-GCM-SHA256", True),
        ("ECDHE-RSA-CHACHA20-POLY1305", True),
    ],
)
def test_tls_1_2_offers_only_forward_secret_aead_suites(
    nginx_server: NginxServer,
    tls_certificate: TlsCertificate,
    fake_servers: list[FakeAppServer],
    cipher: str,
    accepted: bool,
) -> None:
    nginx = faked(nginx_server, tls_certificate, fake_servers, FakeAppServer())

    assert handshake(nginx, cipher) == (cipher if accepted else "")


def nginx_version() -> str:
    shown = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True, check=False).stderr
    found = re.search(r"nginx/(\S+)", shown)
    assert found is not None, shown
    return found.group(1)


def test_no_answer_names_the_nginx_version(
    nginx_server: NginxServer, tls_certificate: TlsCertificate, fake_servers: list[FakeAppServer]
) -> None:
    nginx = faked(nginx_server, tls_certificate, fake_servers, FakeAppServer(), metrics_allow=("192.0.2.0/24",))
    replies = [
        request(nginx.http_port, "GET", "/api/v1/experts/"),  # 301
        https(nginx, tls_certificate, "GET", "/api/v1/experts/"),  # the app's 200
        https(nginx, tls_certificate, "GET", "/static/missing.css"),  # 404
        https(nginx, tls_certificate, "GET", "/metrics"),  # 403
    ]

    assert [reply.status for reply in replies] == [301, 200, 404, 403]
    for reply in replies:
        assert reply.headers["Server"] == "nginx"
        assert nginx_version().encode() not in reply.body + str(reply.headers).encode()


# --- nginx's own errors in the API's error shape, HTTP/1.1 and HTTP/2 ----------------------------------


def read_reply(sock: socket.socket) -> Reply:
    response = http.client.HTTPResponse(sock)  # type: ignore[arg-type]
    response.begin()
    return Reply(response.status, response.headers, response.read())


def assert_json_error(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply.body
    assert reply.headers["Content-Type"] == "application/json"
    assert json.loads(reply.body) == error_body(code, json.loads(reply.body)["error"]["message"])
    assert json.loads(reply.body)["error"]["code"] == code
    assert reply.headers["Strict-Transport-Security"] == HSTS


@pytest.fixture
def curl() -> str:
    return started(curl_binary)


@pytest.fixture
def erring(
    nginx_server: NginxServer, tls_certificate: TlsCertificate, fake_servers: list[FakeAppServer]
) -> NginxServer:
    """The site before an app server that resets every request, /metrics closed, one static file."""
    static = nginx_server.root / "static"
    static.mkdir(parents=True)
    (static / "site.css").write_text("body {}")
    failing = FakeAppServer("reset")
    return faked(nginx_server, tls_certificate, fake_servers, failing, metrics_allow=("192.0.2.0/24",))


ERRORS_OVER_BOTH = [
    pytest.param(403, "permission_denied", "/metrics", (), id="403-metrics"),
    pytest.param(404, "not_found", "/static/missing.css", (), id="404-static"),
    pytest.param(404, "not_found", "/_nginx/502.json", (), id="404-internal"),
    pytest.param(405, "method_not_allowed", "/static/site.css", ("-X", "POST"), id="405-static"),
    pytest.param(400, "bad_request", "/", ("-H", "Content-Length: x"), id="400-content-length"),
    pytest.param(502, "bad_gateway", "/api/v1/experts/", (), id="502"),
    pytest.param(502, "bad_gateway", "/api/v1/bookings/", ("-X", "POST", "--data-binary", "{}"), id="502-post"),
]


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
@pytest.mark.parametrize(("status", "code", "path", "arguments"), ERRORS_OVER_BOTH)
def test_nginx_errors_answer_in_the_api_error_shape(
    erring: NginxServer,
    tls_certificate: TlsCertificate,
    curl: str,
    http2: bool,
    status: int,
    code: str,
    path: str,
    arguments: tuple[str, ...],
) -> None:
    reply = curl_request(erring.https_port, tls_certificate.certificate, path, http2=http2, arguments=arguments)

    assert_json_error(reply, status, code)


@pytest.mark.parametrize("http2", [False, True], ids=["http1.1", "http2"])
def test_a_body_over_the_limit_is_a_json_413_over_both_protocols(
    erring: NginxServer, tls_certificate: TlsCertificate, curl: str, http2: bool, tmp_path: Path
) -> None:
    """Over HTTP/2 nginx skips the body instead of discarding it, which used to send its HTML page."""
    body = tmp_path / "body"
    body.write_bytes(b"x" * (2 * 1024 * 1024))
    arguments = ("-X", "POST", "--data-binary", f"@{body}")

    reply = curl_request(
        erring.https_port, tls_certificate.certificate, "/api/v1/auth/register/", http2=http2, arguments=arguments
    )

    assert_json_error(reply, 413, "too_large")


@pytest.mark.parametrize(
    ("status", "code", "head"),
    [
        (400, "bad_request", b"NONSENSE\r\n\r\n"),
        (414, "uri_too_long", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: experthub.test\r\n\r\n"),
        (431, "headers_too_large", b"GET / HTTP/1.1\r\nHost: experthub.test\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"),
    ],
    ids=["400-request-line", "414", "431"],
)
def test_requests_nginx_cannot_parse_get_json_errors(
    erring: NginxServer, tls_certificate: TlsCertificate, status: int, code: str, head: bytes
) -> None:
    """HTTP/1.1 only: over HTTP/2 a header block over the limit ends the connection (GOAWAY),
    there is no answer to shape."""
    raw = socket.create_connection((LOOPBACK, erring.https_port), timeout=10)
    with tls_certificate.client_context().wrap_socket(raw, server_hostname=SITE_NAME) as tls:
        tls.sendall(head)
        reply = read_reply(tls)

    assert_json_error(reply, status, code)


def test_a_request_nginx_cannot_parse_on_the_plain_port_gets_no_html(erring: NginxServer) -> None:
    """No Host known yet: the unknown-host server takes it and closes the connection (444)."""
    with socket.create_connection((LOOPBACK, erring.http_port), timeout=10) as plain:
        plain.sendall(b"NONSENSE\r\n\r\n")
        answer = plain.recv(4096)

    assert answer == b""


# --- app servers: a 503 is an answer, a restart is not an outage --------------------------------------


def test_the_apps_503s_pass_through_and_keep_every_server_in_rotation(
    nginx_server: NginxServer, tls_certificate: TlsCertificate, fake_servers: list[FakeAppServer]
) -> None:
    """The primary database is down: both servers answer 503 where they need it, and serve
    what the replica can. Every 503 is a read here (a write is never retried, so nginx never
    counted it): each goes to both servers, three times."""
    needs_primary, replica_serves = "/api/v1/me/", "/api/v1/experts/"
    first, second = (FakeAppServer(name=name, statuses={needs_primary: 503}) for name in ("first", "second"))
    nginx = faked(nginx_server, tls_certificate, fake_servers, first, second)  # max_fails=3 as shipped

    unavailable = [https(nginx, tls_certificate, "GET", needs_primary) for _ in range(6)]
    served = [https(nginx, tls_certificate, "GET", replica_serves) for _ in range(6)]

    assert [reply.status for reply in unavailable] == [503] * 6  # the app's own answer, not nginx's 502
    assert {json.loads(reply.body)["server"] for reply in unavailable} == {"first", "second"}
    assert [reply.status for reply in served] == [200] * 6
    assert {json.loads(reply.body)["server"] for reply in served} == {"first", "second"}


def test_a_server_answering_503_for_a_while_is_not_taken_out_of_rotation(
    nginx_server: NginxServer, tls_certificate: TlsCertificate, fake_servers: list[FakeAppServer]
) -> None:
    ailing, healthy = FakeAppServer(name="ailing", statuses={"/api/v1/experts/": 503}), FakeAppServer(name="healthy")
    nginx = faked(nginx_server, tls_certificate, fake_servers, ailing, healthy)

    during = [https(nginx, tls_certificate, "GET", "/api/v1/experts/") for _ in range(8)]
    ailing.statuses.clear()  # its database is back
    after = [https(nginx, tls_certificate, "GET", "/api/v1/experts/") for _ in range(4)]

    assert {(reply.status, json.loads(reply.body)["server"]) for reply in during} == {(503, "ailing"), (200, "healthy")}
    # Straight back in rotation, not after a fail_timeout of 10 s out.
    assert {json.loads(reply.body)["server"] for reply in after} == {"ailing", "healthy"}
    assert [reply.status for reply in after] == [200] * 4


@dataclass
class StandIn:
    """gunicorn (gevent worker) serving tests/deploy/slow_boot_app.py on a loopback port."""

    name: str
    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self, boot_seconds: float = 0) -> StandIn:
        app = f"tests.deploy.slow_boot_app:booted(name={self.name!r}, seconds={boot_seconds})"
        arguments = ["--bind", self.address, "--worker-class", "gevent", "--workers", "1", "--graceful-timeout", "5"]
        # Run outside the repository so gunicorn does not pick up the project's gunicorn.conf.py.
        self.process = subprocess.Popen(
            [GUNICORN, app, "--pythonpath", str(ROOT), "--no-control-socket", *arguments],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), timeout=30, what=f"gunicorn {self.name}")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[list[StandIn]]:
    servers = [StandIn("a", tmp_path), StandIn("b", tmp_path)]
    yield servers
    for server in servers:
        server.stop()


@dataclass(frozen=True)
class Timed:
    seconds: float
    status: int
    server: str


def reads_while(nginx: NginxServer, certificate: TlsCertificate, running: threading.Event) -> list[Timed]:
    """GETs one after the other until ``running`` is cleared (and at most 400)."""
    done: list[Timed] = []
    while running.is_set() and len(done) < 400:
        started_at = time.monotonic()
        reply = https(nginx, certificate, "GET", "/api/v1/experts/", timeout=60)
        server = json.loads(reply.body).get("server", "") if reply.status == 200 else ""
        done.append(Timed(time.monotonic() - started_at, reply.status, server))
        time.sleep(0.1)
    return done


def test_reads_go_to_the_other_server_while_one_restarts(
    nginx_server: NginxServer, tls_certificate: TlsCertificate, stand_ins: list[StandIn]
) -> None:
    """gunicorn's master listens at once, its worker loads the app later (here: not within the
    test). Requests that reach it wait for the read budget (10 s), then go to the other one."""
    restarting, steady = (server.start() for server in stand_ins)
    nginx = nginx_server.start(
        render(site_options(nginx_server, tls_certificate, [restarting.address, steady.address]))
    )
    wait_until(lambda: https(nginx, tls_certificate, "GET", "/").status == 200, timeout=30, what="both stand-ins")
    running = threading.Event()
    running.set()
    with ThreadPoolExecutor(max_workers=2) as flows:
        futures = [flows.submit(reads_while, nginx, tls_certificate, running) for _ in range(2)]
        time.sleep(1)
        restarting.stop()
        restarting.start(boot_seconds=120)
        time.sleep(13)  # past the 10 s read budget, with margin
        running.clear()
        timed = [done for future in futures for done in future.result(timeout=90)]

    assert port_open(restarting.port)  # it kept accepting connections all along
    assert {done.status for done in timed} == {200}, [done for done in timed if done.status != 200]
    assert max(done.seconds for done in timed) < 20  # never the 30 s proxy_read_timeout
    waited = [done for done in timed if done.seconds > 5]
    assert waited, "no request met the restarting server: the test proved nothing"
    assert {done.server for done in waited} == {"b"}
    assert (
        "upstream timed out (110: Connection timed out) while reading response header from upstream"
        in nginx.error_log()
    )


# --- slow clients and one address's share ----------------------------------------------------------------


@dataclass
class SlowClient:
    """A connection that sends a request head one byte per tick and never finishes it."""

    sock: socket.socket
    head: bytes
    sent: int = 0
    closed_after: float | None = None

    def tick(self, elapsed: float) -> None:
        if self.closed_after is not None:
            return
        try:
            if self.head and self.sent < len(self.head):
                self.sock.send(self.head[self.sent : self.sent + 1])
                self.sent += 1
            if self.sock.recv(4096) == b"":
                self.closed_after = elapsed
        except (ssl.SSLWantReadError, BlockingIOError):
            return
        except OSError:
            self.closed_after = elapsed


SLOW_HEAD = b"GET /api/v1/experts/ HTTP/1.1\r\nHost: experthub.test\r\n" + b"".join(
    f"X-Slow-{n}: {n}\r\n".encode() for n in range(20)
)


def slow_clients(nginx: NginxServer, certificate: TlsCertificate) -> list[SlowClient]:
    """200: trickling over TLS, trickling plain HTTP, and TCP connections to the TLS port that never say hello."""
    context = certificate.client_context()
    clients = []
    for n in range(200):
        port = nginx.http_port if n % 4 == 1 else nginx.https_port
        sock = socket.create_connection((LOOPBACK, port), timeout=10)
        if n % 4 in (0, 2):
            sock = context.wrap_socket(sock, server_hostname=SITE_NAME)
        sock.setblocking(False)
        clients.append(SlowClient(sock, b"" if n % 4 == 3 else SLOW_HEAD))
    return clients


def test_slow_clients_are_cut_off_by_the_header_deadline(
    nginx_server: NginxServer, tls_certificate: TlsCertificate, fake_servers: list[FakeAppServer]
) -> None:
    app = FakeAppServer()
    nginx = faked(nginx_server, tls_certificate, fake_servers, app)
    deadline = int(re.findall(r"client_header_timeout (\d+)s;", (nginx.root / "experthub.conf").read_text())[-1])
    started_at = time.monotonic()
    clients = slow_clients(nginx, tls_certificate)
    normal = None
    try:
        while time.monotonic() - started_at < deadline + 10 and any(c.closed_after is None for c in clients):
            for client in clients:
                client.tick(time.monotonic() - started_at)
            if normal is None and time.monotonic() - started_at > 3:
                normal = https(nginx, tls_certificate, "GET", "/api/v1/experts/", timeout=10)
            time.sleep(1)
    finally:
        for client in clients:
            client.sock.close()

    assert normal is not None
    assert normal.status == 200  # while 200 slow connections were open
    still_open = [client for client in clients if client.closed_after is None]
    assert not still_open, f"{len(still_open)} of 200 still open after {deadline + 10} s"
    assert min(client.closed_after or 0 for client in clients) >= deadline - 1  # the deadline, not sooner
    assert len(app.received) == 1  # only the normal request reached the app


def answered(connections: list[ssl.SSLSocket]) -> list[ssl.SSLSocket]:
    return select.select(connections, [], [], 0)[0]


def test_one_address_gets_a_json_429_past_its_requests_in_flight(
    nginx_server: NginxServer, tls_certificate: TlsCertificate, fake_servers: list[FakeAppServer]
) -> None:
    hanging = FakeAppServer("hang")
    nginx = faked(nginx_server, tls_certificate, fake_servers, hanging)
    limit = int(re.findall(r"limit_conn experthub_per_address (\d+);", (nginx.root / "experthub.conf").read_text())[0])
    context = tls_certificate.client_context()
    connections = []
    try:
        for _ in range(limit + 5):
            tls = context.wrap_socket(
                socket.create_connection((LOOPBACK, nginx.https_port), timeout=10), server_hostname=SITE_NAME
            )
            tls.sendall(
                f"POST /api/v1/bookings/ HTTP/1.1\r\nHost: {SITE_NAME}\r\nContent-Length: 2\r\n\r\n{{}}".encode()
            )
            connections.append(tls)
        wait_until(lambda: len(hanging.received) >= limit, timeout=20, what=f"{limit} requests at the app")
        # nginx refuses at once; the requests it let through hang at the app (and stay unreadable).
        wait_until(lambda: len(answered(connections)) >= 5, timeout=10, what="the refusals")
        time.sleep(0.5)
        refused = [read_reply(tls) for tls in answered(connections)]
    finally:
        for tls in connections:
            tls.close()

    assert len(hanging.received) == limit
    assert len(refused) == 5
    for reply in refused:
        assert_json_error(reply, 429, "throttled")


# --- absolute URLs the app builds -------------------------------------------------------------------------


def test_pagination_links_keep_the_public_scheme_host_and_port(
    front_of_app: NginxServer, tls_certificate: TlsCertificate
) -> None:
    """nginx listens on a random port here, not 443: the `next` link must carry it."""
    site = Site(front_of_app, tls_certificate.client_context())
    for n in range(2):
        email = f"paging-{n}-{uuid.uuid4().hex[:8]}@example.com"
        site.json(
            "POST",
            "/api/v1/auth/register/",
            201,
            body={"email": email, "password": "correct horse battery 9", "name": f"Expert {n}", "role": "expert"},
        )
        token = site.json(
            "POST", "/api/v1/auth/token/", 200, body={"email": email, "password": "correct horse battery 9"}
        )["access"]
        profile = {
            "headline": f"Paging expert {n}",
            "bio": "Here to fill pages.",
            "skills": ["Paging"],
            "languages": ["en"],
            "timezone": "UTC",
            "hourly_rate": {"amount": 5000, "currency": "EUR"},
        }
        expert = site.json("POST", "/api/v1/experts/", 201, token=token, body=profile)
        site.json("POST", f"/api/v1/experts/{expert['id']}/publish/", 200, token=token)

    page = site.json("GET", "/api/v1/experts/?page_size=1", 200)

    assert page["next"].startswith(f"https://{SITE_NAME}:{front_of_app.https_port}/api/v1/experts/?")
    assert "page=2" in page["next"]
