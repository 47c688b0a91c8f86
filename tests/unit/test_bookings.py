from __future__ import annotations

from datetime import timedelta

import pytest

from domain.bookings import BookingStatus
from domain.errors import BookingOverlap, InvalidInput, InvalidTransition, NotFound, PermissionDenied
from domain.events import BookingAccepted, BookingCancelled, BookingRequested
from domain.money import Money
from domain.pagination import PageRequest
from domain.users import Role
from tests.unit.conftest import World


def request(world: World, expert_id, client_id, start=None, duration: int = 60):  # type: ignore[no-untyped-def]
    return world.booking_request(
        actor=client_id,
        expert_id=expert_id,
        starts_at=start or world.tomorrow(),
        duration_minutes=duration,
        topic="Code review",
    )


def test_request_freezes_the_price_and_publishes_after_commit(world: World) -> None:
    expert = world.published_expert(hourly_rate=Money(12000, "EUR"))
    client = world.register()
    booking = request(world, expert.id, client.id, duration=45)
    assert booking.price == Money(9000, "EUR")
    world.expert_update(actor=expert.owner_id, expert_id=expert.id, hourly_rate=Money(99900, "EUR"))
    assert world.bookings.get(booking.id).price == Money(9000, "EUR")
    assert BookingRequested(booking_id=booking.id) in world.events.published


def test_request_rules_list_every_bad_field(world: World) -> None:
    expert = world.published_expert()
    client = world.register()
    with pytest.raises(InvalidInput) as error:
        world.booking_request(
            actor=client.id,
            expert_id=expert.id,
            starts_at=world.clock.now() - timedelta(hours=1),
            duration_minutes=50,
            topic=" ",
        )
    assert set(error.value.fields) == {"starts_at", "duration_minutes", "topic"}
    with pytest.raises(InvalidInput) as error:
        request(world, expert.id, expert.owner_id)
    assert "expert_id" in error.value.fields
    assert world.bookings.list_for_user(user_id=client.id, as_role="client", status=None, page=PageRequest()).total == 0


def test_unpublished_experts_cannot_be_booked(world: World) -> None:
    owner = world.register(Role.EXPERT)
    draft = world.expert_create(actor=owner.id, headline="Draft", hourly_rate=Money(100, "EUR"))
    with pytest.raises(NotFound):
        request(world, draft.id, world.register().id)


def test_only_parties_see_a_booking(world: World) -> None:
    expert = world.published_expert()
    client = world.register()
    booking = request(world, expert.id, client.id)
    assert world.booking_get(actor=client.id, booking_id=booking.id).id == booking.id
    assert world.booking_get(actor=expert.owner_id, booking_id=booking.id).id == booking.id
    stranger = world.register()
    for action in ("booking_get", "booking_accept", "booking_decline", "booking_cancel", "booking_complete"):
        with pytest.raises(NotFound):
            getattr(world, action)(actor=stranger.id, booking_id=booking.id)


def test_who_may_move_a_booking(world: World) -> None:
    expert = world.published_expert()
    client = world.register()
    booking = request(world, expert.id, client.id)
    with pytest.raises(PermissionDenied):
        world.booking_accept(actor=client.id, booking_id=booking.id)
    with pytest.raises(PermissionDenied):
        world.booking_cancel(actor=expert.owner_id, booking_id=booking.id)
    accepted = world.booking_accept(actor=expert.owner_id, booking_id=booking.id)
    assert accepted.status is BookingStatus.ACCEPTED
    with pytest.raises(InvalidTransition):
        world.booking_complete(actor=client.id, booking_id=booking.id)  # not ended yet
    world.clock.advance(days=2)
    assert world.booking_complete(actor=client.id, booking_id=booking.id).status is BookingStatus.COMPLETED
    assert BookingAccepted(booking_id=booking.id) in world.events.published


def test_cancel_before_start_only(world: World) -> None:
    expert = world.published_expert()
    client = world.register()
    first = request(world, expert.id, client.id)
    assert world.booking_cancel(actor=client.id, booking_id=first.id).status is BookingStatus.CANCELLED
    assert BookingCancelled(booking_id=first.id) in world.events.published
    second = request(world, expert.id, client.id, start=world.tomorrow(hours=3))
    world.clock.advance(days=1, hours=3)
    with pytest.raises(InvalidTransition):
        world.booking_cancel(actor=client.id, booking_id=second.id)


def test_overlapping_accepts_are_refused_and_nothing_is_published(world: World) -> None:
    expert = world.published_expert()
    a = request(world, expert.id, world.register().id, start=world.tomorrow())
    b = request(world, expert.id, world.register().id, start=world.tomorrow() + timedelta(minutes=30))
    c = request(world, expert.id, world.register().id, start=world.tomorrow() + timedelta(minutes=60))
    world.booking_accept(actor=expert.owner_id, booking_id=a.id)
    published = len(world.events.published)
    with pytest.raises(BookingOverlap):
        world.booking_accept(actor=expert.owner_id, booking_id=b.id)
    assert world.bookings.get(b.id).status is BookingStatus.REQUESTED
    assert len(world.events.published) == published
    # Back-to-back sessions do not overlap.
    assert world.booking_accept(actor=expert.owner_id, booking_id=c.id).status is BookingStatus.ACCEPTED


def test_list_mine_as_client_and_as_expert_with_status_filter(world: World) -> None:
    expert = world.published_expert()
    client = world.register()
    bookings = [request(world, expert.id, client.id, start=world.tomorrow(hours=3 * n)) for n in range(3)]
    world.booking_decline(actor=expert.owner_id, booking_id=bookings[0].id)
    mine = world.booking_list_mine(actor=client.id, as_role="client", page=PageRequest(size=2))
    assert (mine.total, len(mine.items), mine.has_next) == (3, 2, True)
    assert [b.id for b in mine.items] == [bookings[2].id, bookings[1].id]  # newest start first
    declined = world.booking_list_mine(
        actor=expert.owner_id, as_role="expert", status=BookingStatus.DECLINED, page=PageRequest()
    )
    assert [b.id for b in declined.items] == [bookings[0].id]
    assert world.booking_list_mine(actor=client.id, as_role="expert", page=PageRequest()).total == 0
