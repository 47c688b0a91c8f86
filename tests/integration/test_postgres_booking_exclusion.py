"""PostgreSQL's own guard against overlapping accepted bookings: the exclusion constraint of migration 0004.

tests/contract/test_booking_overlap_database.py races two accepts through the
use case on every engine. Here, on PostgreSQL only: the constraint is what
the migration says, and two transactions in flight at once, with no row lock
between them, cannot both commit an overlap: the second waits for the first
and is refused if it commits, goes through if it rolls back. Without the
constraint both commit, so these tests can fail.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection, transaction

from adapters.orm.models import BookingRow
from adapters.orm.repositories import DjangoBookingRepository, DjangoExpertRepository, DjangoUserRepository
from domain.bookings import Booking, BookingStatus
from domain.errors import BookingOverlap
from tests.factories import NOW, store_booking, store_expert, store_user

pytestmark = pytest.mark.postgres_only

migration = importlib.import_module("adapters.orm.migrations.0004_postgres_booking_exclusion")
TEN = NOW.replace(hour=10) + timedelta(days=1)
DEFINITION = (
    "EXCLUDE USING gist (expert_id WITH =, tstzrange(starts_at, ends_at, '[)'::text) WITH &&)"
    " WHERE (((status)::text = 'accepted'::text))"
)


def _constraints() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'experthub_booking'::regclass AND contype = 'x'"
        )
        return dict(cursor.fetchall())


def _run_migration(function: Callable[..., None]) -> None:
    with connection.schema_editor() as editor:
        function(None, editor)


@pytest.fixture
def two_overlapping_requests() -> SimpleNamespace:
    """Two requested bookings of one expert, the second starting half-way through the first."""
    users, experts, bookings = DjangoUserRepository(), DjangoExpertRepository(), DjangoBookingRepository()
    expert = store_expert(users, experts)
    first, second = (
        store_booking(bookings, expert=expert, client=store_user(users), starts_at=at)
        for at in (TEN, TEN + timedelta(minutes=30))
    )
    return SimpleNamespace(bookings=bookings, first=first, second=second)


# --- the constraint ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_migration_made_the_exclusion_constraint_named_for_the_repository() -> None:
    assert _constraints() == {migration.CONSTRAINT: DEFINITION}
    assert "booking_overlap" in migration.CONSTRAINT  # what DjangoBookingRepository maps to BookingOverlap
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'btree_gist'")
        assert cursor.fetchone() == (1,)


@pytest.mark.django_db
def test_the_migration_reverses_and_applies_again() -> None:
    _run_migration(migration.drop_constraint)
    assert _constraints() == {}

    _run_migration(migration.create_constraint)
    assert _constraints() == {migration.CONSTRAINT: DEFINITION}


@pytest.mark.django_db
def test_the_violation_is_sqlstate_23p01_and_becomes_booking_overlap(two_overlapping_requests: SimpleNamespace) -> None:
    requests = two_overlapping_requests
    requests.first.status = requests.second.status = BookingStatus.ACCEPTED
    requests.bookings.save(requests.first)

    with pytest.raises(BookingOverlap) as raised:
        requests.bookings.save(requests.second)

    assert raised.value.__cause__.__cause__.pgcode == "23P01"  # exclusion_violation, under Django's IntegrityError
    assert BookingRow.objects.filter(status="accepted").count() == 1  # and the transaction is still usable


# --- two transactions in flight -----------------------------------------------------------------


def _in_thread(action: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    """Run ``action`` in a thread with its own connection; its return value or exception lands in the list."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(action())
        except BaseException as error:  # the assertions report it
            outcome.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _a_backend_waits_on_a_lock(until: threading.Thread, timeout: float = 5) -> bool:
    """Whether another session of this database waits on a lock before ``until`` ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and until.is_alive():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.02)
    return False


class _Rollback(Exception):
    pass


def _race_in_flight(requests: SimpleNamespace, *, first_commits: bool) -> SimpleNamespace:
    """The first accept is written but not committed when the second is written; then the first ends."""
    first_written, first_may_end = threading.Event(), threading.Event()

    def accept_first() -> Booking:
        with transaction.atomic():
            _accept(requests, requests.first)
            first_written.set()
            assert first_may_end.wait(10)
            if not first_commits:
                raise _Rollback
        return requests.first

    def accept_second() -> Booking:
        assert first_written.wait(10)
        with transaction.atomic():
            return _accept(requests, requests.second)

    first, first_outcome = _in_thread(accept_first)
    second, second_outcome = _in_thread(accept_second)
    waited = _a_backend_waits_on_a_lock(until=second)
    first_may_end.set()
    for thread in (first, second):
        thread.join(timeout=30)
    assert not first.is_alive(), "a transaction hung"
    assert not second.is_alive(), "a transaction hung"
    accepted = set(BookingRow.objects.filter(status="accepted").values_list("id", flat=True))
    return SimpleNamespace(waited=waited, first=first_outcome[0], second=second_outcome[0], accepted=accepted)


def _accept(requests: SimpleNamespace, booking: Booking) -> Booking:
    booking.status = BookingStatus.ACCEPTED  # straight to the store: no application check, no row lock
    requests.bookings.save(booking)
    return booking


@pytest.mark.django_db(transaction=True)
def test_the_second_waits_for_the_first_and_is_refused_when_it_commits(
    two_overlapping_requests: SimpleNamespace,
) -> None:
    race = _race_in_flight(two_overlapping_requests, first_commits=True)

    assert race.waited
    assert isinstance(race.first, Booking)
    assert isinstance(race.second, BookingOverlap)
    assert race.accepted == {two_overlapping_requests.first.id}


@pytest.mark.django_db(transaction=True)
def test_the_second_goes_through_when_the_first_rolls_back(two_overlapping_requests: SimpleNamespace) -> None:
    race = _race_in_flight(two_overlapping_requests, first_commits=False)

    assert race.waited
    assert isinstance(race.first, _Rollback)
    assert isinstance(race.second, Booking)
    assert race.accepted == {two_overlapping_requests.second.id}


@pytest.fixture
def without_the_constraint() -> Iterator[None]:
    _run_migration(migration.drop_constraint)
    yield
    BookingRow.objects.filter(status="accepted").update(status="requested")  # so the constraint can come back
    _run_migration(migration.create_constraint)


@pytest.mark.django_db(transaction=True)
def test_without_the_constraint_both_commit(
    without_the_constraint: None, two_overlapping_requests: SimpleNamespace
) -> None:
    race = _race_in_flight(two_overlapping_requests, first_commits=True)

    assert not race.waited
    assert race.accepted == {two_overlapping_requests.first.id, two_overlapping_requests.second.id}
