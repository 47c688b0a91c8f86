"""Django ORM adapters of the repository ports and the unit of work.

Rows are mapped to domain entities here and never leave this module. Driver
failures become PortError; integrity errors the ports name become their
domain errors; any other integrity error is a bug and propagates as is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any, TypeVar

from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Model, QuerySet

from adapters.orm.models import BookingRow, ExpertProfileRow, ReviewRow
from adapters.orm.models import User as UserRow
from domain.bookings import Booking, BookingStatus
from domain.errors import BookingOverlap, DomainError, DuplicateReview, EmailTaken, NotFound, PortError, ProfileExists
from domain.experts import ExpertProfile, ExpertStatus
from domain.ids import BookingId, ExpertId, ReviewId, UserId
from domain.money import Money
from domain.pagination import Page, PageRequest
from domain.ports import PartyRole
from domain.reviews import Review
from domain.users import Role, User, email_key

M = TypeVar("M", bound=Model)
T = TypeVar("T")

# The message of the SQLite triggers (migration 0002); the PostgreSQL exclusion
# constraint that replaces them must carry the same marker in its name.
OVERLAP_MARKER = "booking_overlap"


@contextmanager
def _driver_errors() -> Iterator[None]:
    """Services never see driver types: an unreachable or locked database is a PortError."""
    try:
        yield
    except (OperationalError, InterfaceError) as e:
        raise PortError("The database is unavailable.") from e


@contextmanager
def _savepoint() -> Iterator[None]:
    # A failed statement aborts a PostgreSQL transaction; the savepoint keeps
    # the caller's transaction usable after we translate the error.
    with transaction.atomic():
        yield


@contextmanager
def _unique(clash: QuerySet[Any], error: DomainError) -> Iterator[None]:
    """A failed INSERT becomes ``error`` when the row it clashed with exists (any other integrity error is a bug)."""
    try:
        with _savepoint():
            yield
    except IntegrityError:
        if clash.exists():
            raise error from None
        raise


def _locked(queryset: QuerySet[M], for_update: bool) -> QuerySet[M]:
    # Outside a transaction there is nothing to hold a lock until, and
    # PostgreSQL would refuse FOR UPDATE in autocommit.
    if for_update and not transaction.get_autocommit():
        return queryset.select_for_update()
    return queryset


def _get_row(queryset: QuerySet[M], what: str, **lookup: Any) -> M:
    try:
        return queryset.get(**lookup)
    except queryset.model.DoesNotExist:
        raise NotFound(f"{what} not found.") from None


def _page(queryset: QuerySet[M], page: PageRequest, to_entity: Callable[[M], T]) -> Page[T]:
    """Two queries whatever the page size: the count, then the page."""
    total = queryset.count()
    rows = queryset[page.offset : page.offset + page.size]
    return Page(items=[to_entity(row) for row in rows], total=total, request=page)


# --- users -----------------------------------------------------------------------


def _user_entity(row: UserRow) -> User:
    return User(
        id=UserId(row.id),
        email=row.email,
        role=Role(row.role),
        name=row.name,
        signed_up_at=row.date_joined,
        is_active=row.is_active,
    )


class DjangoUserRepository:
    @_driver_errors()
    def add(self, user: User, *, password: str) -> None:
        taken = EmailTaken.on_field("email", "An account with this email exists.")
        with _unique(UserRow.objects.filter(email=email_key(user.email)), taken):
            UserRow.objects.create_user(
                email=user.email,
                password=password,
                id=user.id,
                name=user.name,
                role=user.role.value,
                # Staff log into the admin; that is what is_staff grants.
                is_staff=user.role is Role.STAFF,
                is_active=user.is_active,
                date_joined=user.signed_up_at,
            )

    @_driver_errors()
    def get(self, user_id: UserId) -> User:
        return _user_entity(_get_row(UserRow.objects.all(), "User", id=user_id))

    @_driver_errors()
    def get_by_email(self, email: str) -> User:
        return _user_entity(_get_row(UserRow.objects.all(), "User", email=email_key(email)))

    @_driver_errors()
    def get_many(self, user_ids: Iterable[UserId]) -> dict[UserId, User]:
        rows = UserRow.objects.filter(id__in=list(user_ids))
        return {UserId(row.id): _user_entity(row) for row in rows}


# --- experts -----------------------------------------------------------------------


def _expert_entity(row: ExpertProfileRow) -> ExpertProfile:
    return ExpertProfile(
        id=ExpertId(row.id),
        owner_id=UserId(row.owner_id),
        display_name=row.display_name,
        headline=row.headline,
        bio=row.bio,
        skills=tuple(row.skills),
        hourly_rate=Money(row.rate_amount, row.rate_currency),
        languages=tuple(row.languages),
        timezone=row.timezone,
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=ExpertStatus(row.status),
        # The column is NOT NULL with "" for "no avatar"; the domain says None.
        avatar_key=row.avatar_key or None,
        rating_count=row.rating_count,
        rating_total=row.rating_total,
        published_at=row.published_at,
    )


def _expert_row_values(profile: ExpertProfile) -> dict[str, Any]:
    return {
        "owner_id": profile.owner_id,
        "display_name": profile.display_name,
        "headline": profile.headline,
        "bio": profile.bio,
        "skills": list(profile.skills),
        "rate_amount": profile.hourly_rate.amount,
        "rate_currency": profile.hourly_rate.currency,
        "languages": list(profile.languages),
        "timezone": profile.timezone,
        "created_at": profile.created_at,
        "updated_at": profile.updated_at,
        "status": profile.status.value,
        "avatar_key": profile.avatar_key or "",
        "rating_count": profile.rating_count,
        "rating_total": profile.rating_total,
        "published_at": profile.published_at,
    }


class DjangoExpertRepository:
    @_driver_errors()
    def add(self, profile: ExpertProfile) -> None:
        owned = ExpertProfileRow.objects.filter(owner_id=profile.owner_id)
        with _unique(owned, ProfileExists("This user already has an expert profile.")):
            ExpertProfileRow.objects.create(id=profile.id, **_expert_row_values(profile))

    @_driver_errors()
    def get(self, expert_id: ExpertId, *, for_update: bool = False) -> ExpertProfile:
        queryset = _locked(ExpertProfileRow.objects.all(), for_update)
        return _expert_entity(_get_row(queryset, "Expert", id=expert_id))

    @_driver_errors()
    def get_by_owner(self, owner_id: UserId) -> ExpertProfile:
        return _expert_entity(_get_row(ExpertProfileRow.objects.all(), "Expert", owner_id=owner_id))

    @_driver_errors()
    def get_many(self, expert_ids: Sequence[ExpertId]) -> list[ExpertProfile]:
        by_id = {row.id: row for row in ExpertProfileRow.objects.filter(id__in=list(expert_ids))}
        return [_expert_entity(by_id[i]) for i in expert_ids if i in by_id]

    @_driver_errors()
    def save(self, profile: ExpertProfile) -> None:
        updated = ExpertProfileRow.objects.filter(id=profile.id).update(**_expert_row_values(profile))
        if not updated:
            raise NotFound("Expert not found.")

    def iter_published(self, *, batch_size: int = 500) -> Iterator[ExpertProfile]:
        # Keyset pagination on id: each batch is a short query, so no cursor
        # or transaction stays open while the caller indexes a batch.
        published = ExpertProfileRow.objects.filter(status=ExpertStatus.PUBLISHED.value).order_by("id")
        batch = self._batch(published, batch_size)
        yield from map(_expert_entity, batch)
        while len(batch) == batch_size:  # a short batch was the last one
            batch = self._batch(published.filter(id__gt=batch[-1].id), batch_size)
            yield from map(_expert_entity, batch)

    @staticmethod
    def _batch(queryset: QuerySet[ExpertProfileRow], size: int) -> list[ExpertProfileRow]:
        with _driver_errors():
            return list(queryset[:size])


# --- bookings ------------------------------------------------------------------------


def _booking_entity(row: BookingRow) -> Booking:
    return Booking(
        id=BookingId(row.id),
        client_id=UserId(row.client_id),
        expert_id=ExpertId(row.expert_id),
        expert_user_id=UserId(row.expert_user_id),
        starts_at=row.starts_at,
        duration_minutes=row.duration_minutes,
        topic=row.topic,
        price=Money(row.price_amount, row.price_currency),
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=BookingStatus(row.status),
    )


def _booking_row_values(booking: Booking) -> dict[str, Any]:
    return {
        "client_id": booking.client_id,
        "expert_id": booking.expert_id,
        "expert_user_id": booking.expert_user_id,
        "starts_at": booking.starts_at,
        # Stored so the database can check overlaps without date arithmetic.
        "ends_at": booking.starts_at + timedelta(minutes=booking.duration_minutes),
        "duration_minutes": booking.duration_minutes,
        "topic": booking.topic,
        "price_amount": booking.price.amount,
        "price_currency": booking.price.currency,
        "status": booking.status.value,
        "created_at": booking.created_at,
        "updated_at": booking.updated_at,
    }


@contextmanager
def _overlap_guard() -> Iterator[None]:
    """The store's own refusal of overlapping accepted bookings, as the domain error."""
    try:
        with _savepoint():
            yield
    except IntegrityError as e:
        if OVERLAP_MARKER in str(e):
            raise BookingOverlap("The expert already has an accepted booking at that time.") from e
        raise


