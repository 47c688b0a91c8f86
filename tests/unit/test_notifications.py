"""Notification emails: who gets which email for each event, and that a resend delivers once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from domain.bookings import Booking
from domain.errors import NotFound, PortError
from domain.events import (
    AccountRegistered,
    BookingAccepted,
    BookingCancelled,
    BookingCompleted,
    BookingDeclined,
    BookingRequested,
    ReviewCreated,
)
from domain.ids import BookingId, ExpertId, ReviewId, UserId
from domain.mail import EmailMessage
from domain.users import Role, User
from tests.unit.conftest import World

HOSTILE = '<script>alert("x")</script> & co'


def requested(world: World, topic: str = "Scaling Django") -> tuple[User, User, Booking]:
    expert = world.published_expert(display_name="Ada Lovelace")
    client = world.register(Role.CLIENT, name="Bob Client")
    booking = world.booking_request(
        actor=client.id, expert_id=expert.id, starts_at=world.tomorrow(), duration_minutes=90, topic=topic
    )
    return client, world.users.get(expert.owner_id), booking


def send(world: World, event: Any) -> list[EmailMessage]:
    messages: list[EmailMessage] = world.notification_for_event(event=event)
    return messages


def test_a_booking_request_emails_the_expert(world: World) -> None:
    _, expert, booking = requested(world)

    [message] = send(world, BookingRequested(booking_id=booking.id))

    assert message.to == expert.email
    assert message.subject == "New booking request from Bob Client"
    assert message.idempotency_key == f"booking_requested:{booking.id}:{expert.id}"
    for body in (message.text, message.html):
        assert "Hello Ada Lovelace" in body
        assert "Scaling Django" in body
        assert "90 minutes" in body
        assert "180.00 EUR" in body  # 120 EUR an hour, frozen at request time
        assert booking.starts_at.strftime("%d %b %Y") in body
    assert message.html.startswith("<html>")
    assert world.mailer.sent == [message]


@pytest.mark.parametrize(
    ("event", "move", "kind", "subject"),
    [
        (BookingAccepted, "booking_accept", "booking_accepted", "Ada Lovelace accepted your booking"),
        (BookingDeclined, "booking_decline", "booking_declined", "Ada Lovelace declined your booking"),
    ],
)
def test_the_experts_answer_emails_the_client(world: World, event: Any, move: str, kind: str, subject: str) -> None:
    client, expert, booking = requested(world)
    getattr(world, move)(actor=expert.id, booking_id=booking.id)

    [message] = send(world, event(booking_id=booking.id))

    assert (message.to, message.subject) == (client.email, subject)
    assert message.idempotency_key == f"{kind}:{booking.id}:{client.id}"
    assert "Hello Bob Client" in message.text
    assert "Hello Bob Client" in message.html


def test_a_cancellation_emails_the_expert(world: World) -> None:
    client, expert, booking = requested(world)
    world.booking_cancel(actor=client.id, booking_id=booking.id)

    [message] = send(world, BookingCancelled(booking_id=booking.id))

    assert (message.to, message.subject) == (expert.email, "Bob Client cancelled a booking")
    assert message.idempotency_key == f"booking_cancelled:{booking.id}:{expert.id}"
    assert "Bob Client cancelled this session." in message.text


def test_a_review_emails_the_expert(world: World) -> None:
    client, expert, booking = requested(world)
    world.booking_accept(actor=expert.id, booking_id=booking.id)
    world.clock.advance(days=2)
    world.booking_complete(actor=client.id, booking_id=booking.id)
    review = world.review_create(actor=client.id, booking_id=booking.id, rating=4, comment="Clear & useful")

    [message] = send(world, ReviewCreated(review_id=review.id, expert_id=review.expert_id))

    assert (message.to, message.subject) == (expert.email, "New 4-star review from Bob Client")
    assert message.idempotency_key == f"review_received:{review.id}:{expert.id}"
    assert "Their comment: Clear & useful" in message.text
    assert "Their comment: Clear &amp; useful" in message.html


def test_user_text_is_escaped_in_html_and_kept_in_text(world: World) -> None:
    _, _, booking = requested(world, topic=HOSTILE)

    [message] = send(world, BookingRequested(booking_id=booking.id))

    assert HOSTILE in message.text
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in message.html


def test_a_name_cannot_break_the_subject_line(world: World) -> None:
    expert = world.published_expert()
    client = world.register(Role.CLIENT, name="Eve\nBcc: victim@example.com")
    booking = world.booking_request(
        actor=client.id, expert_id=expert.id, starts_at=world.tomorrow(), duration_minutes=60, topic="x"
    )

    [message] = send(world, BookingRequested(booking_id=booking.id))

    assert message.subject == "New booking request from Eve Bcc: victim@example.com"


def test_sending_the_same_event_again_delivers_once(world: World) -> None:
    _, _, booking = requested(world)
    event = BookingRequested(booking_id=booking.id)

    first = send(world, event)
    second = send(world, event)

    assert first == second
    assert world.mailer.sent == first


def test_a_failed_send_is_delivered_by_the_retry(world: World) -> None:
    _, _, booking = requested(world)
    event = BookingRequested(booking_id=booking.id)
    world.mailer.down = True

    with pytest.raises(PortError):
        send(world, event)

    world.mailer.down = False
    send(world, event)
    send(world, event)
    assert len(world.mailer.sent) == 1


def test_each_event_kind_has_its_own_key(world: World) -> None:
    _, expert, booking = requested(world)
    world.booking_accept(actor=expert.id, booking_id=booking.id)

    send(world, BookingRequested(booking_id=booking.id))
    send(world, BookingAccepted(booking_id=booking.id))

    assert len({m.idempotency_key for m in world.mailer.sent}) == 2


@pytest.mark.parametrize(
    "event",
    [
        BookingRequested(booking_id=BookingId(uuid.uuid4())),
        BookingCancelled(booking_id=BookingId(uuid.uuid4())),
        ReviewCreated(review_id=ReviewId(uuid.uuid4()), expert_id=ExpertId(uuid.uuid4())),
    ],
)
def test_an_unknown_booking_or_review_is_not_found(world: World, event: Any) -> None:
    with pytest.raises(NotFound):
        send(world, event)
    assert world.mailer.sent == []


def test_an_unknown_review_of_a_known_expert_is_not_found(world: World) -> None:
    expert = world.published_expert()

    with pytest.raises(NotFound):
        send(world, ReviewCreated(review_id=ReviewId(uuid.uuid4()), expert_id=expert.id))


@pytest.mark.parametrize(
    "event",
    [BookingCompleted(booking_id=BookingId(uuid.uuid4())), AccountRegistered(user_id=UserId(uuid.uuid4()))],
)
def test_events_that_notify_nobody_send_nothing(world: World, event: Any) -> None:
    assert send(world, event) == []
    assert world.mailer.sent == []


def test_messages_are_built_without_sending(world: World) -> None:
    _, expert, booking = requested(world)

    [message] = world.notification_messages(event=BookingRequested(booking_id=booking.id))

    assert message.to == expert.email
    assert world.mailer.sent == []
