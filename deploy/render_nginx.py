"""Render deploy/nginx/experthub.conf: fill its @PLACEHOLDERS and write an nginx site file.

Plain standard library: it runs on the VM, where the app's virtualenv may not exist yet.

    python deploy/render_nginx.py --server-name experthub.example.com \\
        --tls-certificate /etc/letsencrypt/live/experthub.example.com/fullchain.pem \\
        --tls-certificate-key /etc/letsencrypt/live/experthub.example.com/privkey.pem \\
        > /etc/nginx/sites-available/experthub

Every option has the production default of docs/deploy-vm.md (one gunicorn on the
unix socket of experthub-web.service, static files of the current release, /metrics
for loopback only); `--help` lists them.
"""

from __future__ import annotations

import argparse
import json
import re
import string
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "nginx" / "experthub.conf"
WEB_SOCKET = "unix:/run/experthub/web.sock"


class NginxTemplate(string.Template):
    """`@NAME` placeholders: nginx's own `$variables` stay as they are."""

    delimiter = "@"
    idpattern = r"[A-Z][A-Z0-9_]*"
    flags = re.NOFLAG


@dataclass
class SiteOptions:
    server_name: str = "experthub.example.com"
    http_listen: str = "80"
    https_listen: str = "443"
    upstream_servers: Sequence[str] = (WEB_SOCKET,)
    tls_certificate: str = "/etc/ssl/experthub/fullchain.pem"
    tls_certificate_key: str = "/etc/ssl/experthub/privkey.pem"
    static_root: str = "/srv/experthub/current/static"
    metrics_allow: Sequence[str] = ("127.0.0.1", "::1")
    log_dir: str = "/var/log/nginx"
    ipv6: bool = True
    # Health bookkeeping per app server: after max_fails failures within fail_timeout it
    # gets no requests for fail_timeout.
    server_parameters: str = field(default="max_fails=3 fail_timeout=10s")


@dataclass(frozen=True)
class NginxError:
    """An error nginx makes itself, answered in the API's error shape (api/errors.py error_body)."""

    status: int  # what nginx hands to error_page
    code: str
    message: str
    sent_as: int = 0  # the status the client gets, when not ``status``

    def sent(self) -> int:
        return self.sent_as or self.status

    def overwrite(self) -> str:
        # error_page keeps the status it caught unless told another (`=431`).
        return f"={self.sent_as} " if self.sent_as else ""

    def body(self) -> str:
        # Inside a single-quoted nginx string where `$` would start a variable.
        text = json.dumps({"error": {"code": self.code, "message": self.message, "fields": {}}})
        if "'" in text or "$" in text:
            raise ValueError(f"cannot quote for nginx: {text}")
        return text


# The codes are the API's own where it has one (bad_request, not_found, ...).
NGINX_ERRORS = (
    NginxError(400, "bad_request", "Bad request."),
    NginxError(403, "permission_denied", "You do not have permission to do this."),
    NginxError(404, "not_found", "Not found."),
    NginxError(405, "method_not_allowed", "Method not allowed."),
    NginxError(408, "request_timeout", "The request took too long to arrive."),
    NginxError(413, "too_large", "The request body is too large."),
    NginxError(414, "uri_too_long", "The request URI is too long."),
    NginxError(429, "throttled", "Too many requests at once from this address."),
    # nginx's internal 494 ("Request Header Or Cookie Too Large", sent as a 400): HTTP's own 431.
    NginxError(494, "headers_too_large", "The request headers are too large.", sent_as=431),
    NginxError(500, "server_error", "Internal server error."),
    NginxError(502, "bad_gateway", "The app server failed."),
    NginxError(503, "unavailable", "Try again shortly."),
    NginxError(504, "gateway_timeout", "The app server took too long."),
)


def render(options: SiteOptions, template: str | None = None) -> str:
    """The site file for these options; a placeholder left unfilled raises KeyError."""
    text = NginxTemplate(template if template is not None else TEMPLATE.read_text()).substitute(_values(options))
    if not options.ipv6:
        text = "\n".join(line for line in text.splitlines() if not line.rstrip().endswith("# ipv6")) + "\n"
    return text


