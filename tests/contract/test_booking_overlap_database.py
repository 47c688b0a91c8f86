"""No two accepted bookings of one expert overlap: the store's own guard, and a real race.

The application checks for an overlap before it accepts; these tests show
that the database refuses one even when that check is bypassed, and that two
accepts racing on two connections cannot both win.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection

from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.store import FixedClock
from adapters.orm.models import BookingRow
from adapters.orm.repositories import (
    DjangoBookingRepository,
    DjangoExpertRepository,
    DjangoUserRepository,
)
from domain.bookings import Booking, BookingStatus
from domain.errors import BookingOverlap
from domain.events import BookingAccepted
from domain.ids import BookingId
from domain.pagination import PageRequest
from services.bookings import booking_accept
from tests.contract.stores import django_store, memory_store
from tests.factories import NOW, store_booking, store_expert, store_user

TEN = NOW.replace(hour=10) + timedelta(days=1)
ROUNDS = 5


def _require_sqlite_file() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite triggers of migration 0002; PostgreSQL has its own constraint")
    _require_a_connection_per_thread()


def _require_a_connection_per_thread() -> None:
    # Each thread opens its own connection: on SQLite only a database file is shared between them.
    # (PostgreSQL: the exclusion constraint of migration 0004; a real server, so real parallel transactions.)
    if connection.vendor == "sqlite":
        assert not connection.is_in_memory_db(), "tests/settings must give SQLite a TEST NAME that is a file"


# --- the guard alone -------------------------------------------------------------------


@pytest.mark.django_db
class TestDatabaseGuard:
    @pytest.fixture
    def ports(self) -> SimpleNamespace:
        _require_a_connection_per_thread()
        users, experts = DjangoUserRepository(), DjangoExpertRepository()
        return SimpleNamespace(
            bookings=DjangoBookingRepository(),
            users=users,
            experts=experts,
            expert=store_expert(users, experts),
            client=store_user(users),
        )

    def _book(self, ports: SimpleNamespace, **overrides: Any) -> Booking:
        return store_booking(ports.bookings, expert=ports.expert, client=ports.client, **overrides)

    @pytest.mark.sqlite_only
    def test_the_migration_installed_both_triggers(self) -> None:
        _require_sqlite_file()
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'experthub_booking'")
            names = {row[0] for row in cursor.fetchall()}

        assert names == {"experthub_booking_overlap_insert", "experthub_booking_overlap_update"}

    def test_save_of_a_second_overlapping_accepted_booking_raises_booking_overlap(self, ports: SimpleNamespace) -> None:
        self._book(ports, starts_at=TEN, status=BookingStatus.ACCEPTED)
        second = self._book(ports, starts_at=TEN + timedelta(minutes=30))
        second.status = BookingStatus.ACCEPTED  # straight to the store: no application check

        with pytest.raises(BookingOverlap):
            ports.bookings.save(second)

        assert ports.bookings.get(second.id).status is BookingStatus.REQUESTED
        assert BookingRow.objects.filter(status="accepted").count() == 1

    def test_add_of_an_overlapping_accepted_booking_raises_booking_overlap(self, ports: SimpleNamespace) -> None:
        self._book(ports, starts_at=TEN, status=BookingStatus.ACCEPTED)

        with pytest.raises(BookingOverlap):
            self._book(ports, starts_at=TEN - timedelta(minutes=15), status=BookingStatus.ACCEPTED)

        assert BookingRow.objects.count() == 1

    def test_the_guard_allows_what_does_not_overlap(self, ports: SimpleNamespace) -> None:
        self._book(ports, starts_at=TEN, duration_minutes=60, status=BookingStatus.ACCEPTED)
        self._book(ports, starts_at=TEN + timedelta(hours=1), status=BookingStatus.ACCEPTED)  # touching
        self._book(ports, starts_at=TEN, status=BookingStatus.REQUESTED)
        other = store_expert(ports.users, ports.experts)
        store_booking(ports.bookings, expert=other, client=ports.client, starts_at=TEN, status=BookingStatus.ACCEPTED)

        assert BookingRow.objects.filter(status="accepted").count() == 3

    def test_an_accepted_booking_can_be_saved_again(self, ports: SimpleNamespace) -> None:
        booking = self._book(ports, starts_at=TEN, status=BookingStatus.ACCEPTED)
        booking.status = BookingStatus.COMPLETED

        ports.bookings.save(booking)

        assert ports.bookings.get(booking.id).status is BookingStatus.COMPLETED


# --- the race -------------------------------------------------------------------------------


class _BlindBookingRepository(DjangoBookingRepository):
    """The application check switched off: only the database stands in the way."""

    def has_accepted_overlap(self, booking: Booking) -> bool:
        return False


def _race(accept: Callable[..., Booking], booking_ids: list[BookingId], after: Callable[[], None]) -> list[Any]:
    """Run ``accept(booking_id=...)`` for every id at the same moment, one thread each; outcomes in id order."""
    barrier = threading.Barrier(len(booking_ids))
    outcomes: list[Any] = [None] * len(booking_ids)

    def run(index: int, booking_id: BookingId) -> None:
        try:
            barrier.wait(timeout=10)
            outcomes[index] = accept(booking_id=booking_id)
        except BaseException as error:  # kept as the outcome, for the assertions to report
            outcomes[index] = error
        try:
            after()
        except BaseException as error:
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(booking_ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a racing accept hung"
    return outcomes


class AcceptRaceContract:
    """Two overlapping requests of one expert, accepted at once: exactly one wins, every time.

    Subclasses provide ``ports`` (users, experts, bookings, uow) and ``thread_done``.
    """

    def test_exactly_one_of_two_racing_accepts_wins(
        self, ports: SimpleNamespace, thread_done: Callable[[], None]
    ) -> None:
        clock, events = FixedClock(NOW), InMemoryEventPublisher(ports.uow)
        for round_number in range(ROUNDS):
            expert = store_expert(ports.users, ports.experts)
            starts = TEN + timedelta(days=round_number)
            requests = [
                store_booking(ports.bookings, expert=expert, client=store_user(ports.users), starts_at=at)
                for at in (starts, starts + timedelta(minutes=30))
            ]
            accept = partial(
                booking_accept,
                bookings=ports.bookings,
                experts=ports.experts,
                uow=ports.uow,
                clock=clock,
                events=events,
                actor=expert.owner_id,
            )

            outcomes = _race(accept, [b.id for b in requests], thread_done)

            winners = [o for o in outcomes if isinstance(o, Booking)]
            losers = [type(o) for o in outcomes if not isinstance(o, Booking)]
            assert (len(winners), losers) == (1, [BookingOverlap]), outcomes
            accepted = ports.bookings.list_for_user(
                user_id=expert.owner_id, as_role="expert", status=BookingStatus.ACCEPTED, page=PageRequest()
            )
            assert [b.id for b in accepted.items] == [winners[0].id]
        assert len([e for e in events.published if isinstance(e, BookingAccepted)]) == ROUNDS


class TestInMemoryAcceptRace(AcceptRaceContract):
    @pytest.fixture
    def ports(self) -> SimpleNamespace:
        return memory_store()

    @pytest.fixture
    def thread_done(self) -> Callable[[], None]:
        return lambda: None


@pytest.mark.django_db(transaction=True)
class TestDjangoAcceptRace(AcceptRaceContract):
    @pytest.fixture
    def ports(self) -> SimpleNamespace:
        _require_a_connection_per_thread()
        return django_store()

    @pytest.fixture
    def thread_done(self) -> Callable[[], None]:
        # Each thread opened its own connection; leave none behind holding the file.
        # (A lambda: ``connection`` must resolve in the racing thread, not here.)
        return lambda: connection.close()


@pytest.mark.django_db(transaction=True)
class TestDjangoAcceptRaceWithoutTheApplicationCheck(TestDjangoAcceptRace):
    """The same race with has_accepted_overlap always False: the database alone decides."""

    @pytest.fixture
    def ports(self) -> SimpleNamespace:
        _require_a_connection_per_thread()
        store = django_store()
        store.bookings = _BlindBookingRepository()
        return store
