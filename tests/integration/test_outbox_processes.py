"""The transactional outbox with real processes: a web process killed between the commit and
the send, and a booking request while Redis (cache and broker) is frozen.

Real servers: redis-server (the broker; frozen with SIGSTOP in the second test), a
`celery -A project worker` process with the production settings, the SMTP sink of
tests/harness/smtp.py, and the live test database. The web side is a real process
too: `manage.py shell` making a booking (first test) and the Procfile's gunicorn with
its gevent workers (second test). Nothing is patched: the production settings are
configured through the environment only.

"Exactly once" is counted after the broker stayed empty for QUIET_SECONDS (nothing
queued, nothing taken and unacknowledged): no task can run again after that.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from adapters.celery.events import enqueue, event_payload, outbox_relay
from adapters.celery.outbox import DjangoEventOutbox
from adapters.orm.models import BookingRow, OutboxEvent
from adapters.orm.models import User as UserRow
from domain.events import BookingRequested
from domain.ids import BookingId, ExpertId
from domain.users import Role, User
from project.container import container
from project.database import is_postgres
from tests.harness.servers import LOOPBACK, RedisServer, free_port
from tests.harness.smtp import SmtpSink
from tests.harness.web import gunicorn_serving
from tests.harness.worker import ROOT, CeleryWorker, WorkerRedis, wait_for, worker_environment
from tests.integration.test_celery_mail_delivery import EXPERT, published_expert

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

WAIT_SECONDS = 60
QUIET_SECONDS = 1.0
# What the brief promises is about a second; the assertion is generous for a loaded machine.
FROZEN_REQUEST_BOUND_SECONDS = 3.0


@dataclass
class Stack:
    redis: RedisServer
    broker: WorkerRedis
    smtp: SmtpSink
    var_dir: Path
    worker: CeleryWorker | None = None

    def environment(self, **extra: str) -> dict[str, str]:
        """A deployed process's environment: production settings, the live test database, this Redis."""
        return worker_environment(
            broker_url=self.broker.broker_url,
            cache_url=self.broker.cache_url,
            email_url=self.smtp.url,
            var_dir=self.var_dir,
            EVENTS_BACKEND="celery",
            **extra,
        )

    @property
    def running_worker(self) -> CeleryWorker:
        assert self.worker is not None
        return self.worker

    def relay(self) -> int:
        """The relay as the beat task runs it (min_age 0: the test does not wait for rows to age)."""
        app = Celery("relay", broker=self.broker.broker_url, set_as_current=False)
        try:
            return outbox_relay(outbox=DjangoEventOutbox(), app=app, min_age=0)
        finally:
            app.close()

    def emails(self, subject: str) -> int:
        return sum(1 for received in self.smtp.to(EXPERT) if received.subject == subject)

    def wait_for_emails(self, subject: str, count: int = 1) -> None:
        """Until ``count`` such emails arrived and the broker stayed quiet: no more can come after that."""
        wait_for(
            lambda: self.emails(subject) >= count,
            timeout=WAIT_SECONDS,
            what=f"{count} email(s) {subject!r}",
            worker=self.running_worker,
        )
        self.wait_until_quiet()

    def wait_until_quiet(self) -> None:
        self.broker.wait_until_quiet(self.running_worker, quiet=QUIET_SECONDS, timeout=WAIT_SECONDS)


@pytest.fixture
def stack(own_redis_server: RedisServer, smtp_sink: SmtpSink, tmp_path: Path) -> Iterator[Stack]:
    """A redis-server of this test's own (it may be frozen), a real worker on it, the SMTP sink."""
    broker = WorkerRedis.emptied(own_redis_server.url, broker_db=15, cache_db=14)
    stack = Stack(own_redis_server, broker, smtp_sink, var_dir=tmp_path / "var")
    stack.worker = CeleryWorker(stack.environment(), log=tmp_path / "worker.log", pool="prefork", concurrency=1)
    stack.worker.start()
    yield stack
    stack.worker.stop()


def client_named(name: str) -> User:
    return container.account_register(
        email=f"{name.lower()}@example.com", password="pw-123456", name=name, role=Role.CLIENT
    )


def waiting_ids() -> list[dict[str, str]]:
    return list(OutboxEvent.objects.filter(published_at=None).values_list("ids", flat=True))


# --- killed between the commit and the send -----------------------------------------------------

# Run by `manage.py shell -c`: the booking use case inside an outer transaction whose FIRST
# on-commit callback announces the commit and then sleeps, so the publisher's send (registered
# after it, inside booking_request) has not run when the test SIGKILLs the process.
BOOK_THEN_STALL = """
import time
import uuid
from datetime import UTC, datetime, timedelta
from django.db import transaction
from project.container import container

def stall():
    print("committed", flush=True)
    time.sleep(600)

with transaction.atomic():
    transaction.on_commit(stall)
    booking = container.booking_request(
        actor=uuid.UUID("{client}"), expert_id=uuid.UUID("{expert}"), starts_at=datetime.now(UTC) + timedelta(days=1),
        duration_minutes=60, topic="Killed before the send",
    )
    print(booking.id, flush=True)
"""


