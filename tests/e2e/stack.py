"""The production stack on loopback for the end-to-end test (tests/e2e/test_journey.py).

nginx (the shipped site, rendered) → gunicorn's gevent workers on a unix socket →
PostgreSQL, Redis, moto's S3; a prefork Celery worker on the Redis broker sending
through an SMTP sink. Every process is configured only through the environment
built here, from nothing a stack run (``python -m tests.harness``) exported, and
writes its output to a file in one log directory that a failing test shows.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.render_nginx import SiteOptions, render
from tests.harness.nginx import SITE_NAME, NginxServer, Reply, TlsCertificate, request
from tests.harness.servers import LOOPBACK, MotoServer, PostgresServer, ServerUnavailable, wait_until
from tests.harness.worker import SessionProcess

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
INHERITED = ("HOME", "LANG", "LC_ALL", "TMPDIR")
LOG_TAIL_CHARS = 6000


def production_environment(
    *, postgres: PostgresServer, redis_url: str, moto: MotoServer, email_url: str, var: Path
) -> dict[str, str]:
    """What a VM's /etc/experthub/env holds: production settings (a real SECRET_KEY switches HTTPS mode on)."""
    database = f"e2e_{uuid.uuid4().hex[:8]}"
    postgres.psql(f"CREATE DATABASE {database}")
    inherited = {name: os.environ[name] for name in INHERITED if name in os.environ}
    return {
        **inherited,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DJANGO_DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": SITE_NAME,
        "CSRF_TRUSTED_ORIGINS": f"https://{SITE_NAME}",
        # The frontend that uploads avatars straight to the bucket (blobstore_setup sets its CORS).
        "CORS_ALLOWED_ORIGINS": f"https://{SITE_NAME}",
        "VAR_DIR": str(var),
        "STATIC_ROOT": str(var / "static"),
        "DATABASE_URL": postgres.url(database),
        "REDIS_URL": redis_url,
        "BLOB_BACKEND": "s3",
        "S3_ENDPOINT_URL": moto.endpoint_url,
        "S3_BUCKET": f"e2e-{uuid.uuid4().hex[:12]}",
        "S3_REGION": "us-east-1",
        "S3_ACCESS_KEY_ID": "experthub-e2e",
        "S3_SECRET_ACCESS_KEY": "experthub-e2e-secret",
        "S3_ADDRESSING_STYLE": "path",
        "EMAIL_URL": email_url,
        "EVENTS_BACKEND": "celery",
        "METRICS_TOKEN": secrets.token_urlsafe(24),
        "WEB_CONCURRENCY": "2",
        "CELERY_CONCURRENCY": "1",
    }


def web_environment(environment: Mapping[str, str], *, socket_path: Path, var: Path) -> dict[str, str]:
    """gunicorn on the unix socket nginx proxies to; /metrics adds in the worker's metric files."""
    return {
        **environment,
        "GUNICORN_BIND": f"unix:{socket_path}",
        "PROMETHEUS_MULTIPROC_DIR": str(var / "metrics" / "web"),
        "METRICS_EXTRA_DIRS": str(var / "metrics" / "worker"),
    }


def worker_environment(environment: Mapping[str, str], *, var: Path) -> dict[str, str]:
    metrics = var / "metrics" / "worker"
    metrics.mkdir(parents=True, exist_ok=True)
    # Prefork children: one connection each, no greenlet pool.
    return {**environment, "DATABASE_POOL": "none", "PROMETHEUS_MULTIPROC_DIR": str(metrics)}


def manage(environment: Mapping[str, str], logs: Path, *args: str) -> str:
    """`manage.py <args>` as the release does it; its output goes to logs/manage-<command>.log."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(environment),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    (logs / f"manage-{args[0]}.log").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


@dataclass
class Gunicorn(SessionProcess):
    """`gunicorn project.wsgi --config gunicorn.conf.py`, as the Procfile and the systemd unit start it."""

    socket_path: Path = Path()

    def start(self) -> Gunicorn:
        self.spawn([str(BIN / "gunicorn"), "project.wsgi", "--config", "gunicorn.conf.py"])
        return self

    def wait_booted(self, timeout: float) -> None:
        wait_until(lambda: self._accepting() or not self.running(), timeout=timeout, what="gunicorn's socket")
        if not self.running():
            raise ServerUnavailable("gunicorn exited while booting")

    def _accepting(self) -> bool:
        with socket.socket(socket.AF_UNIX) as client:
            try:
                client.connect(str(self.socket_path))
            except OSError:
                return False
            return True


def site_options(
    nginx: NginxServer, certificate: TlsCertificate, upstream: str, *, static_root: Path, logs: Path
) -> SiteOptions:
    """The shipped site with loopback ports, the test's certificate and loopback-only /metrics."""
    return SiteOptions(
        server_name=SITE_NAME,
        http_listen=f"{LOOPBACK}:{nginx.http_port}",
        https_listen=f"{LOOPBACK}:{nginx.https_port}",
        upstream_servers=(upstream,),
        tls_certificate=str(certificate.certificate),
        tls_certificate_key=str(certificate.key),
        static_root=str(static_root),
        metrics_allow=(LOOPBACK,),
        log_dir=str(logs),
        ipv6=False,
    )


def start_nginx(nginx: NginxServer, options: SiteOptions) -> NginxServer:
    return nginx.start(render(options))


@dataclass
class Site:
    """A client of the site through nginx: HTTPS to 127.0.0.1 with SNI and Host experthub.test."""

    nginx: NginxServer
    tls: ssl.SSLContext

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        sent = {"Accept": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            sent["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        return request(self.nginx.https_port, method, path, tls=self.tls, headers=sent, body=data)

    def json(self, method: str, path: str, expected: int, **kwargs: Any) -> Any:
        """The decoded body of a call that must answer ``expected``."""
        reply = self.call(method, path, **kwargs)
        assert reply.status == expected, f"{method} {path}: {reply.status} {reply.body[:2000]!r}"
        return json.loads(reply.body) if reply.body else None

    def plain(self, path: str) -> Reply:
        """Plain HTTP to the site's port 80 stand-in."""
        return request(self.nginx.http_port, "GET", path)


def log_tails(logs: Path) -> str:
    """The end of every log file, for an assertion message."""
    parts = []
    for path in sorted(logs.glob("*.log")):
        text = path.read_text(errors="replace")
        parts.append(f"--- {path.name} ({len(text)} chars, last {LOG_TAIL_CHARS}) ---\n{text[-LOG_TAIL_CHARS:]}")
    return "\n".join(parts)


@contextmanager
def logs_on_failure(logs: Path) -> Iterator[None]:
    """A failure inside says what every process of the stack wrote."""
    try:
        yield
    except Exception as error:
        raise AssertionError(
            f"{type(error).__name__}: {error}\n\nthe stack's logs ({logs}):\n{log_tails(logs)}"
        ) from error
