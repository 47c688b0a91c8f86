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
import socket
import ssl
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from deploy.render_nginx import SiteOptions, render
from tests.deploy.backends import FakeAppServer
from tests.deploy.conftest import AppServer
from tests.harness.nginx import SITE_NAME, NginxServer, Reply, TlsCertificate, nginx_binary, request
from tests.harness.servers import LOOPBACK, free_port

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
    edit: tuple[str, str] | None = None,
    **options: object,
) -> NginxServer:
    """nginx in front of these fake app servers (a string: an address nobody listens on)."""
    fakes.extend(server.start() for server in servers if isinstance(server, FakeAppServer))
    addresses = [server if isinstance(server, str) else server.address for server in servers]
    site = render(replace(site_options(nginx, certificate, addresses), **options))  # type: ignore[arg-type]
    if edit is not None:  # shorten a timeout so the test takes a second, not thirty
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
    # Host is nginx's $host: the name without the port (the public port is 443).
    assert seen["absolute_uri"] == f"https://{SITE_NAME}/_test/request/"
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
    ("behaviour", "edit", "failed_status"),
    [
        ("reset", None, 502),
        ("hang", ("proxy_read_timeout 30s;", "proxy_read_timeout 1s;"), 504),
    ],
)
def test_a_get_is_retried_on_the_next_server_but_a_post_never_is(
    nginx_server: NginxServer,
    tls_certificate: TlsCertificate,
    fake_servers: list[FakeAppServer],
    behaviour: str,
    edit: tuple[str, str] | None,
    failed_status: int,
) -> None:
    """The failing server read the whole request before failing: a POST may have done its
    work there (a booking made), so sending it again elsewhere could do it twice."""
    failing, healthy = FakeAppServer(behaviour, name="failing"), FakeAppServer(name="healthy")
    # max_fails=0: the failing server stays in rotation, so every request has its turn at it.
    nginx = faked(
        nginx_server, tls_certificate, fake_servers, failing, healthy, edit=edit, server_parameters="max_fails=0"
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
    edit = ("client_body_timeout 15s;", "client_body_timeout 1s;")
    nginx = faked(nginx_server, tls_certificate, fake_servers, app, edit=edit)
    context = tls_certificate.client_context()

    raw = socket.create_connection((LOOPBACK, nginx.https_port))
    with context.wrap_socket(raw, server_hostname=SITE_NAME) as tls:
        tls.settimeout(10)
        tls.sendall(f"POST /api/v1/bookings/ HTTP/1.1\r\nHost: {SITE_NAME}\r\nContent-Length: 100\r\n\r\n{{".encode())
        answer = tls.recv(4096)

    assert answer.startswith(b"HTTP/1.1 408") or answer == b""
    assert app.received == []
