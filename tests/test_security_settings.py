"""Security settings: a deployment passes `check --deploy` with no issue; `make run` still serves plain HTTP."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings

ROOT = Path(__file__).resolve().parent.parent


def manage(tmp_path: Path, *args: str, **environ: str) -> subprocess.CompletedProcess[str]:
    """manage.py with the production settings module and only the environment given."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT", "VIRTUAL_ENV")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={
            **inherited,
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "VAR_DIR": str(tmp_path),
            **environ,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_deployment_passes_check_deploy_with_no_issue(tmp_path: Path) -> None:
    checked = manage(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="false",
        ALLOWED_HOSTS="experthub.example.com",
        CSRF_TRUSTED_ORIGINS="https://experthub.example.com",
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "System check identified no issues (0 silenced)." in checked.stdout


def test_a_deployment_trusts_the_proxys_scheme_header_and_sends_hsts(tmp_path: Path) -> None:
    shown = manage(
        tmp_path,
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.SECURE_PROXY_SSL_HEADER, s.SECURE_SSL_REDIRECT,"
        " s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)",
        SECRET_KEY=secrets.token_urlsafe(50),
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-1] == "('HTTP_X_FORWARDED_PROTO', 'https') True 31536000 True True"


def test_check_deploy_fails_where_the_development_secret_key_was_left_in_place(tmp_path: Path) -> None:
    checked = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", DJANGO_HTTPS="true")

    assert checked.returncode != 0
    # Before any check runs: the process refuses the key (tests/test_secret_key.py has every process).
    assert "Refusing to start: SECRET_KEY is not set" in checked.stderr


def test_development_defaults_serve_plain_http_as_make_run_does() -> None:
    # The tests, like `make run`, run with the HTTPS defaults of the embedded development key.
    assert settings.HTTPS is False
    assert settings.SECURE_SSL_REDIRECT is False
    assert settings.SESSION_COOKIE_SECURE is False
    assert settings.SECURE_PROXY_SSL_HEADER is None

    response = Client().get("/api/v1/me/")

    assert response.status_code == 401  # answered, not redirected to https://
    assert "Strict-Transport-Security" not in response


HTTPS_SETTINGS = {
    "SECURE_SSL_REDIRECT": True,
    "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https"),
    "SECURE_HSTS_SECONDS": 31536000,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
}


@override_settings(**HTTPS_SETTINGS)
def test_behind_the_tls_proxy_plain_http_is_redirected_and_https_gets_the_security_headers() -> None:
    client = Client()

    plain = client.get("/api/v1/me/")
    proxied = client.get("/api/v1/me/", HTTP_X_FORWARDED_PROTO="https")

    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/api/v1/me/"
    assert proxied.status_code == 401
    assert proxied["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert proxied["X-Content-Type-Options"] == "nosniff"
    assert proxied["X-Frame-Options"] == "DENY"
    assert proxied["Referrer-Policy"] == "same-origin"
    assert proxied["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.parametrize("path", ["/healthz", "/healthz/"])
@override_settings(**HTTPS_SETTINGS)
def test_health_checks_over_plain_http_are_not_redirected(path: str) -> None:
    response = Client().get(path)

    assert response.status_code != 301  # whatever /healthz answers, it is not sent to https://