def book_and_get_killed(stack: Stack, *, client: User, expert_id: ExpertId) -> BookingId:
    """A real process commits a booking and is SIGKILLed before its event is sent; the booking's id."""
    script = BOOK_THEN_STALL.format(client=client.id, expert=expert_id)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", script],
        cwd=ROOT,
        env=stack.environment(DATABASE_POOL="none"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(WAIT_SECONDS, process.kill)  # a process stuck before its commit fails the test
    watchdog.start()
    try:
        assert process.stdout is not None
        booking_id = process.stdout.readline().strip()
        committed = process.stdout.readline().strip()
        assert committed == "committed", (booking_id, committed, process.stderr and process.stderr.read())
    finally:
        watchdog.cancel()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    return BookingId(uuid.UUID(booking_id))


def test_a_process_killed_between_commit_and_send_loses_no_event_and_mails_once(stack: Stack) -> None:
    expert_id, bob = published_expert(), client_named("Bob")

    booking_id = book_and_get_killed(stack, client=bob, expert_id=expert_id)

    assert BookingRow.objects.filter(id=booking_id).exists()  # committed
    assert waiting_ids() == [{"booking_id": str(booking_id)}]  # its event too, never sent
    assert stack.broker.broker_drained()
    assert stack.emails("New booking request from Bob") == 0

    assert stack.relay() == 1
    stack.wait_for_emails("New booking request from Bob")
    assert waiting_ids() == []
    assert stack.relay() == 0  # published: the next run leaves it alone

    # A relay that dies after sending and before its commit sends the event again: still one email.
    app = Celery("again", broker=stack.broker.broker_url, set_as_current=False)
    enqueue(event_payload(BookingRequested(booking_id=booking_id)), app=app)
    app.close()
    stack.wait_until_quiet()
    assert stack.emails("New booking request from Bob") == 1


# --- Redis frozen during a booking request ----------------------------------------------------


@dataclass
class Web:
    port: int
    token: str

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any, float]:
        """Status, JSON body and seconds taken."""
        client = http.client.HTTPConnection(LOOPBACK, self.port, timeout=60)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        started = time.monotonic()
        client.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = client.getresponse()
        payload = response.read()
        elapsed = time.monotonic() - started
        client.close()
        return response.status, json.loads(payload or b"null"), elapsed

    def book(self, expert_id: ExpertId, *, in_days: int, topic: str) -> tuple[int, Any, float]:
        starts_at = (container.clock().now() + timedelta(days=in_days)).isoformat()
        booking = {"expert_id": str(expert_id), "starts_at": starts_at, "duration_minutes": 60, "topic": topic}
        return self.request("POST", "/api/v1/bookings/", booking)


@pytest.fixture
def web(stack: Stack) -> Iterator[Web]:
    """The Procfile's gunicorn (gevent workers) with the cache, the view counter and the broker on the stack's Redis."""
    port = free_port()
    environment = stack.environment(
        DATABASE_POOL="gevent" if is_postgres(connection.settings_dict) else "none",
        VIEW_COUNTER_BACKEND="redis",
        WEB_CONCURRENCY="1",
        PORT=str(port),
        WEB_HOST=LOOPBACK,
    )
    environment = {name: value for name, value in environment.items() if not name.startswith("GUNICORN_")}
    with gunicorn_serving(environment, port):
        yield Web(port, token="")


def token_for(user: User) -> str:
    return str(AccessToken.for_user(UserRow.objects.get(pk=user.id)))


def test_a_booking_with_redis_frozen_answers_in_time_and_its_email_goes_out_once_after(stack: Stack, web: Web) -> None:
    expert_id, carol, bob = published_expert(), client_named("Carol"), client_named("Bob")
    detail, search = f"/api/v1/experts/{expert_id}/", "/api/v1/experts/?q=django"
    web.token = token_for(carol)
    assert web.book(expert_id, in_days=1, topic="While Redis answers")[0] == 201  # warm: connections, imports
    assert web.request("GET", detail)[0] == web.request("GET", search)[0] == 200  # cached in Redis
    stack.wait_for_emails("New booking request from Carol")
    web.token = token_for(bob)

    stack.redis.hang()
    try:
        status, booking, booked_in = web.book(expert_id, in_days=2, topic="While Redis is frozen")
        timings = {"detail": web.request("GET", detail), "search": web.request("GET", search)}
        again = web.book(expert_id, in_days=3, topic="Second booking, Redis still frozen")
    finally:
        stack.redis.resume()

    print(f"\n  frozen Redis: booking {booked_in * 1000:.0f} ms, second booking {again[2] * 1000:.0f} ms, ", end="")
    print(", ".join(f"{name} {elapsed * 1000:.0f} ms" for name, (_, _, elapsed) in timings.items()))
    assert (status, booked_in < FROZEN_REQUEST_BOUND_SECONDS) == (201, True), (booking, booked_in)
    assert (again[0], again[2] < FROZEN_REQUEST_BOUND_SECONDS) == (201, True), again
    for name, (code, _, elapsed) in timings.items():
        assert (code, elapsed < FROZEN_REQUEST_BOUND_SECONDS) == (200, True), (name, elapsed)
    assert sorted(ids["booking_id"] for ids in waiting_ids()) == sorted([booking["id"], again[1]["id"]])
    assert stack.emails("New booking request from Bob") == 0

    assert stack.relay() == 2
    stack.wait_for_emails("New booking request from Bob", count=2)
    assert stack.emails("New booking request from Bob") == 2  # one per booking, none twice
    assert stack.emails("New booking request from Carol") == 1
