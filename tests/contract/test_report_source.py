"""The ReportSource contract, run against every adapter: same data, same answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from adapters.memory.reports import InMemoryReportSource
from adapters.orm.reports import DjangoReportSource
from domain.bookings import BookingStatus
from domain.experts import ExpertStatus
from domain.money import Money
from domain.users import Role
from tests.contract.stores import django_store, memory_store
from tests.factories import store_booking, store_expert, store_user

START = datetime(2030, 3, 1, tzinfo=UTC)
END = START + timedelta(days=1)
TICK = timedelta(microseconds=1)
# Just inside and just outside the half-open range [START, END).
INSIDE = (START, START + timedelta(hours=12), END - TICK)
OUTSIDE = (START - TICK, END, END + timedelta(days=3))


class ReportSourceContract:
    """Subclasses provide ``ports``: users, experts, bookings and the report source over one store."""

    @pytest.fixture
    def parties(self, ports: SimpleNamespace) -> SimpleNamespace:
        """An expert and a client who signed up long before the range."""
        return SimpleNamespace(
            expert=store_expert(ports.users, ports.experts), client=store_user(ports.users, role=Role.CLIENT)
        )

    def book(self, ports: SimpleNamespace, parties: SimpleNamespace, created_at: datetime, **values: object):  # type: ignore[no-untyped-def]
        # Distinct starts, so accepted bookings never overlap in a store that forbids it.
        self._slot = getattr(self, "_slot", 0) + 1
        starts_at = datetime(2030, 6, 1, tzinfo=UTC) + timedelta(hours=2 * self._slot)
        return store_booking(
            ports.bookings,
            expert=parties.expert,
            client=parties.client,
            created_at=created_at,
            updated_at=created_at,
            starts_at=starts_at,
            **values,
        )

    def test_signups_by_role_counts_the_half_open_range(self, ports: SimpleNamespace) -> None:
        for moment in INSIDE:
            store_user(ports.users, role=Role.CLIENT, signed_up_at=moment)
        store_user(ports.users, role=Role.EXPERT, signed_up_at=START + timedelta(hours=1))
        store_user(ports.users, role=Role.STAFF, signed_up_at=START + timedelta(hours=2))
        for moment in OUTSIDE:
            store_user(ports.users, role=Role.EXPERT, signed_up_at=moment)

        assert ports.source.signups_by_role(START, END) == {Role.CLIENT: 3, Role.EXPERT: 1, Role.STAFF: 1}

    def test_an_empty_range_has_empty_figures(self, ports: SimpleNamespace, parties: SimpleNamespace) -> None:
        self.book(ports, parties, START - TICK)
        source = ports.source

        assert source.signups_by_role(START, END) == {}
        assert (source.experts_created(START, END), source.experts_published(START, END)) == (0, 0)
        assert source.bookings_by_status(START, END) == {}
        assert source.gross_booking_value(START, END) == {}

    def test_experts_created_and_first_published_in_the_range(self, ports: SimpleNamespace) -> None:
        store_expert(ports.users, ports.experts, created_at=START, status=ExpertStatus.DRAFT, published_at=None)
        store_expert(ports.users, ports.experts, created_at=END - TICK, published_at=END - TICK)
        store_expert(
            ports.users,
            ports.experts,
            created_at=START - timedelta(days=2),
            published_at=START + timedelta(hours=3),
            status=ExpertStatus.SUSPENDED,
        )
        store_expert(ports.users, ports.experts, created_at=END, published_at=END)

        assert ports.source.experts_created(START, END) == 2
        assert ports.source.experts_published(START, END) == 2

    def test_bookings_created_in_the_range_by_current_status(
        self, ports: SimpleNamespace, parties: SimpleNamespace
    ) -> None:
        for moment, status in zip(
            INSIDE, [BookingStatus.REQUESTED, BookingStatus.ACCEPTED, BookingStatus.ACCEPTED], strict=True
        ):
            self.book(ports, parties, moment, status=status)
        self.book(ports, parties, START, status=BookingStatus.CANCELLED)
        for moment in OUTSIDE:
            self.book(ports, parties, moment, status=BookingStatus.COMPLETED)

        assert ports.source.bookings_by_status(START, END) == {
            BookingStatus.REQUESTED: 1,
            BookingStatus.ACCEPTED: 2,
            BookingStatus.CANCELLED: 1,
        }

    def test_gross_value_per_currency_leaves_out_declined_and_cancelled(
        self, ports: SimpleNamespace, parties: SimpleNamespace
    ) -> None:
        self.book(ports, parties, START, price=Money(12_000, "EUR"))
        self.book(ports, parties, END - TICK, price=Money(3_000, "EUR"), status=BookingStatus.COMPLETED)
        self.book(ports, parties, START, price=Money(500, "JPY"), status=BookingStatus.ACCEPTED)
        self.book(ports, parties, START, price=Money(7_000, "USD"), status=BookingStatus.DECLINED)
        self.book(ports, parties, START, price=Money(9_000, "EUR"), status=BookingStatus.CANCELLED)
        self.book(ports, parties, END, price=Money(1_000, "EUR"))

        assert ports.source.gross_booking_value(START, END) == {"EUR": 15_000, "JPY": 500}

    def test_daily_counts_over_uneven_ranges(self, ports: SimpleNamespace, parties: SimpleNamespace) -> None:
        # A 23-hour and a 25-hour "day", as a time zone with daylight saving has them.
        boundaries = [START, START + timedelta(hours=23), START + timedelta(hours=48)]
        for moment in (START, START + timedelta(hours=22, minutes=59), START + timedelta(hours=23)):
            self.book(ports, parties, moment)
            store_user(ports.users, signed_up_at=moment)
        self.book(ports, parties, START + timedelta(hours=48))
        store_user(ports.users, signed_up_at=START + timedelta(hours=47, minutes=59))

        assert ports.source.daily_counts(boundaries) == [(2, 2), (1, 2)]

    def test_daily_counts_of_no_range_is_empty(self, ports: SimpleNamespace) -> None:
        assert ports.source.daily_counts([START]) == []


def _memory_ports() -> SimpleNamespace:
    store = memory_store()
    store.source = InMemoryReportSource(store.database)
    return store


class TestInMemoryReportSource(ReportSourceContract):
    @pytest.fixture
    def ports(self) -> SimpleNamespace:
        return _memory_ports()


@pytest.mark.django_db
class TestDjangoReportSource(ReportSourceContract):
    @pytest.fixture
    def ports(self) -> SimpleNamespace:
        store = django_store()
        store.source = DjangoReportSource()
        return store


@pytest.mark.django_db
class TestDjangoReportQueries:
    """Every figure is one query; the trend is two, however many days it spans."""

    @pytest.mark.parametrize(
        "figure",
        ["signups_by_role", "experts_created", "experts_published", "bookings_by_status", "gross_booking_value"],
    )
    def test_each_figure_is_one_query(self, figure: str, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
        with django_assert_num_queries(1):
            getattr(DjangoReportSource(), figure)(START, END)

    @pytest.mark.parametrize("days", [1, 14, 60])
    def test_the_trend_is_two_queries(self, days: int, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
        boundaries = [START + timedelta(days=i) for i in range(days + 1)]

        with django_assert_num_queries(2):
            assert DjangoReportSource().daily_counts(boundaries) == [(0, 0)] * days
