"""A real worker process (`celery -A project worker`) on a real Redis broker delivers the booking email.

This test process plays the web process: it requests a booking through the use
cases with the Celery event publisher bound to the broker; after the commit the
notify task goes to Redis, and the worker (production settings, the live test
database, EMAIL_URL=filemail://, the solo pool) writes the expert's email to a
folder. test_celery_mail_delivery.py runs the production pool and real SMTP.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery

from adapters.celery.events import CeleryEventPublisher
from domain.money import Money
from domain.users import Role
from project.container import container
from tests.harness.worker import CeleryWorker, WorkerRedis, wait_for, worker_environment

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def emails_to(mail_dir: Path, address: str) -> list[str]:
    return [text for path in mail_dir.glob("*.log") if address in (text := path.read_text())]


def test_requesting_a_booking_delivers_the_experts_email(worker_redis: WorkerRedis, tmp_path: Path) -> None:
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    web_app = Celery("web", broker=worker_redis.broker_url, set_as_current=False)
    expert_user = container.account_register(
        email="ada@example.com", password="pw-123456", name="Ada", role=Role.EXPERT
    )
    client = container.account_register(email="bob@example.com", password="pw-123456", name="Bob", role=Role.CLIENT)
    profile = container.expert_create(
        actor=expert_user.id, headline="Django consultant", skills=["django"], hourly_rate=Money(12000, "EUR")
    )
    container.expert_publish(actor=expert_user.id, expert_id=profile.id)

    environment = worker_environment(
        broker_url=worker_redis.broker_url,
        email_url=f"filemail:///{mail_dir}",  # django-environ drops one slash: keep the path absolute
        var_dir=tmp_path / "var",
    )
    worker = CeleryWorker(environment, log=tmp_path / "worker.log", pool="solo").start()
    try:
        with container.events.override(
            CeleryEventPublisher(app=web_app, uow=container.uow(), outbox=container.event_outbox())
        ):
            container.booking_request(
                actor=client.id,
                expert_id=profile.id,
                starts_at=container.clock().now() + timedelta(days=1),
                duration_minutes=60,
                topic="Scaling Django",
            )
        wait_for(lambda: emails_to(mail_dir, "ada@example.com"), timeout=60, what="the expert's email", worker=worker)
    finally:
        worker.stop()
        web_app.close()

    [email] = emails_to(mail_dir, "ada@example.com")
    assert "Scaling Django" in email
    assert "Bob" in email
