"""Reviews: one per completed booking, by its client; they move the expert's rating."""

from __future__ import annotations

from domain.bookings import BookingStatus
from domain.errors import Conflict, DuplicateReview, ErrorCollector, NotFound, PermissionDenied
from domain.events import ReviewCreated
from domain.experts import ExpertStatus
from domain.ids import BookingId, ExpertId, ReviewId, UserId, new_id
from domain.pagination import Page, PageRequest
from domain.ports import (
    BookingRepository,
    Clock,
    EventPublisher,
    ExpertRepository,
    ResponseCache,
    ReviewRepository,
    SearchIndex,
    UnitOfWork,
)
from domain.reviews import Review, validate_comment, validate_rating
from services.experts import expert_pages_invalidate, expert_sync_index


def review_create(
    *,
    reviews: ReviewRepository,
    bookings: BookingRepository,
    experts: ExpertRepository,
    search: SearchIndex,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    response_cache: ResponseCache,
    actor: UserId,
    booking_id: BookingId,
    rating: int,
    comment: str = "",
) -> Review:
    """The client reviews a completed booking once; the expert's aggregates follow."""
    errors = ErrorCollector()
    with errors.check():
        rating = validate_rating(rating)
    with errors.check():
        comment = validate_comment(comment)
    errors.raise_if_any()
    with uow.atomic():
        booking = bookings.get(booking_id)
        if not booking.is_party(actor):
            raise NotFound("Booking not found.")
        if actor != booking.client_id:
            raise PermissionDenied("Only the client reviews a booking.")
        if booking.status is not BookingStatus.COMPLETED:
            raise Conflict("Only a completed booking can be reviewed.")
        if reviews.get_for_booking(booking_id) is not None:
            raise DuplicateReview("This booking already has a review.")
        review = Review(
            id=ReviewId(new_id()),
            booking_id=booking.id,
            expert_id=booking.expert_id,
            author_id=actor,
            rating=rating,
            comment=comment,
            created_at=clock.now(),
        )
        reviews.add(review)
        expert = experts.get(booking.expert_id, for_update=True)
        expert.record_rating(rating)
        experts.save(expert)
        expert_sync_index(search=search, profile=expert)
        events.publish(ReviewCreated(review_id=review.id, expert_id=expert.id))
        expert_pages_invalidate(uow=uow, response_cache=response_cache, expert_id=expert.id)  # the rating moved
    return review


def review_list_for_expert(
    *, reviews: ReviewRepository, experts: ExpertRepository, expert_id: ExpertId, page: PageRequest
) -> Page[Review]:
    """A published expert's reviews, newest first."""
    if experts.get(expert_id).status is not ExpertStatus.PUBLISHED:
        raise NotFound("Expert not found.")
    return reviews.list_for_expert(expert_id, page=page)
