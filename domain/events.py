"""Domain events: facts the services publish after a commit, for side effects."""

from __future__ import annotations

from dataclasses import dataclass

from domain.ids import BookingId, ExpertId, ReviewId, UserId


@dataclass(frozen=True, slots=True)
class DomainEvent:
    """Base class; events carry ids only, never whole entities."""


@dataclass(frozen=True, slots=True)
class AccountRegistered(DomainEvent):
    user_id: UserId


@dataclass(frozen=True, slots=True)
class ExpertProfileChanged(DomainEvent):
    expert_id: ExpertId


@dataclass(frozen=True, slots=True)
class BookingRequested(DomainEvent):
    booking_id: BookingId


@dataclass(frozen=True, slots=True)
class BookingAccepted(DomainEvent):
    booking_id: BookingId


@dataclass(frozen=True, slots=True)
class BookingDeclined(DomainEvent):
    booking_id: BookingId


@dataclass(frozen=True, slots=True)
class BookingCancelled(DomainEvent):
    booking_id: BookingId


@dataclass(frozen=True, slots=True)
class BookingCompleted(DomainEvent):
    booking_id: BookingId


@dataclass(frozen=True, slots=True)
class ReviewCreated(DomainEvent):
    review_id: ReviewId
    expert_id: ExpertId
