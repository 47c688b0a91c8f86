"""Logs: JSON lines carrying the request id, from the request into the tasks it enqueues; Sentry by SENTRY_DSN."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import structlog
from celery import Celery, current_app
from celery.contrib.testing.worker import start_worker
from dependency_injector import providers
from django.conf import settings
from django.test import Client
from django_structlog.celery.steps import DjangoStructLogInitStep

from adapters.celery.events import CeleryEventPublisher
from project.container import container
from project.logging import build_logging
from project.version import __version__
from tests.harness.deployment import PLAIN_HTTP_DEPLOYMENT

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the root logger writes, through the project's own formatter (LOGGING)."""
    [formatter] = {
        handler.formatter
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, structlog.stdlib.ProcessorFormatter)
    }
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(formatter)
    logging.getLogger().addHandler(handler)
    yield output
    logging.getLogger().removeHandler(handler)
    structlog.contextvars.clear_contextvars()


def entries(output: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.getvalue().splitlines()]


def test_production_logs_are_json_and_development_logs_are_console_lines() -> None:
    assert settings.LOG_FORMAT == "json"  # DJANGO_DEBUG is off in the test settings
    assert build_logging(log_format="console", level="INFO")["root"]["handlers"] == ["console"]
    with pytest.raises(ValueError, match="LOG_FORMAT"):
        build_logging(log_format="xml", level="INFO")


@pytest.mark.django_db
def test_every_line_of_a_request_carries_the_request_id_it_came_with(log_lines: io.StringIO) -> None:
    response = Client().get("/api/v1/me/", HTTP_X_REQUEST_ID="abc")

    assert response.status_code == 401
    assert response["X-Request-ID"] == "abc"
    lines = entries(log_lines)
    assert {line["logger"] for line in lines} >= {"django_structlog.middlewares.request", "django.request"}
    assert all(line["request_id"] == "abc" for line in lines), lines


@pytest.mark.django_db
def test_a_request_without_an_id_gets_one_and_is_told_it(log_lines: io.StringIO) -> None:
    response = Client().get("/api/v1/me/")

    request_id = response["X-Request-ID"]
    assert len(request_id) == 32
    assert {line["request_id"] for line in entries(log_lines)} == {request_id}


@pytest.mark.parametrize("forged", ["a" * 201, "two words", "new\nline", '{"json": 1}'])
@pytest.mark.django_db
def test_a_request_id_that_does_not_look_like_one_is_replaced(forged: str) -> None:
    response = Client().get("/api/v1/me/", HTTP_X_REQUEST_ID=forged)

    assert response["X-Request-ID"] != forged
    assert len(response["X-Request-ID"]) == 32


@pytest.fixture
def worker_app() -> Iterator[Celery]:
    """A Celery app on the in-memory broker and a worker thread consuming it (with the
    django-structlog boot step the project's worker has: project/celery.py)."""
    app = Celery("logging-test", broker="memory://", set_as_current=False)
    app.conf.update(task_always_eager=False, task_ignore_result=True, worker_hijack_root_logger=False)
    app.steps["worker"].add(DjangoStructLogInitStep)
    project_app = current_app._get_current_object()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield app
    finally:
        # start_worker makes its app the current and default one for good.
        project_app.set_current()
        project_app.set_default()


@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_by_a_request_logs_with_its_request_id(worker_app: Celery, log_lines: io.StringIO) -> None:
    ran = threading.Event()

    def notification_for_event(event: object) -> list[object]:
        ran.set()
        return []

    with (
        container.notification_for_event.override(providers.Callable(notification_for_event)),
        container.events.override(
            CeleryEventPublisher(app=worker_app, uow=container.uow(), outbox=container.event_outbox())
        ),
    ):
        response = Client().post(
            "/api/v1/auth/register/",
            {"email": "ada@example.com", "password": "pw-1234567x", "name": "Ada", "role": "client"},
            content_type="application/json",
            HTTP_X_REQUEST_ID="req-42",
        )
        assert response.status_code == 201, response.content
        assert ran.wait(timeout=30), log_lines.getvalue()

    task_lines = [line for line in entries(log_lines) if "task_id" in line]
    assert {line["event"] for line in task_lines} >= {"task_started"}
    assert {line["request_id"] for line in task_lines} == {"req-42"}
    enqueued = [line for line in entries(log_lines) if line["event"] == "task_enqueued"]
    assert enqueued
    assert enqueued[0]["request_id"] == "req-42"


# --- Sentry -----------------------------------------------------------------------------


def test_without_a_dsn_sentry_is_not_initialised() -> None:
    import sentry_sdk

    assert not settings.SENTRY_DSN
    assert not sentry_sdk.get_client().is_active()


class SentrySink(BaseHTTPRequestHandler):
    """Stands in for sentry.io: keeps the body of every envelope posted to it."""

    received: list[bytes]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            import gzip

            body = gzip.decompress(body)
        self.received.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


SENTRY_SCRIPT = """
import sys, types
import django
from django.test.utils import override_settings
from django.urls import path

django.setup()
import sentry_sdk
from django.test import Client

def boom(request):
    raise RuntimeError("sentry-test-boom")

urls = types.ModuleType("sentry_test_urls")
urls.urlpatterns = [path("boom/", boom)]
sys.modules["sentry_test_urls"] = urls
with override_settings(ROOT_URLCONF="sentry_test_urls"):
    status = Client(raise_request_exception=False).get("/boom/").status_code
sentry_sdk.flush(timeout=10)
print(status, sentry_sdk.get_client().is_active())
"""


def test_with_a_dsn_an_unhandled_exception_reaches_sentry(tmp_path: Path) -> None:
    SentrySink.received = []
    sink = ThreadingHTTPServer(("127.0.0.1", 0), SentrySink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("SENTRY_", "DJANGO_"))},
        **PLAIN_HTTP_DEPLOYMENT,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SENTRY_DSN": f"http://public@127.0.0.1:{sink.server_port}/1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "VAR_DIR": str(tmp_path),
    }
    try:
        run = subprocess.run(
            [sys.executable, "-c", SENTRY_SCRIPT],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        sink.shutdown()

    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["500", "True"]
    events = [body for body in SentrySink.received if b"sentry-test-boom" in body]
    assert events, SentrySink.received
    assert f'"release":"{__version__}"'.encode() in events[0].replace(b" ", b"")  # the one version in code
