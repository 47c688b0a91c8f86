"""Broker outage after a commit: the event waits in the outbox, and the relay enqueues it once.

The refusing broker is a Celery app bound to a port nothing listens on (kombu's Redis
transport gets "connection refused", as from a Redis that is down); the working one is
kombu's in-process memory:// transport, read back with a kombu consumer. The outbox is
the real OutboxEvent table in the test database.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from celery import Celery
from dependency_injector import providers
from django.conf import settings
from django.db import connection
from kombu.exceptions import OperationalError

from adapters.celery.events import CeleryEventPublisher, event_payload, outbox_relay
from adapters.celery.outbox import DjangoEventOutbox, Payload
from adapters.orm.models import OutboxEvent
from api.tasks import outbox_relay as outbox_relay_task
from domain.errors import PortError
from domain.events import BookingRequested, ReviewCreated
from domain.ids import BookingId, ExpertId, ReviewId
from domain.money import Money
from domain.users import Role
from project.celery import app as project_app
from project.container import container
from tests.harness.servers import LOOPBACK, free_port


def refusing_redis() -> Celery:
    """A Celery app whose Redis broker is down (nothing listens on its port)."""
    app = Celery("down", broker=f"redis://{LOOPBACK}:{free_port()}/0", set_as_current=False)
    app.conf.task_publish_retry = False  # kombu's own retries on top of redis-py's would only add waits
    return app


class RefusingApp:
    """The part of a Celery app the publisher uses, refusing as kombu does when the broker is down
    (a refusing Redis costs seconds of redis-py retries per call: one test pays that, above).
    With ``down`` False it hands the message to ``working``."""

    def __init__(self, working: Celery | None = None) -> None:
        self.working = working
        self.down = True
        self.attempts = 0

    def signature(self, name: str, kwargs: dict[str, Any]) -> Any:
        self.attempts += 1
        if self.down or self.working is None:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        return self.working.signature(name, kwargs=kwargs)


def refusing_broker() -> Any:
    return RefusingApp()


@pytest.fixture
def working_broker() -> Celery:
    app = Celery("up", broker="memory://", set_as_current=False)
    # memory:// queues live as long as the process: a queue of its own per test.
    app.conf.task_default_queue = f"outbox-test-{uuid.uuid4().hex}"
    return app


def enqueued(app: Celery) -> list[tuple[str, dict[str, Any]]]:
    """(task name, kwargs) of every message waiting on the app's default queue, consumed."""
    messages = []
    with app.connection_for_read() as conn, conn.SimpleQueue(app.conf.task_default_queue) as queue:
        while queue.qsize():
            message = queue.get(timeout=1)
            _, kwargs, _ = message.decode()
            messages.append((message.headers["task"], kwargs))
            message.ack()
    return messages


def booking_requested() -> BookingRequested:
    return BookingRequested(booking_id=BookingId(uuid.uuid4()))


def stored() -> list[Payload]:
    return [{"kind": row.kind, "ids": row.ids} for row in OutboxEvent.objects.order_by("id")]


class FailingOutbox(DjangoEventOutbox):
    def add(self, payload: Payload) -> None:
        raise PortError("The database is unavailable.")


@pytest.mark.django_db
class TestPublishDuringAnOutage:
    def test_an_event_the_broker_refuses_is_kept_in_the_outbox(self) -> None:
        event = booking_requested()

        CeleryEventPublisher(app=refusing_broker(), outbox=DjangoEventOutbox()).publish(event)

        assert stored() == [event_payload(event)]

    def test_a_working_broker_gets_the_event_and_the_outbox_stays_empty(self, working_broker: Celery) -> None:
        event = booking_requested()

        CeleryEventPublisher(app=working_broker, outbox=DjangoEventOutbox()).publish(event)

        assert enqueued(working_broker) == [("api.tasks.notify", event_payload(event))]
        assert stored() == []

    def test_after_a_refusal_events_go_straight_to_the_outbox_for_a_pause(self, working_broker: Celery) -> None:
        """Only the first request of an outage waits for the broker's refusal."""
        now = [0.0]
        refusing = RefusingApp(working=working_broker)
        publisher = CeleryEventPublisher(app=refusing, outbox=DjangoEventOutbox(), pause=30, monotonic=lambda: now[0])
        events = [booking_requested() for _ in range(3)]

        publisher.publish(events[0])
        now[0] = 29.0
        publisher.publish(events[1])

        assert refusing.attempts == 1
        assert stored() == [event_payload(event) for event in events[:2]]
        refusing.down = False  # the broker is back
        now[0] = 31.0
        publisher.publish(events[2])
        assert enqueued(working_broker) == [("api.tasks.notify", event_payload(events[2]))]

    def test_when_the_outbox_fails_too_the_publish_is_a_port_error(self, caplog: pytest.LogCaptureFixture) -> None:
        with pytest.raises(PortError):
            CeleryEventPublisher(app=refusing_broker(), outbox=FailingOutbox()).publish(booking_requested())

        assert "both refused" in caplog.text

    def test_without_an_outbox_the_publish_is_a_port_error(self) -> None:
        with pytest.raises(PortError):
            CeleryEventPublisher(app=refusing_broker()).publish(booking_requested())

    def test_a_committed_booking_request_keeps_its_event_through_the_outage(
        self, django_capture_on_commit_callbacks: Any
    ) -> None:
        """The service publishes after the commit (on_commit); the outage there keeps the event."""
        expert = container.account_register(email="ada@example.com", password="pw-123456", name="Ada", role=Role.EXPERT)
        client = container.account_register(email="bob@example.com", password="pw-123456", name="Bob", role=Role.CLIENT)
        profile = container.expert_create(
            actor=expert.id, headline="Django consultant", skills=["django"], hourly_rate=Money(12000, "EUR")
        )
        container.expert_publish(actor=expert.id, expert_id=profile.id)
        publisher = CeleryEventPublisher(app=refusing_redis(), outbox=DjangoEventOutbox())

        with container.events.override(publisher), django_capture_on_commit_callbacks(execute=True):
            booking = container.booking_request(
                actor=client.id,
                expert_id=profile.id,
                starts_at=container.clock().now() + timedelta(days=1),
                duration_minutes=60,
                topic="Scaling Django",
            )

        assert stored() == [event_payload(BookingRequested(booking_id=booking.id))]


