"""The booking state machine, explored by hypothesis against a reference table."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.bookings import TRANSITIONS, Booking, BookingStatus, validate_duration, validate_start
from domain.errors import DomainError, InvalidInput, InvalidTransition, PermissionDenied
from domain.ids import BookingId, ExpertId, UserId
from domain.money import Money

START = datetime(2030, 6, 1, 10, 0, tzinfo=UTC)
CLIENT, EXPERT, STRANGER = (UserId(uuid.UUID(int=n)) for n in (1, 2, 3))
FINAL = {BookingStatus.DECLINED, BookingStatus.CANCELLED, BookingStatus.COMPLETED}
ACTIONS = {
    "accept": BookingStatus.ACCEPTED,
    "decline": BookingStatus.DECLINED,
    "cancel": BookingStatus.CANCELLED,
    "complete": BookingStatus.COMPLETED,
}
# Who may perform each action at all.
ALLOWED_ACTORS = {
    "accept": {EXPERT},
    "decline": {EXPERT},
    "cancel": {CLIENT},
    "complete": {CLIENT, EXPERT},
}


def make_booking(duration: int = 60) -> Booking:
    created = START - timedelta(days=3)
    return Booking(
        id=BookingId(uuid.uuid4()),
        client_id=CLIENT,
        expert_id=ExpertId(uuid.uuid4()),
        expert_user_id=EXPERT,
        starts_at=START,
        duration_minutes=duration,
        topic="Architecture review",
        price=Money(10000, "EUR"),
        created_at=created,
        updated_at=created,
    )


def expected_outcome(booking: Booking, action: str, actor: UserId, now: datetime) -> BookingStatus | type[DomainError]:
    """The reference model: what the rules in the design brief say should happen."""
    if actor not in ALLOWED_ACTORS[action]:
        return PermissionDenied
    target = ACTIONS[action]
    if target not in TRANSITIONS[booking.status]:
        return InvalidTransition
    if action in ("accept", "cancel") and now >= booking.starts_at:
        return InvalidTransition
    if action == "complete" and now < booking.ends_at:
        return InvalidTransition
    return target


steps = st.lists(
    st.tuples(
        st.sampled_from(sorted(ACTIONS)),
        st.sampled_from([CLIENT, EXPERT, STRANGER]),
        st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60),  # minutes from the start
    ),
    max_size=12,
)


@settings(max_examples=300)
@given(steps)
def test_every_sequence_of_actions_follows_the_rules(sequence: list[tuple[str, UserId, int]]) -> None:
    booking = make_booking()
    for action, actor, offset in sequence:
        now = START + timedelta(minutes=offset)
        before = booking.status
        expected = expected_outcome(booking, action, actor, now)
        if isinstance(expected, BookingStatus):
            getattr(booking, action)(actor=actor, now=now)
            assert booking.status is expected
            assert booking.updated_at == now
        else:
            with pytest.raises(expected):
                getattr(booking, action)(actor=actor, now=now)
            assert booking.status is before  # a refused move changes nothing
        if before in FINAL:
            assert booking.status is before  # final states are absorbing


def test_the_happy_path() -> None:
    booking = make_booking()
    booking.accept(actor=EXPERT, now=START - timedelta(days=1))
    booking.complete(actor=CLIENT, now=booking.ends_at)
    assert booking.status is BookingStatus.COMPLETED


def test_cancel_only_before_the_start() -> None:
    booking = make_booking()
    with pytest.raises(InvalidTransition):
        booking.cancel(actor=CLIENT, now=START)


@given(st.integers(min_value=0, max_value=600))
def test_duration_rule(minutes: int) -> None:
    valid = minutes % 15 == 0 and 30 <= minutes <= 240
    if valid:
        assert validate_duration(minutes) == minutes
    else:
        with pytest.raises(InvalidInput):
            validate_duration(minutes)


def test_start_must_be_aware_and_in_the_future() -> None:
    with pytest.raises(InvalidInput):
        validate_start(datetime(2031, 1, 1, 10, 0), now=START)  # naive
    with pytest.raises(InvalidInput):
        validate_start(START, now=START)
    assert validate_start(START + timedelta(seconds=1), now=START)


@given(st.integers(-300, 300), st.sampled_from([30, 45, 60, 120]), st.sampled_from([30, 45, 60, 120]))
def test_overlap_is_symmetric_and_touching_is_not_overlap(shift: int, a: int, b: int) -> None:
    first, second = make_booking(a), make_booking(b)
    second.starts_at = START + timedelta(minutes=shift)
    assert first.overlaps(second) == second.overlaps(first)
    expected = second.ends_at > START and second.starts_at < first.ends_at
    assert first.overlaps(second) == expected


def test_start_at_most_a_year_ahead() -> None:
    assert validate_start(START + timedelta(days=365), now=START)
    with pytest.raises(InvalidInput):
        validate_start(START + timedelta(days=366), now=START)