class DjangoBookingRepository:
    @_driver_errors()
    def add(self, booking: Booking) -> None:
        with _overlap_guard():
            BookingRow.objects.create(id=booking.id, **_booking_row_values(booking))

    @_driver_errors()
    def get(self, booking_id: BookingId, *, for_update: bool = False) -> Booking:
        queryset = _locked(BookingRow.objects.all(), for_update)
        return _booking_entity(_get_row(queryset, "Booking", id=booking_id))

    @_driver_errors()
    def save(self, booking: Booking) -> None:
        with _overlap_guard():
            updated = BookingRow.objects.filter(id=booking.id).update(**_booking_row_values(booking))
        if not updated:
            raise NotFound("Booking not found.")

    @_driver_errors()
    def has_accepted_overlap(self, booking: Booking) -> bool:
        return (
            BookingRow.objects.filter(
                expert_id=booking.expert_id,
                status=BookingStatus.ACCEPTED.value,
                starts_at__lt=booking.ends_at,
                ends_at__gt=booking.starts_at,
            )
            .exclude(id=booking.id)
            .exists()
        )

    @_driver_errors()
    def list_for_user(
        self, *, user_id: UserId, as_role: PartyRole, status: BookingStatus | None, page: PageRequest
    ) -> Page[Booking]:
        party = "client_id" if as_role == "client" else "expert_user_id"
        queryset = BookingRow.objects.filter(**{party: user_id})
        if status is not None:
            queryset = queryset.filter(status=status.value)
        return _page(queryset.order_by("-starts_at", "-id"), page, _booking_entity)


