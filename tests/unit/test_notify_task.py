"""The notify task, run eagerly in this process, on the in-memory fakes of the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
from celery.exceptions import Retry

from adapters.celery.events import CeleryEventPublisher, Payload, event_payload
from adapters.memory.mail import InMemoryMailer
from api.tasks import MAX_RETRIES, RETRY_BACKOFF_MAX, event_from_payload, notify
from domain.bookings import Booking
from domain.errors import PortError
from domain.events import BookingRequested, ReviewCreated
from domain.ids import ExpertId, ReviewId
from domain.mail import EmailMessage
from domain.users import Role, User
from project.celery import app
from project.container import container
from tests.unit.conftest import World


class FlakyMailer(InMemoryMailer):
    """Fails the first ``failures`` sends with PortError, as an SMTP server that comes back."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def send(self, message: EmailMessage) -> None:
        if self.failures:
            self.failures -= 1
            raise PortError("Mail server unavailable.")
        super().send(message)


@pytest.fixture
def wired(world: World) -> Iterator[World]:
    """The project's container, as the task sees it, bound to the world's fakes."""
    with container.notification_for_event.override(world.container.notification_for_event):
        yield world


def requested(world: World) -> tuple[User, Booking]:
    expert = world.published_expert(display_name="Ada Lovelace")
    client = world.register(Role.CLIENT, name="Bob Client")
    booking = world.booking_request(
        actor=client.id, expert_id=expert.id, starts_at=world.tomorrow(), duration_minutes=60, topic="Django"
    )
    return world.users.get(expert.owner_id), booking


def test_a_booking_request_emails_the_expert(wired: World) -> None:
    expert, booking = requested(wired)

    result = notify.apply(kwargs=event_payload(BookingRequested(booking_id=booking.id)))

    assert result.successful()
    assert result.result == 1
    assert [message.to for message in wired.mailer.sent] == [expert.email]


def test_a_second_delivery_of_the_same_event_sends_once(wired: World) -> None:
    _, booking = requested(wired)
    payload = event_payload(BookingRequested(booking_id=booking.id))

    notify.apply(kwargs=payload)
    notify.apply(kwargs=payload)

    assert len(wired.mailer.sent) == 1


def test_a_transient_mail_failure_is_retried_until_delivered(wired: World) -> None:
    expert, booking = requested(wired)
    mailer = FlakyMailer(failures=2)

    with wired.container.mailer.override(mailer):
        result = notify.apply(kwargs=event_payload(BookingRequested(booking_id=booking.id)))

    assert result.successful()
    assert mailer.failures == 0
    assert [message.to for message in mailer.sent] == [expert.email]


def test_a_port_error_schedules_a_retry_with_exponential_backoff(wired: World) -> None:
    _, booking = requested(wired)
    retries = 3
    notify.push_request(id="attempt-4", retries=retries, is_eager=True, called_directly=False)
    try:
        with wired.container.mailer.override(FlakyMailer(failures=1)), pytest.raises(Retry) as raised:
            notify.run(**event_payload(BookingRequested(booking_id=booking.id)))
    finally:
        notify.pop_request()

    assert isinstance(raised.value.exc, PortError)
    # Full jitter: anywhere from 0 to 2**retries seconds, never beyond the cap.
    assert 0 <= int(raised.value.when) <= min(2**retries, RETRY_BACKOFF_MAX)
    assert notify.max_retries == MAX_RETRIES


def test_the_task_gives_up_after_max_retries(wired: World) -> None:
    _, booking = requested(wired)
    mailer = FlakyMailer(failures=MAX_RETRIES + 1)

    with wired.container.mailer.override(mailer):
        result = notify.apply(kwargs=event_payload(BookingRequested(booking_id=booking.id)))

    assert result.failed()
    assert isinstance(result.result, PortError)
    assert mailer.sent == []


class ListOutbox:
    """The EventOutbox part the publisher uses, as a list: which rows it marked published."""

    def __init__(self) -> None:
        self.rows: list[Payload] = []
        self.published: set[int] = set()

    def add(self, payload: Payload) -> int:
        self.rows.append(payload)
        return len(self.rows)

    def mark_published(self, row_id: int) -> None:
        self.published.add(row_id)


def test_the_publisher_enqueues_the_task_by_name_with_ids_only(wired: World) -> None:
    expert, booking = requested(wired)
    outbox = ListOutbox()
    publisher = CeleryEventPublisher(uow=wired.uow, outbox=outbox)  # type: ignore[arg-type]  # the part it uses
    app.conf.task_always_eager = True
    try:
        with wired.uow.atomic():
            publisher.publish(BookingRequested(booking_id=booking.id))
            assert wired.mailer.sent == []  # not before the commit
    finally:
        app.conf.task_always_eager = False

    assert [message.to for message in wired.mailer.sent] == [expert.email]
    assert outbox.rows == [event_payload(BookingRequested(booking_id=booking.id))]
    assert outbox.published == {1}


def test_an_event_survives_the_json_payload() -> None:
    event = ReviewCreated(review_id=ReviewId(uuid4()), expert_id=ExpertId(uuid4()))
    payload = event_payload(event)

    assert payload == {
        "kind": "ReviewCreated",
        "ids": {"review_id": str(event.review_id), "expert_id": str(event.expert_id)},
    }
    assert event_from_payload(**payload) == event  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "ids"),
    [("EmailMessage", {}), ("os", {}), ("BookingRequested", {}), ("BookingRequested", {"booking_id": "nope"})],
)
def test_a_payload_that_names_no_event_is_refused(kind: str, ids: dict[str, str]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        event_from_payload(kind, ids)
