"""/healthz (liveness) and /readyz (readiness), through Django's test client, on the default adapters.

Real servers (a stopped Redis cache and broker): tests/integration/test_health_redis.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client

from domain.errors import PortError
from project.container import container
from project.health import describe, readiness_checks
from tests.harness.servers import LOOPBACK, free_port

pytestmark = pytest.mark.django_db

UNKNOWN_HOST = "10.1.2.3:8000"  # how a load balancer calls: by address, a Host ALLOWED_HOSTS refuses
CHECKS = {"database", "cache", "broker", "search", "blobs"}


class FailingSearch:
    """A search index whose store is down."""

    def ping(self) -> None:
        raise PortError("The search index is unavailable.")


class HangingSearch:
    """A search index whose store never answers (until released)."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def ping(self) -> None:
        self.release.wait(timeout=30)


@pytest.fixture
def client() -> Client:
    return Client(HTTP_HOST=UNKNOWN_HOST)


@pytest.fixture
def failing_search() -> Iterator[None]:
    with container.search.override(FailingSearch()):
        yield


def readyz(client: Client, expected_status: int) -> dict[str, Any]:
    response = client.get("/readyz")
    assert response.status_code == expected_status, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


# --- /healthz -----------------------------------------------------------------------------------


def test_healthz_answers_ok_for_any_host(client: Client, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "Set-Cookie" not in response
    assert client.get("/healthz/").status_code == 200


def test_healthz_stays_ok_while_a_dependency_is_down(client: Client, failing_search: None) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503


def test_probes_take_only_get_and_head(client: Client) -> None:
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
    assert client.post("/readyz").status_code == 405


def test_other_paths_still_check_the_host(client: Client) -> None:
    assert client.get("/api/v1/version/").status_code == 400  # DisallowedHost, as before


# --- /readyz ------------------------------------------------------------------------------------


def test_readyz_reports_every_dependency_ok(client: Client) -> None:
    body = readyz(client, 200)

    assert body["status"] == "ok"
    assert set(body["checks"]) == CHECKS
    for name, check in body["checks"].items():
        assert check["ok"] is True, name
        assert check["critical"] is True, name
        assert isinstance(check["ms"], float), name
        assert "error" not in check, name


def test_a_failing_search_index_fails_readiness_and_the_rest_is_reported(client: Client, failing_search: None) -> None:
    body = readyz(client, 503)

    assert body["status"] == "fail"
    assert body["checks"]["search"] == {
        "ok": False,
        "critical": True,
        "ms": body["checks"]["search"]["ms"],
        "error": "PortError: The search index is unavailable.",
    }
    assert {name for name, check in body["checks"].items() if check["ok"]} == CHECKS - {"search"}


def test_a_dead_broker_fails_readiness(client: Client, settings: Any) -> None:
    settings.CELERY_BROKER_URL = f"redis://:broker-secret@{LOOPBACK}:{free_port()}/0"  # nothing listens there

    body = readyz(client, 503)

    broker = body["checks"]["broker"]
    assert broker["ok"] is False
    assert broker["error"].startswith("OperationalError")
    assert "broker-secret" not in str(body)
    assert {name for name, check in body["checks"].items() if check["ok"]} == CHECKS - {"broker"}


def test_a_filesystem_broker_without_its_folder_fails_readiness(client: Client, settings: Any, tmp_path: Path) -> None:
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path / "missing"),
        "data_folder_out": str(tmp_path / "missing"),
    }

    body = readyz(client, 503)

    assert body["checks"]["broker"]["error"] == "CheckFailed: the broker's data_folder_in is missing or not writable"


def test_a_check_past_the_deadline_fails_and_does_not_hold_the_answer(client: Client, settings: Any) -> None:
    settings.READINESS_TIMEOUT_SECONDS = 0.2
    hanging = HangingSearch()
    try:
        with container.search.override(hanging):
            body = readyz(client, 503)
    finally:
        hanging.release.set()

    assert body["checks"]["search"]["ok"] is False
    assert body["checks"]["search"]["error"] == "TimeoutError: no answer within 0.2 s"
    assert {name for name, check in body["checks"].items() if check["ok"]} == CHECKS - {"search"}


def test_a_non_critical_failure_is_reported_without_failing(
    client: Client, settings: Any, failing_search: None
) -> None:
    settings.READINESS_NONCRITICAL_CHECKS = ["search"]

    body = readyz(client, 200)

    assert body["status"] == "ok"
    assert body["checks"]["search"]["ok"] is False
    assert body["checks"]["search"]["critical"] is False


def test_read_replicas_are_checked_but_not_critical(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the aliases are read (no connection is made): no need to reconfigure Django's connections.
    databases = {**django_settings.DATABASES, "replica1": dict(django_settings.DATABASES["default"])}
    monkeypatch.setattr(django_settings, "DATABASES", databases)

    checks = {check.name: check.critical for check in readiness_checks()}

    assert checks == {"database": True, "database:replica1": False, "cache": True, "broker": True} | {
        "search": True,
        "blobs": True,
    }


@pytest.mark.parametrize(
    ("error", "described"),
    [
        (ConnectionError("Error 111 connecting to redis://app:s3cret@db.internal:6379/0."), "s3cret"),
        (OSError("postgres://user:hunter2@host/db\nsecond line with hunter2"), "hunter2"),
    ],
)
def test_errors_never_show_passwords(error: Exception, described: str) -> None:
    text = describe(error)

    assert described not in text
    assert text.startswith(type(error).__name__ + ": ")
    assert "***@" in text


def test_a_failing_probe_logs_one_warning_not_a_server_error(
    client: Client, failing_search: None, caplog: pytest.LogCaptureFixture
) -> None:
    client.get("/readyz")

    warnings = [r for r in caplog.records if r.name == "project.health"]
    assert [r.levelname for r in warnings] == ["WARNING"]
    assert "search (PortError: The search index is unavailable.)" in warnings[0].getMessage()
    assert not [r for r in caplog.records if r.name == "django.request"]


# --- who sees the details ------------------------------------------------------------------------


def test_anyone_else_gets_only_the_overall_status_and_the_probes_status_code(failing_search: None) -> None:
    public = Client(REMOTE_ADDR="203.0.113.9")

    assert readyz(public, 503) == {"status": "fail"}  # no addresses, no error text


def test_an_operator_gets_every_check_as_for_metrics(settings: Any, failing_search: None) -> None:
    settings.METRICS_TOKEN = "operator-secret"
    bearer = Client(REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer operator-secret")

    assert readyz(bearer, 503)["checks"]["search"]["ok"] is False
    assert "checks" not in readyz(Client(), 503)  # loopback without the token: the token rules alone
