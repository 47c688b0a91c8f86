"""Booking and its state machine.

requested -> accepted | declined | cancelled
accepted  -> completed | cancelled
declined, completed, cancelled are final.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain.errors import InvalidInput, InvalidTransition, PermissionDenied
from domain.ids import BookingId, ExpertId, UserId
from domain.money import Money

DURATION_STEP = 15
DURATION_MIN = 30
DURATION_MAX = 240
TOPIC_MAX = 200
# How far ahead a session can be booked.
MAX_ADVANCE = timedelta(days=365)


class BookingStatus(enum.StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


TRANSITIONS: dict[BookingStatus, frozenset[BookingStatus]] = {
    BookingStatus.REQUESTED: frozenset({BookingStatus.ACCEPTED, BookingStatus.DECLINED, BookingStatus.CANCELLED}),
    BookingStatus.ACCEPTED: frozenset({BookingStatus.COMPLETED, BookingStatus.CANCELLED}),
    BookingStatus.DECLINED: frozenset(),
    BookingStatus.CANCELLED: frozenset(),
    BookingStatus.COMPLETED: frozenset(),
}


def validate_duration(minutes: int) -> int:
    if minutes % DURATION_STEP or not DURATION_MIN <= minutes <= DURATION_MAX:
        raise InvalidInput.on_field(
            "duration_minutes",
            f"Duration must be {DURATION_MIN}-{DURATION_MAX} minutes in {DURATION_STEP}-minute steps.",
        )
    return minutes


def validate_start(starts_at: datetime, *, now: datetime) -> datetime:
    if starts_at.tzinfo is None or starts_at.utcoffset() is None:
        raise InvalidInput.on_field("starts_at", "Start time must include a time zone.")
    if starts_at <= now:
        raise InvalidInput.on_field("starts_at", "Start time must be in the future.")
    if starts_at > now + MAX_ADVANCE:
        raise InvalidInput.on_field("starts_at", f"Sessions can be booked at most {MAX_ADVANCE.days} days ahead.")
    return starts_at.astimezone(UTC)


@dataclass(slots=True)
class Booking:
    id: BookingId
    client_id: UserId
    expert_id: ExpertId
    expert_user_id: UserId
    starts_at: datetime
    duration_minutes: int
    topic: str
    price: Money
    created_at: datetime
    updated_at: datetime
    status: BookingStatus = BookingStatus.REQUESTED

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    def is_party(self, user_id: UserId) -> bool:
        return user_id in (self.client_id, self.expert_user_id)

    def overlaps(self, other: Booking) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at

    def accept(self, *, actor: UserId, now: datetime) -> None:
        self._require(actor == self.expert_user_id, "Only the expert accepts a booking.")
        if self.starts_at <= now:
            raise InvalidTransition("Cannot accept a booking whose start has passed.")
        self._move(BookingStatus.ACCEPTED, now)

    def decline(self, *, actor: UserId, now: datetime) -> None:
        self._require(actor == self.expert_user_id, "Only the expert declines a booking.")
        self._move(BookingStatus.DECLINED, now)

    def cancel(self, *, actor: UserId, now: datetime) -> None:
        self._require(actor == self.client_id, "Only the client cancels a booking.")
        if self.starts_at <= now:
            raise InvalidTransition("A booking can only be cancelled before it starts.")
        self._move(BookingStatus.CANCELLED, now)

    def complete(self, *, actor: UserId, now: datetime) -> None:
        self._require(self.is_party(actor), "Only a party to the booking completes it.")
        if now < self.ends_at:
            raise InvalidTransition("A booking can only be completed after it ends.")
        self._move(BookingStatus.COMPLETED, now)

    def _require(self, allowed: bool, message: str) -> None:
        if not allowed:
            raise PermissionDenied(message)

    def _move(self, target: BookingStatus, now: datetime) -> None:
        if target not in TRANSITIONS[self.status]:
            raise InvalidTransition(f"Cannot move a {self.status} booking to {target}.")
        self.status = target
        self.updated_at = now