def _values(options: SiteOptions) -> dict[str, str]:
    return {
        "SERVER_NAME": options.server_name,
        "HTTP_LISTEN": options.http_listen,
        "HTTPS_LISTEN": options.https_listen,
        "HTTPS_PUBLIC_PORT": _public_port(options.https_listen),
        "UPSTREAM_SERVERS": _lines(
            f"server {server} {options.server_parameters};" for server in options.upstream_servers
        ),
        "TLS_CERTIFICATE": options.tls_certificate,
        "TLS_CERTIFICATE_KEY": options.tls_certificate_key,
        "STATIC_ROOT": options.static_root.rstrip("/"),
        "METRICS_ALLOW": _lines((f"allow {network};" for network in options.metrics_allow), indent=8),
        "LOG_DIR": options.log_dir.rstrip("/"),
        "JSON_ERRORS": _json_errors(NGINX_ERRORS),
    }


def _public_port(https_listen: str) -> str:
    """':8443' for a listen address on another port than 443, else nothing."""
    port = https_listen.rsplit(":", 1)[-1]
    return "" if port == "443" else f":{port}"


def _json_errors(errors: Sequence[NginxError]) -> str:
    """error_page for each error and the internal location answering it."""
    pages = [f"error_page {error.status} {error.overwrite()}/_nginx/{error.status}.json;" for error in errors]
    answers = [
        f"location = /_nginx/{error.status}.json {{ return {error.sent()} '{error.body()}'; }}" for error in errors
    ]
    location = [
        "location ^~ /_nginx/ {",
        "    internal;",
        "    default_type application/json;",
        # An HTTP/2 request body over the limit is skipped, not discarded, so the
        # redirected request would meet the limit again here and get nginx's HTML 413.
        "    client_max_body_size 0;",
    ]
    return _lines([*pages, *location, *(f"    {answer}" for answer in answers), "}"])


def _lines(lines: Iterable[str], indent: int = 4) -> str:
    return "\n".join(" " * indent + line for line in lines)


def parse_arguments(argv: Sequence[str]) -> SiteOptions:
    defaults = SiteOptions()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server-name", default=defaults.server_name, help="public host name(s), space-separated")
    parser.add_argument("--http-listen", default=defaults.http_listen)
    parser.add_argument("--https-listen", default=defaults.https_listen)
    parser.add_argument(
        "--upstream",
        action="append",
        dest="upstream_servers",
        help=f"an app server: unix:/path or host:port (repeat for several; default {WEB_SOCKET})",
    )
    parser.add_argument("--tls-certificate", default=defaults.tls_certificate)
    parser.add_argument("--tls-certificate-key", default=defaults.tls_certificate_key)
    parser.add_argument("--static-root", default=defaults.static_root)
    parser.add_argument(
        "--metrics-allow",
        action="append",
        help="an address or CIDR network that may GET /metrics (repeat; default loopback only)",
    )
    parser.add_argument("--log-dir", default=defaults.log_dir)
    parser.add_argument("--no-ipv6", dest="ipv6", action="store_false", help="listen on IPv4 only")
    arguments = parser.parse_args(argv)
    return SiteOptions(
        server_name=arguments.server_name,
        http_listen=arguments.http_listen,
        https_listen=arguments.https_listen,
        upstream_servers=arguments.upstream_servers or defaults.upstream_servers,
        tls_certificate=arguments.tls_certificate,
        tls_certificate_key=arguments.tls_certificate_key,
        static_root=arguments.static_root,
        metrics_allow=arguments.metrics_allow or defaults.metrics_allow,
        log_dir=arguments.log_dir,
        ipv6=arguments.ipv6,
    )


def main(argv: Sequence[str] | None = None) -> int:
    sys.stdout.write(render(parse_arguments(sys.argv[1:] if argv is None else argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
