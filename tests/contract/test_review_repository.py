"""The ReviewRepository contract, run against every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from adapters.orm.repositories import (
    DjangoBookingRepository,
    DjangoExpertRepository,
    DjangoReviewRepository,
    DjangoUserRepository,
)
from domain.bookings import Booking, BookingStatus
from domain.errors import DuplicateReview, NotFound
from domain.experts import ExpertProfile
from domain.ids import BookingId, ExpertId, ReviewId, new_id
from domain.pagination import PageRequest
from domain.reviews import Review
from tests.contract.stores import django_store, memory_store
from tests.factories import NOW, make_review, store_booking, store_expert, store_user


def _newest_first(reviews: list[Review]) -> list[Review]:
    return sorted(reviews, key=lambda r: (r.created_at, r.id), reverse=True)


class ReviewRepositoryContract:
    """Subclasses provide ``ports``: users, experts, bookings and reviews over one store."""

    @pytest.fixture
    def expert(self, ports: SimpleNamespace) -> ExpertProfile:
        return store_expert(ports.users, ports.experts)

    def _completed_booking(self, ports: SimpleNamespace, expert: ExpertProfile) -> Booking:
        client = store_user(ports.users)
        return store_booking(ports.bookings, expert=expert, client=client, status=BookingStatus.COMPLETED)

    def _review(self, ports: SimpleNamespace, expert: ExpertProfile, **overrides: object) -> Review:
        review = make_review(booking=self._completed_booking(ports, expert), **overrides)
        ports.reviews.add(review)
        return review

    def test_add_then_get_for_booking_round_trips_every_field(
        self, ports: SimpleNamespace, expert: ExpertProfile
    ) -> None:
        review = self._review(
            ports,
            expert,
            rating=3,
            comment="Ünicode — fine, \n two lines.",
            created_at=datetime(2030, 2, 3, 4, 5, 6, 789012, tzinfo=UTC),
        )

        stored = ports.reviews.get_for_booking(review.booking_id)

        assert stored == review
        assert stored is not None
        assert stored.created_at.utcoffset() == timedelta(0)

    def test_get_by_id_round_trips_and_unknown_ids_are_not_found(
        self, ports: SimpleNamespace, expert: ExpertProfile
    ) -> None:
        review = self._review(ports, expert, comment="By id")

        assert ports.reviews.get(review.id) == review
        with pytest.raises(NotFound):
            ports.reviews.get(ReviewId(new_id()))

    def test_an_empty_comment_round_trips(self, ports: SimpleNamespace, expert: ExpertProfile) -> None:
        review = self._review(ports, expert, comment="")

        assert ports.reviews.get_for_booking(review.booking_id) == review

    def test_get_for_a_booking_without_review_is_none(self, ports: SimpleNamespace, expert: ExpertProfile) -> None:
        self._review(ports, expert)
        booking = self._completed_booking(ports, expert)

        assert ports.reviews.get_for_booking(booking.id) is None
        assert ports.reviews.get_for_booking(BookingId(new_id())) is None

    def test_a_second_review_of_a_booking_raises_duplicate_review(
        self, ports: SimpleNamespace, expert: ExpertProfile
    ) -> None:
        first = self._review(ports, expert, rating=5)
        second = make_review(booking_id=first.booking_id, expert_id=expert.id, author_id=first.author_id, rating=1)

        with pytest.raises(DuplicateReview):
            ports.reviews.add(second)

        assert ports.reviews.get_for_booking(first.booking_id) == first

    def test_list_for_expert_is_newest_first_then_id(self, ports: SimpleNamespace, expert: ExpertProfile) -> None:
        at = NOW + timedelta(days=3)
        theirs = [self._review(ports, expert, created_at=at + timedelta(hours=h)) for h in (2, 0, 1, 1)]
        self._review(ports, store_expert(ports.users, ports.experts))

        page = ports.reviews.list_for_expert(expert.id, page=PageRequest(1, 10))

        assert list(page.items) == _newest_first(theirs)
        assert page.total == 4
        assert page.has_next is False

    def test_list_for_expert_pages(self, ports: SimpleNamespace, expert: ExpertProfile) -> None:
        every = _newest_first([self._review(ports, expert, created_at=NOW + timedelta(days=d)) for d in range(3)])

        first = ports.reviews.list_for_expert(expert.id, page=PageRequest(1, 2))
        second = ports.reviews.list_for_expert(expert.id, page=PageRequest(2, 2))
        beyond = ports.reviews.list_for_expert(expert.id, page=PageRequest(3, 2))

        assert (list(first.items), first.total, first.has_next) == (every[0:2], 3, True)
        assert (list(second.items), second.total, second.has_next) == (every[2:3], 3, False)
        assert (list(beyond.items), beyond.total, beyond.has_next) == ([], 3, False)

    def test_list_for_an_expert_without_reviews_is_empty(self, ports: SimpleNamespace, expert: ExpertProfile) -> None:
        self._review(ports, expert)

        page = ports.reviews.list_for_expert(ExpertId(new_id()), page=PageRequest())

        assert (list(page.items), page.total) == ([], 0)


class TestInMemoryReviewRepository(ReviewRepositoryContract):
    @pytest.fixture
    def ports(self) -> SimpleNamespace:
        return memory_store()


@pytest.mark.django_db
class TestDjangoReviewRepository(ReviewRepositoryContract):
    @pytest.fixture
    def ports(self) -> SimpleNamespace:
        return django_store()


@pytest.mark.django_db
class TestDjangoReviewQueries:
    @pytest.mark.parametrize("size", [1, 50])
    def test_list_for_expert_is_two_queries_whatever_the_page_size(self, size: int, django_assert_num_queries) -> None:
        users, experts = DjangoUserRepository(), DjangoExpertRepository()
        bookings, reviews = DjangoBookingRepository(), DjangoReviewRepository()
        expert, client = store_expert(users, experts), store_user(users)
        for hours in range(60):
            booking = store_booking(bookings, expert=expert, client=client, starts_at=NOW + timedelta(hours=hours + 1))
            reviews.add(make_review(booking=booking, created_at=NOW + timedelta(days=1, minutes=hours)))

        with django_assert_num_queries(2):
            page = reviews.list_for_expert(expert.id, page=PageRequest(1, size))

        assert len(page.items) == size
