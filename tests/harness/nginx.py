"""A throwaway nginx (own prefix, pid, logs and temp dirs; loopback ports), a self-signed
certificate made with openssl, and an HTTP(S) client that names the site it talks to."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

from tests.harness.servers import LOOPBACK, ServerUnavailable, free_port, port_open, wait_until

SITE_NAME = "experthub.test"


def nginx_binary() -> str:
    """Debian installs nginx in /usr/sbin, which is not on a non-root PATH."""
    found = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found is None:
        raise ServerUnavailable("nginx is not installed (apt-get install nginx)")
    return found


@dataclass(frozen=True)
class TlsCertificate:
    certificate: Path
    key: Path

    @classmethod
    def self_signed(cls, directory: Path, name: str = SITE_NAME) -> TlsCertificate:
        """A 2-day certificate for ``name`` (also its own CA for the client)."""
        binary = shutil.which("openssl")
        if binary is None:
            raise ServerUnavailable("openssl is not installed (apt-get install openssl)")
        certificate, key = directory / "fullchain.pem", directory / "privkey.pem"
        result = subprocess.run(
            [
                binary,
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                f"/CN={name}",
                "-addext",
                f"subjectAltName=DNS:{name}",
                "-keyout",
                str(key),
                "-out",
                str(certificate),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServerUnavailable(f"openssl could not make a certificate: {result.stderr}")
        return cls(certificate, key)

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.certificate))


@dataclass
class NginxServer:
    """nginx with its own prefix directory; ``start(site)`` includes the site file in http{}.

    Ports are picked up front so the site can be rendered with them.
    """

    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="experthub-nginx-")))
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def conf(self) -> Path:
        return self.root / "nginx.conf"

    def installed(self) -> NginxServer:
        """Self, once the nginx binary is known to be there (else ServerUnavailable)."""
        nginx_binary()
        return self

    def write(self, site: str) -> NginxServer:
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.root / "experthub.conf").write_text(site)
        self.conf.write_text(self._main_config())
        return self

    def check(self) -> subprocess.CompletedProcess[str]:
        """`nginx -t` on what write() wrote."""
        return subprocess.run(self._command("-t"), capture_output=True, text=True, check=False)

    def start(self, site: str) -> NginxServer:
        self.write(site)
        checked = self.check()
        if checked.returncode != 0:
            raise AssertionError(f"nginx -t failed:\n{checked.stderr}")
        self.process = subprocess.Popen(self._command("-g", "daemon off;"), stderr=subprocess.PIPE)
        wait_until(
            lambda: self.process is None or self.process.poll() is not None or self._listening(),
            timeout=20,
            what="nginx",
        )
        if self.process.poll() is not None:
            raise ServerUnavailable(f"nginx exited: {self.process.communicate()[1].decode()}")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()  # nginx's fast shutdown
            self.process.communicate(timeout=10)
            self.process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def error_log(self) -> str:
        return "".join(path.read_text() for path in sorted(self.logs.glob("*error*.log")))

    def _listening(self) -> bool:
        return port_open(self.http_port) and port_open(self.https_port)

    def _command(self, *args: str) -> list[str]:
        return [nginx_binary(), "-p", str(self.root), "-c", str(self.conf), "-e", str(self.logs / "error.log"), *args]

    def _main_config(self) -> str:
        # As root the workers would switch to `nobody`, who cannot read pytest's 0700 temp dirs.
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "".join(
            f"    {kind}_temp_path {self.root / kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        return (
            f"{user}worker_processes 1;\npid {self.root / 'nginx.pid'};\n"
            "events { worker_connections 256; }\n"
            "http {\n    include /etc/nginx/mime.types;\n    default_type application/octet-stream;\n"
            f"    access_log {self.logs / 'access.log'};\n{temp}"
            f"    include {self.root / 'experthub.conf'};\n}}\n"
        )


def curl_binary() -> str:
    """curl with HTTP/2 (Debian's links nghttp2): the HTTP/2 client of the nginx tests."""
    found = shutil.which("curl")
    if found is None:
        raise ServerUnavailable("curl is not installed (apt-get install curl)")
    if "HTTP2" not in subprocess.run([found, "--version"], capture_output=True, text=True, check=False).stdout:
        raise ServerUnavailable(f"{found} was built without HTTP/2")
    return found


# --- a client that says which site it wants (SNI and Host) -----------------------------------


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes


def request(
    port: int,
    method: str = "GET",
    path: str = "/",
    *,
    tls: ssl.SSLContext | None = None,
    server_name: str = SITE_NAME,
    host: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 30,
) -> Reply:
    """One request to nginx on loopback: TLS with ``server_name`` as SNI when ``tls`` is given;
    Host is ``host`` (default: the server name with the port). Raises http.client.RemoteDisconnected
    when nginx closes the connection without an answer (444), ssl.SSLError when it refuses the handshake."""
    connection = _connection(port, tls, server_name, timeout)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", host if host is not None else f"{server_name}:{port}")
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        connection.close()


def _connection(port: int, tls: ssl.SSLContext | None, server_name: str, timeout: float) -> http.client.HTTPConnection:
    if tls is None:
        return http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    connection = http.client.HTTPSConnection(LOOPBACK, port, timeout=timeout, context=tls)
    raw = socket.create_connection((LOOPBACK, port), timeout=timeout)
    connection.sock = tls.wrap_socket(raw, server_hostname=server_name)
    return connection


def curl_request(
    port: int, certificate: Path, path: str, *, http2: bool, arguments: Sequence[str] = (), timeout: float = 30
) -> Reply:
    """One request by curl over TLS (HTTP/2, else HTTP/1.1) to nginx on loopback, with the site's
    name as SNI and Host; ``arguments`` are curl's (-X POST, --data-binary @file, -H ...)."""
    command = [
        *(curl_binary(), "--silent", "--show-error", "--include", "--http2" if http2 else "--http1.1"),
        *("--resolve", f"{SITE_NAME}:{port}:{LOOPBACK}", "--cacert", str(certificate), "--max-time", str(timeout)),
        *arguments,
        f"https://{SITE_NAME}:{port}{path}",
    ]
    result = subprocess.run(command, capture_output=True, check=False, timeout=timeout + 10)
    if result.returncode != 0:
        raise AssertionError(f"curl failed ({result.returncode}): {result.stderr.decode()}")
    head, _, body = result.stdout.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    protocol, status = status_line.split()[:2]
    assert protocol == ("HTTP/2" if http2 else "HTTP/1.1"), status_line
    headers = Message()
    for line in lines:
        name, value = line.split(":", 1)
        headers[name.strip()] = value.strip()
    return Reply(int(status), headers, body)
