"""Notifications: the emails a domain event calls for, built from what the ports hold now.

An event carries ids only, so each email loads its booking, review and people
through the ports when it is built: a retry an hour later still names the
right people. Every message has the idempotency key
``<event kind>:<entity id>:<recipient user id>``, and the Mailer delivers a key
once, so running this again for the same event (a retried task) sends nothing twice.

Not wired to events yet: the Celery task that calls ``notification_for_event``
after commit comes next (docs/notifications.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from domain.bookings import Booking
from domain.errors import NotFound
from domain.events import (
    BookingAccepted,
    BookingCancelled,
    BookingDeclined,
    BookingRequested,
    DomainEvent,
    ReviewCreated,
)
from domain.ids import BookingId, ExpertId, ReviewId, UserId
from domain.mail import EmailMessage
from domain.ports import BookingRepository, ExpertRepository, Mailer, PartyRole, ReviewRepository, UserRepository
from domain.users import User
from services import email_templates as templates


def notification_for_event(
    *,
    event: DomainEvent,
    users: UserRepository,
    experts: ExpertRepository,
    bookings: BookingRepository,
    reviews: ReviewRepository,
    mailer: Mailer,
) -> list[EmailMessage]:
    """Send the emails this event calls for (none for most events); returns them.

    Safe to rerun: keys already delivered are skipped by the Mailer. Raises
    NotFound if what the event names is gone, PortError if the mailer fails
    (retry: what was already delivered is not sent again).
    """
    messages = notification_messages(event=event, users=users, experts=experts, bookings=bookings, reviews=reviews)
    for message in messages:
        mailer.send(message)
    return messages


def notification_messages(
    *,
    event: DomainEvent,
    users: UserRepository,
    experts: ExpertRepository,
    bookings: BookingRepository,
    reviews: ReviewRepository,
) -> list[EmailMessage]:
    """The emails this event calls for, built but not sent."""
    ports = (users, experts, bookings)
    match event:
        case BookingRequested(booking_id=booking_id):
            return [_booking_email(*ports, booking_id, "booking_requested", templates.BOOKING_REQUESTED, "expert")]
        case BookingAccepted(booking_id=booking_id):
            return [_booking_email(*ports, booking_id, "booking_accepted", templates.BOOKING_ACCEPTED, "client")]
        case BookingDeclined(booking_id=booking_id):
            return [_booking_email(*ports, booking_id, "booking_declined", templates.BOOKING_DECLINED, "client")]
        case BookingCancelled(booking_id=booking_id):
            # Only the client cancels, so the other party is always the expert.
            return [_booking_email(*ports, booking_id, "booking_cancelled", templates.BOOKING_CANCELLED, "expert")]
        case ReviewCreated(review_id=review_id):
            return [_review_email(users, experts, reviews, review_id)]
    return []


def _booking_email(
    users: UserRepository,
    experts: ExpertRepository,
    bookings: BookingRepository,
    booking_id: BookingId,
    kind: str,
    template: templates.Template,
    recipient: PartyRole,
) -> EmailMessage:
    booking = bookings.get(booking_id)
    client, expert = _people(users, booking.client_id, booking.expert_user_id)
    values = {
        "client": client.name,
        "expert": _expert_name(experts, booking.expert_id, expert),
        **_booking_values(booking),
    }
    return _message(kind, booking.id, expert if recipient == "expert" else client, template.render(values))


def _review_email(
    users: UserRepository,
    experts: ExpertRepository,
    reviews: ReviewRepository,
    review_id: ReviewId,
) -> EmailMessage:
    review = reviews.get(review_id)
    profile = experts.get(review.expert_id)
    client, expert = _people(users, review.author_id, profile.owner_id)
    values = {
        "client": client.name,
        "expert": profile.display_name or expert.name,
        "rating": review.rating,
        "comment": review.comment or "(none)",
    }
    return _message("review_received", review.id, expert, templates.REVIEW_RECEIVED.render(values))


def _people(users: UserRepository, *user_ids: UserId) -> list[User]:
    found = users.get_many(user_ids)
    if any(user_id not in found for user_id in user_ids):
        raise NotFound("User not found.")
    return [found[user_id] for user_id in user_ids]


def _expert_name(experts: ExpertRepository, expert_id: ExpertId, owner: User) -> str:
    return experts.get(expert_id).display_name or owner.name


def _booking_values(booking: Booking) -> dict[str, object]:
    return {
        "starts_at": _when(booking.starts_at),
        "duration": booking.duration_minutes,
        "topic": booking.topic,
        "price": str(booking.price),
    }


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%a %d %b %Y, %H:%M UTC")


def _message(kind: str, entity_id: UUID, recipient: User, rendered: templates.Rendered) -> EmailMessage:
    return EmailMessage(
        to=recipient.email,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        idempotency_key=f"{kind}:{entity_id}:{recipient.id}",
    )
