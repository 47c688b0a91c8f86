"""What is public: the schema, Swagger UI and the browsable API can be switched off; every HTML page has a CSP.

docs/security.md, "What is public". /readyz's details: tests/test_health.py.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client, override_settings

from adapters.local.blobs import LocalBlobStore

ROOT = Path(__file__).resolve().parent.parent
STATIC = "/" + settings.STATIC_URL.lstrip("/")
ASSETS = re.compile(r'<(?:script|link)\b[^>]*?\b(?:src|href)="([^"]+)"')
# The daily report's archive as it is stored: inline styles, a data: chart; a script must not run.
REPORT_HTML = (
    b'<html><body><h2 style="color:#333">Daily report</h2><img src="data:image/png;base64,iVBORw0KGgo=">'
    b"<script>document.title = 'ran'</script></body></html>"
)


def directives(response: Any) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: values for name, *values in parts}


def assert_no_inline_script(policy: dict[str, list[str]]) -> None:
    scripts = policy.get("script-src", policy["default-src"])
    assert "'unsafe-inline'" not in scripts
    assert "'unsafe-eval'" not in scripts
    assert all(source in ("'self'", "'none'") for source in scripts)


@pytest.fixture
def staff_client(django_user_model: Any) -> Client:
    user = django_user_model.objects.create_superuser(email="staff@example.com", password="pw-for-tests-1")
    client = Client()
    client.force_login(user)
    return client


def client_for(path: str, staff_client: Client) -> Client:
    return Client() if path == "/admin/login/" else staff_client  # the login page sends staff on


# --- a CSP on every kind of HTML page ----------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "accept"),
    [
        ("/admin/login/", "text/html"),
        ("/admin/", "text/html"),  # logged in: the index, with its scripts
        ("/admin/orm/expertprofilerow/", "text/html"),  # the change list and its inline <style>
        ("/api/v1/version/", "text/html"),  # the browsable API
        ("/api/docs/", "text/html"),  # Swagger UI
    ],
)
def test_every_html_page_has_a_csp_that_allows_no_inline_script(staff_client: Client, path: str, accept: str) -> None:
    response = client_for(path, staff_client).get(path, HTTP_ACCEPT=accept)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    policy = directives(response)
    assert_no_inline_script(policy)
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert not re.search(rb"<script>(?!\s*</script>)", response.content)  # every script is a file the CSP allows


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/admin/login/", "/admin/", "/api/docs/", "/api/v1/version/"])
def test_html_pages_load_their_scripts_and_styles_from_this_origin(staff_client: Client, path: str) -> None:
    page = client_for(path, staff_client).get(path, HTTP_ACCEPT="text/html").content.decode()
    assets = ASSETS.findall(page)

    assert assets
    for url in assets:
        assert url.startswith("/"), url  # no CDN, no other origin
        assert not url.startswith("//"), url
        if url.startswith(STATIC):
            name = url.split("?")[0].removeprefix(STATIC)
            assert finders.find(name), f"{url} is not among the static files"
        else:
            assert staff_client.get(url).status_code == 200, url  # Swagger UI's start-up script


def test_swagger_ui_comes_from_the_pinned_sidecar_not_a_cdn() -> None:
    page = Client().get("/api/docs/").content.decode()

    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower()
    assert "@latest" not in page


def test_the_archived_report_renders_its_styles_and_chart_but_no_script(settings: Any, tmp_path: Path) -> None:
    settings.BLOB_ROOT = tmp_path
    store = LocalBlobStore(root=str(tmp_path), base_url="http://testserver", secret=settings.SECRET_KEY)
    store.put("reports/2026-01-01.html", REPORT_HTML, content_type="text/html")

    response = Client().get(store.download_url("reports/2026-01-01.html", expires_in=60))

    assert response.status_code == 200
    policy = directives(response)
    assert policy["default-src"] == ["'none'"]  # no script, font, frame or connection
    assert "script-src" not in policy
    assert policy["style-src"] == ["'unsafe-inline'"]
    assert policy["img-src"] == ["data:"]
    assert "sandbox" in policy  # no scripts, forms or this origin's cookies even so


# --- switched off ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("switch", "off", "on"),
    [
        ("API_SCHEMA_ENABLED", ["/api/schema/", "/api/docs/"], []),  # Swagger UI needs the schema
        ("API_DOCS_ENABLED", ["/api/docs/"], ["/api/schema/"]),
    ],
)
def test_a_switched_off_schema_or_swagger_ui_is_a_404_in_the_error_shape(
    switch: str, off: list[str], on: list[str]
) -> None:
    with override_settings(**{switch: False}):
        for path in off:
            response = Client().get(path)
            assert response.status_code == 404, path
            assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}
        for path in on:
            assert Client().get(path).status_code == 200, path


def test_by_default_the_schema_and_swagger_ui_are_served() -> None:
    assert Client().get("/api/schema/").status_code == 200
    assert Client().get("/api/docs/").status_code == 200


def browsable(enabled: str) -> str:
    """The Content-Type a browser gets from an API endpoint, in a process with BROWSABLE_API_ENABLED=enabled."""
    code = (
        "import django; django.setup(); from django.test import Client; "
        "print(Client().get('/api/v1/version/', HTTP_ACCEPT='text/html')['Content-Type'])"
    )
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "BROWSABLE_API_ENABLED": enabled}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_the_browsable_api_can_be_switched_off() -> None:
    assert browsable("true").startswith("text/html")
    assert browsable("false") == "application/json"
