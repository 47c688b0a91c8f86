"""Plain functions that build valid domain entities, with keyword overrides.

``make_*`` only build. ``store_*`` build and add through the ports, parents
first, so the rows satisfy every foreign key on a relational store too.
Defaults never collide: every call gets fresh ids and a fresh email.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.bookings import Booking, BookingStatus
from domain.experts import ExpertProfile, ExpertStatus
from domain.ids import BookingId, ExpertId, ReviewId, UserId, new_id
from domain.money import Money
from domain.ports import BookingRepository, ExpertRepository, UserRepository
from domain.reviews import Review
from domain.users import Role, User

# The default time of adapters.memory.store.FixedClock: entities built here
# are "now" for a test that uses that clock.
NOW = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def make_user(**overrides: Any) -> User:
    user_id = overrides.pop("id", None) or UserId(new_id())
    values: dict[str, Any] = {
        "id": user_id,
        "email": f"user-{user_id.hex[:12]}@example.com",
        "role": Role.CLIENT,
        "name": "Ada Client",
        "signed_up_at": NOW - timedelta(days=30),
    }
    return User(**{**values, **overrides})


def make_expert(**overrides: Any) -> ExpertProfile:
    """A published, bookable profile (pass ``status=ExpertStatus.DRAFT`` for a draft)."""
    values: dict[str, Any] = {
        "id": ExpertId(new_id()),
        "owner_id": UserId(new_id()),
        "display_name": "Grace Expert",
        "headline": "Django performance consultant",
        "bio": "Fifteen years of making slow pages fast.",
        "skills": ("django", "postgresql"),
        "hourly_rate": Money(12_000, "USD"),
        "languages": ("en", "fr"),
        "timezone": "Europe/Paris",
        "created_at": NOW - timedelta(days=10),
        "updated_at": NOW - timedelta(days=5),
        "status": ExpertStatus.PUBLISHED,
        "published_at": NOW - timedelta(days=5),
    }
    return ExpertProfile(**{**values, **overrides})


def make_booking(*, expert: ExpertProfile | None = None, **overrides: Any) -> Booking:
    """A requested booking tomorrow at 10:00 UTC for an hour.

    ``expert`` fills expert_id, expert_user_id and the price from its rate.
    """
    duration = overrides.get("duration_minutes", 60)
    values: dict[str, Any] = {
        "id": BookingId(new_id()),
        "client_id": UserId(new_id()),
        "expert_id": expert.id if expert else ExpertId(new_id()),
        "expert_user_id": expert.owner_id if expert else UserId(new_id()),
        "starts_at": NOW + timedelta(days=1, hours=1),
        "duration_minutes": duration,
        "topic": "Query tuning",
        "price": expert.hourly_rate.for_minutes(duration) if expert else Money(12_000, "USD"),
        "created_at": NOW,
        "updated_at": NOW,
        "status": BookingStatus.REQUESTED,
    }
    return Booking(**{**values, **overrides})


def make_review(*, booking: Booking | None = None, **overrides: Any) -> Review:
    """A 5-star review. ``booking`` fills booking_id, expert_id and author_id."""
    values: dict[str, Any] = {
        "id": ReviewId(new_id()),
        "booking_id": booking.id if booking else BookingId(new_id()),
        "expert_id": booking.expert_id if booking else ExpertId(new_id()),
        "author_id": booking.client_id if booking else UserId(new_id()),
        "rating": 5,
        "comment": "Clear, fast and friendly.",
        "created_at": NOW + timedelta(days=2),
    }
    return Review(**{**values, **overrides})


def store_user(users: UserRepository, **overrides: Any) -> User:
    user = make_user(**overrides)
    users.add(user, password="correct-horse-battery")
    return user


def store_expert(users: UserRepository, experts: ExpertRepository, **overrides: Any) -> ExpertProfile:
    """A stored expert account and its stored profile."""
    owner = store_user(users, role=Role.EXPERT, name="Grace Expert")
    profile = make_expert(owner_id=owner.id, **overrides)
    experts.add(profile)
    return profile


def store_booking(bookings: BookingRepository, *, expert: ExpertProfile, client: User, **overrides: Any) -> Booking:
    booking = make_booking(expert=expert, client_id=client.id, **overrides)
    bookings.add(booking)
    return booking
