"""Bookings: request, accept, decline, cancel, complete, view, list."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from domain.bookings import (
    TOPIC_MAX,
    Booking,
    BookingStatus,
    validate_duration,
    validate_start,
)
from domain.errors import BookingOverlap, ErrorCollector, InvalidInput, NotFound
from domain.events import (
    BookingAccepted,
    BookingCancelled,
    BookingCompleted,
    BookingDeclined,
    BookingRequested,
    DomainEvent,
)
from domain.experts import validate_text
from domain.ids import BookingId, ExpertId, UserId, new_id
from domain.pagination import Page, PageRequest
from domain.ports import BookingRepository, Clock, EventPublisher, ExpertRepository, PartyRole, UnitOfWork


def booking_request(
    *,
    bookings: BookingRepository,
    experts: ExpertRepository,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    actor: UserId,
    expert_id: ExpertId,
    starts_at: datetime,
    duration_minutes: int,
    topic: str,
) -> Booking:
    """A client asks a published expert for a session; the price is frozen now."""
    now = clock.now()
    expert = experts.get(expert_id)
    if not expert.is_bookable:
        raise NotFound("Expert not found.")
    if expert.owner_id == actor:
        raise InvalidInput.on_field("expert_id", "You cannot book yourself.")
    errors = ErrorCollector()
    with errors.check():
        starts_at = validate_start(starts_at, now=now)
    with errors.check():
        validate_duration(duration_minutes)
    with errors.check():
        topic = validate_text("topic", topic, max_length=TOPIC_MAX, required=True)
    errors.raise_if_any()
    booking = Booking(
        id=BookingId(new_id()),
        client_id=actor,
        expert_id=expert.id,
        expert_user_id=expert.owner_id,
        starts_at=starts_at,
        duration_minutes=duration_minutes,
        topic=topic,
        price=expert.hourly_rate.for_minutes(duration_minutes),
        created_at=now,
        updated_at=now,
    )
    with uow.atomic():
        bookings.add(booking)
        events.publish(BookingRequested(booking_id=booking.id))
    return booking


def booking_get(*, bookings: BookingRepository, actor: UserId, booking_id: BookingId) -> Booking:
    """A booking, for its client or its expert only: to anyone else it does not exist."""
    booking = bookings.get(booking_id)
    if not booking.is_party(actor):
        raise NotFound("Booking not found.")
    return booking


def booking_list_mine(
    *,
    bookings: BookingRepository,
    actor: UserId,
    as_role: PartyRole,
    status: BookingStatus | None = None,
    page: PageRequest,
) -> Page[Booking]:
    return bookings.list_for_user(user_id=actor, as_role=as_role, status=status, page=page)


def booking_accept(
    *,
    bookings: BookingRepository,
    experts: ExpertRepository,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    actor: UserId,
    booking_id: BookingId,
) -> Booking:
    """The expert accepts; no two accepted bookings of one expert may overlap."""
    with uow.atomic():
        booking = _party_booking(bookings, actor, booking_id)
        # Lock the expert row: concurrent accepts of one expert queue here on
        # stores with row locks; the store's own constraint is the backstop.
        experts.get(booking.expert_id, for_update=True)
        booking.accept(actor=actor, now=clock.now())
        if bookings.has_accepted_overlap(booking):
            raise BookingOverlap("You already have an accepted booking at that time.")
        bookings.save(booking)
        events.publish(BookingAccepted(booking_id=booking.id))
    return booking


def booking_decline(
    *,
    bookings: BookingRepository,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    actor: UserId,
    booking_id: BookingId,
) -> Booking:
    """The expert declines a requested booking."""
    return _transition(
        bookings, uow, events, booking_id, actor, lambda b: b.decline(actor=actor, now=clock.now()), BookingDeclined
    )


def booking_cancel(
    *,
    bookings: BookingRepository,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    actor: UserId,
    booking_id: BookingId,
) -> Booking:
    """The client cancels before the start."""
    return _transition(
        bookings, uow, events, booking_id, actor, lambda b: b.cancel(actor=actor, now=clock.now()), BookingCancelled
    )


def booking_complete(
    *,
    bookings: BookingRepository,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    actor: UserId,
    booking_id: BookingId,
) -> Booking:
    """Either party marks an accepted booking completed once it has ended."""
    return _transition(
        bookings, uow, events, booking_id, actor, lambda b: b.complete(actor=actor, now=clock.now()), BookingCompleted
    )


def _transition(
    bookings: BookingRepository,
    uow: UnitOfWork,
    events: EventPublisher,
    booking_id: BookingId,
    actor: UserId,
    move: Callable[[Booking], None],
    event: Callable[..., DomainEvent],
) -> Booking:
    with uow.atomic():
        booking = _party_booking(bookings, actor, booking_id)
        move(booking)
        bookings.save(booking)
        events.publish(event(booking_id=booking.id))
    return booking


def _party_booking(bookings: BookingRepository, actor: UserId, booking_id: BookingId) -> Booking:
    booking = bookings.get(booking_id, for_update=True)
    if not booking.is_party(actor):
        raise NotFound("Booking not found.")
    return booking
