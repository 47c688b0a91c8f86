from __future__ import annotations

from datetime import timedelta

import pytest

from domain.errors import Conflict, DuplicateReview, InvalidInput, NotFound, PermissionDenied
from domain.events import ReviewCreated
from domain.pagination import PageRequest
from domain.search import SearchQuery, SearchSort
from tests.unit.conftest import World


def completed_booking(world: World, expert=None, client=None):  # type: ignore[no-untyped-def]
    expert = expert or world.published_expert()
    client = client or world.register()
    booking = world.booking_request(
        actor=client.id, expert_id=expert.id, starts_at=world.tomorrow(), duration_minutes=60, topic="Help"
    )
    world.booking_accept(actor=expert.owner_id, booking_id=booking.id)
    world.clock.advance(days=2)
    world.booking_complete(actor=expert.owner_id, booking_id=booking.id)
    return expert, client, booking


def test_review_updates_aggregates_and_search_ranking(world: World) -> None:
    expert, client, booking = completed_booking(world)
    other, _, other_booking = completed_booking(world)
    world.review_create(actor=client.id, booking_id=booking.id, rating=5, comment="Great")
    _, client2, booking2 = completed_booking(world, expert=expert)
    world.review_create(actor=client2.id, booking_id=booking2.id, rating=4)
    world.review_create(actor=other_booking.client_id, booking_id=other_booking.id, rating=3)
    stored = world.experts.get(expert.id)
    assert (stored.rating_count, stored.rating_total, stored.rating_average) == (2, 9, 4.5)
    ranked = world.expert_search(query=SearchQuery(sort=SearchSort.RATING))
    assert [p.id for p in ranked.profiles] == [expert.id, other.id]
    assert any(isinstance(e, ReviewCreated) for e in world.events.published)
    reviews = world.review_list_for_expert(expert_id=expert.id, page=PageRequest())
    assert [r.rating for r in reviews.items] == [4, 5]  # newest first


def test_only_the_client_reviews_once_a_completed_booking(world: World) -> None:
    expert, client, booking = completed_booking(world)
    with pytest.raises(PermissionDenied):
        world.review_create(actor=expert.owner_id, booking_id=booking.id, rating=5)
    with pytest.raises(NotFound):
        world.review_create(actor=world.register().id, booking_id=booking.id, rating=5)
    world.review_create(actor=client.id, booking_id=booking.id, rating=5)
    with pytest.raises(DuplicateReview):
        world.review_create(actor=client.id, booking_id=booking.id, rating=1)
    assert world.experts.get(expert.id).rating_count == 1


def test_unfinished_bookings_cannot_be_reviewed(world: World) -> None:
    expert = world.published_expert()
    client = world.register()
    booking = world.booking_request(
        actor=client.id,
        expert_id=expert.id,
        starts_at=world.clock.now() + timedelta(days=1),
        duration_minutes=30,
        topic="x",
    )
    with pytest.raises(Conflict):
        world.review_create(actor=client.id, booking_id=booking.id, rating=5)


@pytest.mark.parametrize(("rating", "comment", "fields"), [(0, "", {"rating"}), (6, "x" * 2001, {"rating", "comment"})])
def test_rating_and_comment_are_validated(world: World, rating: int, comment: str, fields: set[str]) -> None:
    _, client, booking = completed_booking(world)
    with pytest.raises(InvalidInput) as error:
        world.review_create(actor=client.id, booking_id=booking.id, rating=rating, comment=comment)
    assert set(error.value.fields) == fields
    assert world.reviews.get_for_booking(booking.id) is None
