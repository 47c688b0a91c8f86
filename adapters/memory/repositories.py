"""In-memory repositories over a shared MemoryDatabase."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from adapters.memory.store import MemoryDatabase
from domain.blobs import Upload
from domain.bookings import Booking, BookingStatus
from domain.errors import DuplicateReview, EmailTaken, NotFound, ProfileExists
from domain.experts import ExpertProfile, ExpertStatus
from domain.ids import BookingId, ExpertId, ReviewId, UploadId, UserId
from domain.pagination import Page, PageRequest
from domain.ports import PartyRole
from domain.reviews import Review
from domain.users import User, email_key

T = TypeVar("T")


def _page(items: list[T], page: PageRequest) -> Page[T]:
    return Page(items=items[page.offset : page.offset + page.size], total=len(items), request=page)


class _Table:
    """Stores deep copies, so callers never share mutable state with the store."""

    name = ""

    def __init__(self, database: MemoryDatabase) -> None:
        self._db = database

    @property
    def _rows(self) -> dict[Any, Any]:
        return self._db.table(self.name)

    def _get(self, key: Any, what: str) -> Any:
        try:
            return copy.deepcopy(self._rows[key])
        except KeyError:
            raise NotFound(f"{what} not found.") from None

    def _put(self, key: Any, value: Any) -> None:
        self._rows[key] = copy.deepcopy(value)

    def _select(self, where: Callable[[Any], bool]) -> list[Any]:
        return [copy.deepcopy(row) for row in self._rows.values() if where(row)]


class InMemoryUserRepository(_Table):
    name = "users"

    def add(self, user: User, *, password: str) -> None:
        with self._db.lock:
            key = email_key(user.email)
            if any(u.email == key for u in self._rows.values()):
                raise EmailTaken.on_field("email", "An account with this email exists.")
            self._put(user.id, replace(user, email=key))
            self._db.table("passwords")[user.id] = password

    def get(self, user_id: UserId) -> User:
        return self._get(user_id, "User")

    def get_by_email(self, email: str) -> User:
        key = email_key(email)
        found = self._select(lambda u: u.email == key)
        if not found:
            raise NotFound("User not found.")
        return found[0]

    def get_many(self, user_ids: Iterable[UserId]) -> dict[UserId, User]:
        wanted = set(user_ids)
        return {u.id: u for u in self._select(lambda u: u.id in wanted)}


class InMemoryExpertRepository(_Table):
    name = "experts"

    def add(self, profile: ExpertProfile) -> None:
        with self._db.lock:
            if any(p.owner_id == profile.owner_id for p in self._rows.values()):
                raise ProfileExists("This user already has an expert profile.")
            self._put(profile.id, profile)

    def get(self, expert_id: ExpertId, *, for_update: bool = False) -> ExpertProfile:
        return self._get(expert_id, "Expert")

    def get_by_owner(self, owner_id: UserId) -> ExpertProfile:
        found = self._select(lambda p: p.owner_id == owner_id)
        if not found:
            raise NotFound("Expert not found.")
        return found[0]

    def get_many(self, expert_ids: Sequence[ExpertId]) -> list[ExpertProfile]:
        return [copy.deepcopy(self._rows[i]) for i in expert_ids if i in self._rows]

    def save(self, profile: ExpertProfile) -> None:
        self._get(profile.id, "Expert")
        self._put(profile.id, profile)

    def iter_published(self, *, batch_size: int = 500) -> Iterator[ExpertProfile]:
        yield from self._select(lambda p: p.status is ExpertStatus.PUBLISHED)


class InMemoryBookingRepository(_Table):
    name = "bookings"

    def add(self, booking: Booking) -> None:
        self._put(booking.id, booking)

    def get(self, booking_id: BookingId, *, for_update: bool = False) -> Booking:
        return self._get(booking_id, "Booking")

    def save(self, booking: Booking) -> None:
        self._get(booking.id, "Booking")
        self._put(booking.id, booking)

    def has_accepted_overlap(self, booking: Booking) -> bool:
        return bool(
            self._select(
                lambda b: (
                    b.expert_id == booking.expert_id
                    and b.id != booking.id
                    and b.status is BookingStatus.ACCEPTED
                    and b.overlaps(booking)
                )
            )
        )

    def list_for_user(
        self, *, user_id: UserId, as_role: PartyRole, status: BookingStatus | None, page: PageRequest
    ) -> Page[Booking]:
        field = "client_id" if as_role == "client" else "expert_user_id"
        rows = self._select(lambda b: getattr(b, field) == user_id and (status is None or b.status is status))
        rows.sort(key=lambda b: (b.starts_at, b.id), reverse=True)
        return _page(rows, page)


class InMemoryReviewRepository(_Table):
    name = "reviews"

    def add(self, review: Review) -> None:
        with self._db.lock:
            if self.get_for_booking(review.booking_id) is not None:
                raise DuplicateReview("This booking already has a review.")
            self._put(review.id, review)

    def get(self, review_id: ReviewId) -> Review:
        return self._get(review_id, "Review")

    def get_for_booking(self, booking_id: BookingId) -> Review | None:
        found = self._select(lambda r: r.booking_id == booking_id)
        return found[0] if found else None

    def list_for_expert(self, expert_id: ExpertId, *, page: PageRequest) -> Page[Review]:
        rows = self._select(lambda r: r.expert_id == expert_id)
        rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return _page(rows, page)


class InMemoryUploadRepository(_Table):
    """Implements UploadRepository."""

    name = "uploads"

    def add(self, upload: Upload) -> None:
        with self._db.lock:
            self._put(upload.id, upload)

    def get(self, upload_id: UploadId) -> Upload:
        return self._get(upload_id, "Upload")

    def mark_used(self, upload_id: UploadId, *, at: datetime) -> bool:
        with self._db.lock:
            upload = self._get(upload_id, "Upload")
            if upload.used_at is not None:
                return False
            upload.used_at = at
            self._put(upload_id, upload)
            return True

    def prune(self, *, before: datetime) -> int:
        with self._db.lock:
            old = [key for key, upload in self._rows.items() if upload.expires_at < before]
            for key in old:
                del self._rows[key]
            return len(old)
