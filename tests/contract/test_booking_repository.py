"""The BookingRepository contract, run against every adapter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from adapters.orm.repositories import (
    DjangoBookingRepository,
    DjangoExpertRepository,
    DjangoUserRepository,
)
from domain.bookings import Booking, BookingStatus
from domain.errors import NotFound
from domain.ids import BookingId, UserId, new_id
from domain.money import Money
from domain.pagination import PageRequest
from domain.ports import BookingRepository
from tests.contract.stores import django_store, memory_store
from tests.factories import NOW, make_booking, store_booking, store_expert, store_user

TEN = NOW.replace(hour=10) + timedelta(days=1)  # tomorrow 10:00 UTC


def _newest_first(bookings: list[Booking]) -> list[Booking]:
    return sorted(bookings, key=lambda b: (b.starts_at, b.id), reverse=True)


class BookingRepositoryContract:
    """Subclasses provide ``ports``: users, experts, bookings and uow over one store."""

    @pytest.fixture
    def bookings(self, ports: SimpleNamespace) -> BookingRepository:
        return ports.bookings

    @pytest.fixture
    def world(self, ports: SimpleNamespace) -> SimpleNamespace:
        """One stored expert and one stored client, the parents every booking needs."""
        return SimpleNamespace(
            expert=store_expert(ports.users, ports.experts),
            client=store_user(ports.users),
        )

    def _book(self, ports: SimpleNamespace, world: SimpleNamespace, **overrides: object) -> Booking:
        return store_booking(ports.bookings, expert=world.expert, client=world.client, **overrides)

    # --- add, get, save ---------------------------------------------------------------

    def test_add_then_get_round_trips_every_field(self, ports: SimpleNamespace, world: SimpleNamespace) -> None:
        booking = self._book(
            ports,
            world,
            starts_at=datetime(2030, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
            duration_minutes=135,
            topic="Ünicode — and a long topic",
            price=Money(27_001, "GBP"),
            status=BookingStatus.ACCEPTED,
            created_at=datetime(2030, 1, 1, 9, 0, 1, 5, tzinfo=UTC),
            updated_at=datetime(2030, 1, 1, 9, 30, tzinfo=UTC),
        )

        stored = ports.bookings.get(booking.id)

        assert stored == booking
        assert stored.status is BookingStatus.ACCEPTED
        assert stored.ends_at == booking.ends_at
        assert stored.starts_at.utcoffset() == timedelta(0)

    def test_a_start_in_another_zone_keeps_its_instant(self, ports: SimpleNamespace, world: SimpleNamespace) -> None:
        kolkata = datetime(2030, 3, 4, 15, 30, tzinfo=ZoneInfo("Asia/Kolkata"))
        booking = self._book(ports, world, starts_at=kolkata)

        stored = ports.bookings.get(booking.id)

        assert stored.starts_at == kolkata
        assert stored.starts_at.astimezone(UTC) == datetime(2030, 3, 4, 10, 0, tzinfo=UTC)

    def test_get_unknown_raises_not_found(self, bookings: BookingRepository) -> None:
        with pytest.raises(NotFound):
            bookings.get(BookingId(new_id()))

    def test_get_for_update_inside_a_transaction(self, ports: SimpleNamespace, world: SimpleNamespace) -> None:
        booking = self._book(ports, world)

        with ports.uow.atomic():
            assert ports.bookings.get(booking.id, for_update=True) == booking

    @pytest.mark.parametrize("status", list(BookingStatus))
    def test_save_writes_back_the_changes(
        self, ports: SimpleNamespace, world: SimpleNamespace, status: BookingStatus
    ) -> None:
        booking = self._book(ports, world)
        booking.status = status
        booking.updated_at = NOW + timedelta(minutes=5)

        ports.bookings.save(booking)

        assert ports.bookings.get(booking.id) == booking

    def test_save_of_a_booking_never_added_raises_not_found(self, bookings: BookingRepository) -> None:
        booking = make_booking()

        with pytest.raises(NotFound):
            bookings.save(booking)
        with pytest.raises(NotFound):
            bookings.get(booking.id)

    # --- has_accepted_overlap ----------------------------------------------------------

    @pytest.mark.parametrize(
        ("start_offset", "minutes", "overlaps"),
        [
            (timedelta(minutes=30), 60, True),  # starts inside
            (timedelta(minutes=-30), 60, True),  # ends inside
            (timedelta(minutes=15), 30, True),  # within
            (timedelta(minutes=-60), 180, True),  # covers
            (timedelta(0), 60, True),  # same slot
            (timedelta(minutes=60), 60, False),  # starts as the other ends
            (timedelta(minutes=-60), 60, False),  # ends as the other starts
            (timedelta(hours=5), 60, False),  # later that day
        ],
    )
    def test_has_accepted_overlap_compares_intervals(
        self,
        ports: SimpleNamespace,
        world: SimpleNamespace,
        start_offset: timedelta,
        minutes: int,
        overlaps: bool,
    ) -> None:
        self._book(ports, world, starts_at=TEN, duration_minutes=60, status=BookingStatus.ACCEPTED)
        candidate = self._book(ports, world, starts_at=TEN + start_offset, duration_minutes=minutes)

        assert ports.bookings.has_accepted_overlap(candidate) is overlaps

    @pytest.mark.parametrize("status", [s for s in BookingStatus if s is not BookingStatus.ACCEPTED])
    def test_has_accepted_overlap_ignores_bookings_not_accepted(
        self, ports: SimpleNamespace, world: SimpleNamespace, status: BookingStatus
    ) -> None:
        self._book(ports, world, starts_at=TEN, status=status)
        candidate = self._book(ports, world, starts_at=TEN)

        assert ports.bookings.has_accepted_overlap(candidate) is False

    def test_has_accepted_overlap_ignores_other_experts(self, ports: SimpleNamespace, world: SimpleNamespace) -> None:
        other_expert = store_expert(ports.users, ports.experts)
        store_booking(
            ports.bookings, expert=other_expert, client=world.client, starts_at=TEN, status=BookingStatus.ACCEPTED
        )
        candidate = self._book(ports, world, starts_at=TEN)

        assert ports.bookings.has_accepted_overlap(candidate) is False

    def test_has_accepted_overlap_ignores_the_booking_itself(
        self, ports: SimpleNamespace, world: SimpleNamespace
    ) -> None:
        accepted = self._book(ports, world, starts_at=TEN, status=BookingStatus.ACCEPTED)

        assert ports.bookings.has_accepted_overlap(accepted) is False

    def test_has_accepted_overlap_of_an_unsaved_booking(self, ports: SimpleNamespace, world: SimpleNamespace) -> None:
        self._book(ports, world, starts_at=TEN, status=BookingStatus.ACCEPTED)

        assert ports.bookings.has_accepted_overlap(make_booking(expert=world.expert, starts_at=TEN)) is True

    # --- list_for_user -----------------------------------------------------------------

    def test_list_as_client_is_newest_start_first_then_id(self, ports: SimpleNamespace, world: SimpleNamespace) -> None:
        other_expert = store_expert(ports.users, ports.experts)
        mine = [self._book(ports, world, starts_at=TEN + timedelta(days=d)) for d in (3, 1, 2)]
        # Same start, two experts: the id breaks the tie.
        mine += [store_booking(ports.bookings, expert=other_expert, client=world.client, starts_at=TEN)]
        mine += [self._book(ports, world, starts_at=TEN)]
        store_booking(ports.bookings, expert=world.expert, client=store_user(ports.users), starts_at=TEN)

        page = ports.bookings.list_for_user(
            user_id=world.client.id, as_role="client", status=None, page=PageRequest(1, 10)
        )

        assert list(page.items) == _newest_first(mine)
        assert page.total == 5
        assert page.has_next is False

    def test_list_as_expert_sees_the_bookings_of_their_profile(
        self, ports: SimpleNamespace, world: SimpleNamespace
    ) -> None:
        clients = [store_user(ports.users) for _ in range(3)]
        theirs = [
            store_booking(ports.bookings, expert=world.expert, client=c, starts_at=TEN + timedelta(hours=i))
            for i, c in enumerate(clients)
        ]
        store_booking(ports.bookings, expert=store_expert(ports.users, ports.experts), client=world.client)

        page = ports.bookings.list_for_user(
            user_id=world.expert.owner_id, as_role="expert", status=None, page=PageRequest(1, 10)
        )

        assert list(page.items) == _newest_first(theirs)
        assert page.total == 3

    def test_list_as_the_wrong_role_is_empty(self, ports: SimpleNamespace, world: SimpleNamespace) -> None:
        self._book(ports, world)

        page = ports.bookings.list_for_user(user_id=world.client.id, as_role="expert", status=None, page=PageRequest())

        assert list(page.items) == []
        assert page.total == 0

    def test_list_filters_by_status(self, ports: SimpleNamespace, world: SimpleNamespace) -> None:
        accepted = [
            self._book(ports, world, starts_at=TEN + timedelta(days=d), status=BookingStatus.ACCEPTED) for d in (1, 2)
        ]
        self._book(ports, world, status=BookingStatus.REQUESTED)
        self._book(ports, world, status=BookingStatus.DECLINED)

        page = ports.bookings.list_for_user(
            user_id=world.client.id, as_role="client", status=BookingStatus.ACCEPTED, page=PageRequest()
        )

        assert list(page.items) == _newest_first(accepted)
        assert page.total == 2

    def test_list_pages(self, ports: SimpleNamespace, world: SimpleNamespace) -> None:
        every = _newest_first([self._book(ports, world, starts_at=TEN + timedelta(days=d)) for d in range(5)])

        def page(number: int):
            return ports.bookings.list_for_user(
                user_id=world.client.id, as_role="client", status=None, page=PageRequest(number, 2)
            )

        assert [list(page(n).items) for n in (1, 2, 3)] == [every[0:2], every[2:4], every[4:5]]
        assert [page(n).has_next for n in (1, 2, 3)] == [True, True, False]
        assert {page(n).total for n in (1, 2, 3, 4)} == {5}
        assert list(page(4).items) == []

    def test_list_of_a_stranger_is_empty(self, ports: SimpleNamespace, world: SimpleNamespace) -> None:
        self._book(ports, world)

        page = ports.bookings.list_for_user(user_id=UserId(new_id()), as_role="client", status=None, page=PageRequest())

        assert page.total == 0
        assert page.has_next is False


class TestInMemoryBookingRepository(BookingRepositoryContract):
    @pytest.fixture
    def ports(self) -> SimpleNamespace:
        return memory_store()


@pytest.mark.django_db
class TestDjangoBookingRepository(BookingRepositoryContract):
    @pytest.fixture
    def ports(self) -> SimpleNamespace:
        return django_store()


@pytest.mark.django_db
class TestDjangoBookingQueries:
    """A page costs the count plus the page, whatever its size."""

    @pytest.mark.parametrize("as_role", ["client", "expert"])
    @pytest.mark.parametrize("size", [1, 50])
    def test_list_for_user_is_two_queries_whatever_the_page_size(
        self, as_role: str, size: int, django_assert_num_queries
    ) -> None:
        users, experts, bookings = DjangoUserRepository(), DjangoExpertRepository(), DjangoBookingRepository()
        expert, client = store_expert(users, experts), store_user(users)
        for hours in range(60):
            store_booking(bookings, expert=expert, client=client, starts_at=TEN + timedelta(hours=hours))
        user_id = client.id if as_role == "client" else expert.owner_id

        with django_assert_num_queries(2):
            page = bookings.list_for_user(user_id=user_id, as_role=as_role, status=None, page=PageRequest(1, size))

        assert len(page.items) == size
