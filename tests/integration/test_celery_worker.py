"""A real worker process (`celery -A project worker`) on a real Redis broker delivers the booking email.

This test process plays the web process: it requests a booking through the use
cases with the Celery event publisher bound to the broker; after the commit the
notify task goes to Redis, and the worker (production settings, the live test
database, EMAIL_URL=filemail://) writes the expert's email to a folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

from adapters.celery.events import CeleryEventPublisher
from domain.money import Money
from domain.users import Role
from project.container import container
from tests.harness.servers import RedisServer, ServerUnavailable, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
BROKER_DB = 15  # no other test uses it (the xdist workers' caches take 1, 2, ...)


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@contextmanager
def worker(broker_url: str, mail_dir: Path, var_dir: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The worker as a Procfile would start it, with production settings (not tests.settings)."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": database_url(),
        "DATABASE_POOL": "none",
        "CELERY_BROKER_URL": broker_url,
        "REDIS_URL": "",
        "EMAIL_URL": f"filemail:///{mail_dir}",  # django-environ drops one slash: keep the path absolute
        "VAR_DIR": str(var_dir),
    }
    command = [sys.executable, "-m", "celery", "-A", "project", "worker", "--pool=solo", "--loglevel=INFO"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.terminate()  # SIGTERM: warm shutdown, the current task finishes
            process.wait(timeout=30)


def emails_to(mail_dir: Path, address: str) -> list[str]:
    return [text for path in mail_dir.glob("*.log") if address in (text := path.read_text())]


def test_requesting_a_booking_delivers_the_experts_email(redis_server: RedisServer, tmp_path: Path) -> None:
    broker_url = redis_server.url.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    web_app = Celery("web", broker=broker_url, set_as_current=False)
    expert_user = container.account_register(
        email="ada@example.com", password="pw-123456", name="Ada", role=Role.EXPERT
    )
    client = container.account_register(email="bob@example.com", password="pw-123456", name="Bob", role=Role.CLIENT)
    profile = container.expert_create(
        actor=expert_user.id, headline="Django consultant", skills=["django"], hourly_rate=Money(12000, "EUR")
    )
    container.expert_publish(actor=expert_user.id, expert_id=profile.id)

    log = tmp_path / "worker.log"
    with (
        worker(broker_url, mail_dir, tmp_path / "var", log) as process,
        container.events.override(CeleryEventPublisher(app=web_app)),
    ):
        container.booking_request(
            actor=client.id,
            expert_id=profile.id,
            starts_at=container.clock().now() + timedelta(days=1),
            duration_minutes=60,
            topic="Scaling Django",
        )
        try:
            wait_until(
                lambda: bool(emails_to(mail_dir, "ada@example.com")) or process.poll() is not None,
                timeout=60,
                what="the expert's email",
            )
        except ServerUnavailable:
            pytest.fail(f"no email; the worker's log:\n{log.read_text()}")
        assert process.poll() is None, log.read_text()

    [email] = emails_to(mail_dir, "ada@example.com")
    assert "Scaling Django" in email
    assert "Bob" in email
