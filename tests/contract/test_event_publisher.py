"""The EventPublisher contract, run against every adapter: events are part of the unit of work.

Each subclass provides the unit of work its adapter writes through, the publisher, and
``delivered``: the events its adapter handed on so far (the memory list, the log
lines, the notify messages on a memory:// broker).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from celery import Celery

from adapters.celery.events import CeleryEventPublisher, event_payload
from adapters.celery.outbox import DjangoEventOutbox
from adapters.local.events import LoggingEventPublisher
from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.store import MemoryDatabase, MemoryUnitOfWork
from adapters.orm.repositories import DjangoUnitOfWork
from api.tasks import event_from_payload
from domain.events import BookingCancelled, BookingRequested, DomainEvent
from domain.ids import BookingId
from domain.ports import EventPublisher, UnitOfWork

Delivered = Callable[[], list[DomainEvent]]


def requested() -> BookingRequested:
    return BookingRequested(booking_id=BookingId(uuid.uuid4()))


class Undone(Exception):
    """Raised to roll a block back."""


def _publish_then_fail(uow: UnitOfWork, publisher: EventPublisher, event: DomainEvent) -> None:
    with uow.atomic():
        publisher.publish(event)
        raise Undone


class EventPublisherContract:
    """Subclasses provide ``uow``, ``publisher`` (publishing through that uow) and ``delivered``."""

    def test_an_event_is_delivered_after_the_commit_not_before(
        self, uow: UnitOfWork, publisher: EventPublisher, delivered: Delivered
    ) -> None:
        event = requested()

        with uow.atomic():
            publisher.publish(event)
            assert delivered() == []

        assert delivered() == [event]

    def test_a_rolled_back_block_delivers_nothing(
        self, uow: UnitOfWork, publisher: EventPublisher, delivered: Delivered
    ) -> None:
        with pytest.raises(Undone):
            _publish_then_fail(uow, publisher, requested())

        assert delivered() == []

    def test_a_rolled_back_inner_block_drops_only_its_own_events(
        self, uow: UnitOfWork, publisher: EventPublisher, delivered: Delivered
    ) -> None:
        kept, dropped = requested(), BookingCancelled(booking_id=BookingId(uuid.uuid4()))

        with uow.atomic():
            publisher.publish(kept)
            with pytest.raises(Undone):
                _publish_then_fail(uow, publisher, dropped)

        assert delivered() == [kept]

    def test_outside_a_block_the_event_is_delivered_at_once(
        self, publisher: EventPublisher, delivered: Delivered
    ) -> None:
        event = requested()

        publisher.publish(event)

        assert delivered() == [event]


class TestInMemoryEventPublisher(EventPublisherContract):
    @pytest.fixture
    def uow(self) -> UnitOfWork:
        return MemoryUnitOfWork(MemoryDatabase())

    @pytest.fixture
    def publisher(self, uow: UnitOfWork) -> InMemoryEventPublisher:
        return InMemoryEventPublisher(uow)

    @pytest.fixture
    def delivered(self, publisher: InMemoryEventPublisher) -> Delivered:
        return lambda: list(publisher.published)


class TestLoggingEventPublisher(EventPublisherContract):
    @pytest.fixture
    def uow(self) -> UnitOfWork:
        return MemoryUnitOfWork(MemoryDatabase())

    @pytest.fixture
    def publisher(self, uow: UnitOfWork) -> LoggingEventPublisher:
        return LoggingEventPublisher(uow)

    @pytest.fixture
    def delivered(self, caplog: pytest.LogCaptureFixture) -> Delivered:
        caplog.set_level(logging.INFO, logger="experthub.events")

        def logged() -> list[DomainEvent]:
            return [record.args[1] for record in caplog.records if record.name == "experthub.events"]  # type: ignore[index,misc]

        return logged


@pytest.mark.django_db(transaction=True)
class TestCeleryEventPublisher(EventPublisherContract):
    """The outbox in the test database, the messages on kombu's in-process memory:// broker."""

    @pytest.fixture
    def uow(self) -> UnitOfWork:
        return DjangoUnitOfWork()

    @pytest.fixture
    def broker(self) -> Iterator[Celery]:
        app = Celery("contract", broker="memory://", set_as_current=False)
        app.conf.task_default_queue = f"publisher-contract-{uuid.uuid4().hex}"  # memory:// queues outlive a test
        yield app
        app.close()

    @pytest.fixture
    def publisher(self, uow: UnitOfWork, broker: Celery) -> CeleryEventPublisher:
        return CeleryEventPublisher(uow=uow, outbox=DjangoEventOutbox(), app=broker)

    @pytest.fixture
    def delivered(self, broker: Celery) -> Delivered:
        seen: list[dict[str, Any]] = []

        def consumed() -> list[DomainEvent]:
            with broker.connection_for_read() as conn, conn.SimpleQueue(broker.conf.task_default_queue) as queue:
                while queue.qsize():
                    message = queue.get(timeout=1)
                    seen.append(message.decode()[1])
                    message.ack()
            return [_event(payload) for payload in seen]

        return consumed


def _event(payload: dict[str, Any]) -> DomainEvent:
    event = event_from_payload(payload["kind"], payload["ids"])
    assert event_payload(event) == payload
    return event