@pytest.mark.django_db
class TestRelay:
    def test_the_relay_enqueues_each_kept_event_once_and_deletes_it(self, working_broker: Celery) -> None:
        events = [
            booking_requested(),
            ReviewCreated(review_id=ReviewId(uuid.uuid4()), expert_id=ExpertId(uuid.uuid4())),
        ]
        publisher = CeleryEventPublisher(app=refusing_broker(), outbox=DjangoEventOutbox())
        for event in events:
            publisher.publish(event)

        assert outbox_relay(outbox=DjangoEventOutbox(), app=working_broker) == 2
        assert outbox_relay(outbox=DjangoEventOutbox(), app=working_broker) == 0

        assert enqueued(working_broker) == [("api.tasks.notify", event_payload(event)) for event in events]
        assert stored() == []

    def test_the_oldest_go_first_in_bounded_batches(self, working_broker: Celery) -> None:
        payloads = [event_payload(booking_requested()) for _ in range(5)]
        for payload in payloads:
            DjangoEventOutbox().add(payload)

        assert outbox_relay(outbox=DjangoEventOutbox(), app=working_broker, batch_size=2, batches=2) == 4

        assert [kwargs for _, kwargs in enqueued(working_broker)] == payloads[:4]
        assert stored() == payloads[4:]

    def test_a_broker_still_down_leaves_the_rows(self) -> None:
        DjangoEventOutbox().add(event_payload(booking_requested()))

        with pytest.raises(PortError):
            outbox_relay(outbox=DjangoEventOutbox(), app=refusing_broker())

        assert len(stored()) == 1

    def test_a_refusal_mid_batch_keeps_what_went_out_deleted_and_the_rest_stored(self) -> None:
        payloads = [event_payload(booking_requested()) for _ in range(4)]
        for payload in payloads:
            DjangoEventOutbox().add(payload)
        sent: list[Payload] = []

        def enqueue_two_then_refuse(payload: Payload) -> None:
            if len(sent) == 2:
                raise PortError("broker gone again")
            sent.append(payload)

        with pytest.raises(PortError):
            DjangoEventOutbox().relay(enqueue_two_then_refuse, batch_size=10)

        assert sent == payloads[:2]
        assert stored() == payloads[2:]

    def test_the_task_runs_the_containers_relay(self, working_broker: Celery) -> None:
        payload = event_payload(booking_requested())
        DjangoEventOutbox().add(payload)
        relay = providers.Callable(outbox_relay, outbox=DjangoEventOutbox(), app=working_broker)

        with container.outbox_relay.override(relay):
            result = outbox_relay_task.apply()

        assert result.successful()
        assert result.result == 1
        assert enqueued(working_broker) == [("api.tasks.notify", payload)]


@pytest.mark.django_db
def test_the_task_on_the_containers_own_relay_finds_an_empty_outbox() -> None:
    """No override: the container's outbox_relay and event_outbox providers resolve and run."""
    result = outbox_relay_task.apply()

    assert result.successful()
    assert result.result == 0


def test_beat_runs_the_relay_every_minute() -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["outbox-relay"]

    assert entry["task"] == outbox_relay_task.name
    assert project_app.conf.beat_schedule["outbox-relay"]["schedule"] <= 60
    assert entry["options"]["expires"] < entry["schedule"]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_take_different_rows() -> None:
    """FOR UPDATE SKIP LOCKED: while relay A holds its batch, relay B takes the next rows, not A's."""
    payloads = [event_payload(booking_requested()) for _ in range(4)]
    for payload in payloads:
        DjangoEventOutbox().add(payload)
    a_holds_its_rows, b_done = threading.Event(), threading.Event()
    b_finished_while_a_held: list[bool] = []
    taken: dict[str, list[Payload]] = {"a": [], "b": []}

    def relay(name: str) -> None:
        def enqueue(payload: Payload) -> None:
            if name == "a" and not taken["a"]:
                a_holds_its_rows.set()  # the SELECT ... FOR UPDATE ran: its rows are locked
                b_finished_while_a_held.append(b_done.wait(timeout=10))
            taken[name].append(payload)

        try:
            DjangoEventOutbox().relay(enqueue, batch_size=2)
        finally:
            if name == "b":
                b_done.set()
            connection.close()

    a = threading.Thread(target=relay, args=("a",))
    a.start()
    assert a_holds_its_rows.wait(timeout=10)
    b = threading.Thread(target=relay, args=("b",))
    b.start()
    for thread in (a, b):
        thread.join(timeout=30)

    assert b_finished_while_a_held == [True]  # B skipped A's rows instead of waiting for them
    assert taken == {"a": payloads[:2], "b": payloads[2:]}
    assert stored() == []