# --- reviews -------------------------------------------------------------------------


def _review_entity(row: ReviewRow) -> Review:
    return Review(
        id=ReviewId(row.id),
        booking_id=BookingId(row.booking_id),
        expert_id=ExpertId(row.expert_id),
        author_id=UserId(row.author_id),
        rating=row.rating,
        comment=row.comment,
        created_at=row.created_at,
    )


def _review_row_values(review: Review) -> dict[str, Any]:
    return {
        "booking_id": review.booking_id,
        "expert_id": review.expert_id,
        "author_id": review.author_id,
        "rating": review.rating,
        "comment": review.comment,
        "created_at": review.created_at,
    }


class DjangoReviewRepository:
    @_driver_errors()
    def add(self, review: Review) -> None:
        reviewed = ReviewRow.objects.filter(booking_id=review.booking_id)
        with _unique(reviewed, DuplicateReview("This booking already has a review.")):
            ReviewRow.objects.create(id=review.id, **_review_row_values(review))

    @_driver_errors()
    def get(self, review_id: ReviewId) -> Review:
        return _review_entity(_get_row(ReviewRow.objects.all(), "Review", id=review_id))

    @_driver_errors()
    def get_for_booking(self, booking_id: BookingId) -> Review | None:
        row = ReviewRow.objects.filter(booking_id=booking_id).first()
        return _review_entity(row) if row is not None else None

    @_driver_errors()
    def list_for_expert(self, expert_id: ExpertId, *, page: PageRequest) -> Page[Review]:
        queryset = ReviewRow.objects.filter(expert_id=expert_id).order_by("-created_at", "-id")
        return _page(queryset, page, _review_entity)


# --- unit of work ----------------------------------------------------------------------


class DjangoUnitOfWork:
    """Django's own transactions: nested blocks are savepoints inside the outer transaction."""

    def atomic(self) -> AbstractContextManager[None]:
        return self._atomic()

    @contextmanager
    def _atomic(self) -> Iterator[None]:
        # BEGIN IMMEDIATE waits for SQLite's write lock and COMMIT may fail:
        # both are the database being unavailable, not a bug.
        with _driver_errors(), transaction.atomic():
            yield

    def on_commit(self, callback: Callable[[], None]) -> None:
        # robust: the data is committed, so a failing side effect (a broker outage) is
        # logged by Django instead of turning the caller's success into an error.
        transaction.on_commit(callback, robust=True)
