"""The transactional outbox: an event is a row of the transaction that made the change,
sent after the commit, and relayed later when that send did not happen.

The refusing broker is a Celery app bound to a port nothing listens on (kombu's Redis
transport gets "connection refused", as from a Redis that is down); the working one is
kombu's in-process memory:// transport, read back with a kombu consumer. The outbox is
the real OutboxEvent table in the test database. tests/integration/test_outbox_processes.py
kills real processes and freezes a real Redis.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from celery import Celery
from dependency_injector import providers
from django.conf import settings
from django.db import connection
from django.utils import timezone

from adapters.celery.events import CeleryEventPublisher, enqueue, event_payload, outbox_relay
from adapters.celery.outbox import DjangoEventOutbox, Payload
from adapters.orm.models import BookingRow, OutboxEvent
from adapters.orm.repositories import DjangoUnitOfWork
from api.tasks import outbox_relay as outbox_relay_task
from domain.errors import PortError
from domain.events import BookingRequested, ReviewCreated
from domain.ids import BookingId, ExpertId, ReviewId
from domain.money import Money
from domain.users import Role
from project.celery import app as project_app
from project.container import container
from tests.harness.servers import LOOPBACK, RedisServer, free_port

# Generous: a refused connection on loopback answers at once, a hung one after the 0.5 s timeout;
# only a stalled machine comes near.
REFUSAL_BOUND_SECONDS = 3.0


def refusing_broker() -> Celery:
    """A Celery app whose Redis broker is down (nothing listens on its port)."""
    return Celery("down", broker=f"redis://{LOOPBACK}:{free_port()}/0", set_as_current=False)


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


def waiting() -> list[Payload]:
    """What the relay still has to send."""
    return [{"kind": row.kind, "ids": row.ids} for row in OutboxEvent.objects.filter(published_at=None).order_by("id")]


def published() -> list[Payload]:
    return [{"kind": row.kind, "ids": row.ids} for row in OutboxEvent.objects.exclude(published_at=None).order_by("id")]


def publisher(app: Celery, **options: Any) -> CeleryEventPublisher:
    return CeleryEventPublisher(app=app, uow=DjangoUnitOfWork(), outbox=DjangoEventOutbox(), **options)


def kept(*payloads: Payload, age: timedelta = timedelta(minutes=1)) -> None:
    """Rows a send after the commit left behind, ``age`` old."""
    for payload in payloads:
        OutboxEvent.objects.create(kind=payload["kind"], ids=payload["ids"], created_at=timezone.now() - age)


class SwitchableApp:
    """A Celery app whose broker the test swaps: ``app`` is the one every call goes to."""

    def __init__(self, app: Celery) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)


class FailingOutbox(DjangoEventOutbox):
    def add(self, payload: Payload) -> int:
        raise PortError("The database is unavailable.")


@pytest.fixture
def bookable() -> tuple[Any, Any]:
    """A client and a published expert, made through the use cases (the memory publisher of tests.settings)."""
    expert = container.account_register(email="ada@example.com", password="pw-123456", name="Ada", role=Role.EXPERT)
    client = container.account_register(email="bob@example.com", password="pw-123456", name="Bob", role=Role.CLIENT)
    profile = container.expert_create(
        actor=expert.id, headline="Django consultant", skills=["django"], hourly_rate=Money(12000, "EUR")
    )
    container.expert_publish(actor=expert.id, expert_id=profile.id)
    return client, profile


def request_booking(client: Any, profile: Any) -> Any:
    return container.booking_request(
        actor=client.id,
        expert_id=profile.id,
        starts_at=container.clock().now() + timedelta(days=1),
        duration_minutes=60,
        topic="Scaling Django",
    )


@pytest.mark.django_db(transaction=True)
class TestTheEventIsPartOfTheTransaction:
    def test_the_row_is_written_before_the_commit_and_sent_after_it(self, working_broker: Celery) -> None:
        event = booking_requested()

        with DjangoUnitOfWork().atomic():
            publisher(working_broker).publish(event)
            assert waiting() == [event_payload(event)]  # in the transaction, not yet sent
            assert enqueued(working_broker) == []

        assert enqueued(working_broker) == [("api.tasks.notify", event_payload(event))]
        assert (waiting(), published()) == ([], [event_payload(event)])

    def test_a_rolled_back_change_leaves_no_event(self, working_broker: Celery) -> None:
        def use_case_failing_after_its_publish() -> None:
            with DjangoUnitOfWork().atomic():
                publisher(working_broker).publish(booking_requested())
                raise RuntimeError("the use case fails after publishing")

        with pytest.raises(RuntimeError):
            use_case_failing_after_its_publish()

        assert OutboxEvent.objects.count() == 0
        assert enqueued(working_broker) == []

    def test_a_booking_request_writes_its_event_with_the_booking(
        self, bookable: tuple[Any, Any], working_broker: Celery
    ) -> None:
        with container.events.override(publisher(working_broker)):
            booking = request_booking(*bookable)

        payload = event_payload(BookingRequested(booking_id=booking.id))
        assert published() == [payload]
        assert enqueued(working_broker) == [("api.tasks.notify", payload)]

    def test_an_outbox_that_refuses_fails_the_use_case_instead_of_losing_the_event(
        self, bookable: tuple[Any, Any], working_broker: Celery
    ) -> None:
        failing = CeleryEventPublisher(app=working_broker, uow=DjangoUnitOfWork(), outbox=FailingOutbox())

        with container.events.override(failing), pytest.raises(PortError):
            request_booking(*bookable)

        assert BookingRow.objects.count() == 0
        assert enqueued(working_broker) == []


@pytest.mark.django_db(transaction=True)
class TestABrokerOutageAfterTheCommit:
    def test_a_refused_send_keeps_the_event_waiting_and_the_request_succeeds(self, bookable: tuple[Any, Any]) -> None:
        started = time.monotonic()
        with container.events.override(publisher(refusing_broker())):
            booking = request_booking(*bookable)

        assert time.monotonic() - started < REFUSAL_BOUND_SECONDS
        assert waiting() == [event_payload(BookingRequested(booking_id=booking.id))]

    def test_after_a_refusal_sends_are_skipped_for_a_pause(self, working_broker: Celery) -> None:
        """Only the first request of an outage waits for the broker; the relay sends the rest."""
        now = [0.0]
        broker = SwitchableApp(refusing_broker())
        down = publisher(broker, pause=30, monotonic=lambda: now[0])  # type: ignore[arg-type]  # an app's stand-in
        events = [booking_requested() for _ in range(3)]

        down.publish(events[0])  # outside a transaction: sent (refused) at once
        broker.app = working_broker  # the broker is back, but the pause is not over
        now[0] = 29.0
        down.publish(events[1])
        assert enqueued(working_broker) == []
        now[0] = 31.0
        down.publish(events[2])

        assert enqueued(working_broker) == [("api.tasks.notify", event_payload(events[2]))]
        assert waiting() == [event_payload(event) for event in events[:2]]


def test_a_send_to_a_hung_broker_gives_up_within_its_bound(own_redis_server: RedisServer) -> None:
    """A frozen Redis accepts the connection and never answers: the app's own settings would
    wait 5 s per publish attempt, four attempts; the send from a request gives up after its timeout."""
    app = Celery("hung", broker=own_redis_server.url, set_as_current=False)
    own_redis_server.hang()
    try:
        started = time.monotonic()
        with pytest.raises(PortError):
            enqueue(event_payload(booking_requested()), app=app, timeout=0.5)
        elapsed = time.monotonic() - started
    finally:
        own_redis_server.resume()
        app.close()

    assert elapsed < REFUSAL_BOUND_SECONDS


@pytest.mark.django_db
class TestRelay:
    def test_the_relay_enqueues_each_waiting_event_once_and_marks_it_published(self, working_broker: Celery) -> None:
        payloads = [
            event_payload(booking_requested()),
            event_payload(ReviewCreated(review_id=ReviewId(uuid.uuid4()), expert_id=ExpertId(uuid.uuid4()))),
        ]
        kept(*payloads)

        assert outbox_relay(outbox=DjangoEventOutbox(), app=working_broker) == 2
        assert outbox_relay(outbox=DjangoEventOutbox(), app=working_broker) == 0

        assert enqueued(working_broker) == [("api.tasks.notify", payload) for payload in payloads]
        assert (waiting(), published()) == ([], payloads)

    def test_the_relay_leaves_rows_young_enough_for_their_own_send(self, working_broker: Celery) -> None:
        young, old = event_payload(booking_requested()), event_payload(booking_requested())
        kept(young, age=timedelta(seconds=1))
        kept(old)

        assert outbox_relay(outbox=DjangoEventOutbox(), app=working_broker, min_age=10) == 1

        assert enqueued(working_broker) == [("api.tasks.notify", old)]
        assert waiting() == [young]

    def test_the_relay_prunes_rows_published_long_ago(self, working_broker: Celery) -> None:
        recent, ancient = event_payload(booking_requested()), event_payload(booking_requested())
        kept(recent, ancient)
        OutboxEvent.objects.filter(ids=recent["ids"]).update(published_at=timezone.now() - timedelta(days=1))
        OutboxEvent.objects.filter(ids=ancient["ids"]).update(published_at=timezone.now() - timedelta(days=8))

        outbox_relay(outbox=DjangoEventOutbox(), app=working_broker, keep_published=7 * 24 * 3600)

        assert published() == [recent]

    def test_the_oldest_go_first_in_bounded_batches(self, working_broker: Celery) -> None:
        payloads = [event_payload(booking_requested()) for _ in range(5)]
        kept(*payloads)

        assert outbox_relay(outbox=DjangoEventOutbox(), app=working_broker, batch_size=2, batches=2) == 4

        assert [kwargs for _, kwargs in enqueued(working_broker)] == payloads[:4]
        assert waiting() == payloads[4:]

    def test_a_broker_still_down_leaves_the_rows(self) -> None:
        kept(event_payload(booking_requested()))

        with pytest.raises(PortError):
            outbox_relay(outbox=DjangoEventOutbox(), app=refusing_broker())

        assert len(waiting()) == 1

    def test_a_refusal_mid_batch_keeps_what_went_out_published_and_the_rest_waiting(self) -> None:
        payloads = [event_payload(booking_requested()) for _ in range(4)]
        kept(*payloads)
        sent: list[Payload] = []

        def enqueue_two_then_refuse(payload: Payload) -> None:
            if len(sent) == 2:
                raise PortError("broker gone again")
            sent.append(payload)

        with pytest.raises(PortError):
            DjangoEventOutbox().relay(enqueue_two_then_refuse, batch_size=10, min_age=0)

        assert sent == payloads[:2]
        assert (published(), waiting()) == (payloads[:2], payloads[2:])

    def test_the_task_runs_the_containers_relay(self, working_broker: Celery) -> None:
        payload = event_payload(booking_requested())
        kept(payload)
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
    kept(*payloads)
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
            DjangoEventOutbox().relay(enqueue, batch_size=2, min_age=0)
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
    assert waiting() == []
