"""The UnitOfWork contract, run against every adapter, with the repositories of the same store."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from domain.bookings import BookingStatus
from domain.errors import EmailTaken, NotFound
from domain.ports import UnitOfWork
from tests.contract.stores import django_store, memory_store
from tests.factories import make_booking, make_expert, make_user, store_booking, store_expert, store_user


class Boom(Exception):
    """An error a use case did not expect."""


def _in_block(uow: UnitOfWork, work: Callable[[], object], *, then_fail: bool = False) -> None:
    """``work`` inside one block; ``then_fail`` raises Boom after it, inside the block."""
    with uow.atomic():
        work()
        if then_fail:
            raise Boom


def _new_rows() -> SimpleNamespace:
    """One new entity for each repository, consistent with each other."""
    owner, client = make_user(), make_user()
    expert = make_expert(owner_id=owner.id)
    booking = make_booking(expert=expert, client_id=client.id)
    return SimpleNamespace(owner=owner, client=client, expert=expert, booking=booking)


class UnitOfWorkContract:
    """Subclasses provide ``ports``: uow, users, experts and bookings over one store."""

    def _add_everywhere(self, ports: SimpleNamespace, rows: SimpleNamespace) -> None:
        ports.users.add(rows.owner, password="pw-123456")
        ports.users.add(rows.client, password="pw-123456")
        ports.experts.add(rows.expert)
        ports.bookings.add(rows.booking)

    def _assert_nothing_written(self, ports: SimpleNamespace, rows: SimpleNamespace) -> None:
        for get, entity_id in [
            (ports.users.get, rows.owner.id),
            (ports.users.get, rows.client.id),
            (ports.experts.get, rows.expert.id),
            (ports.bookings.get, rows.booking.id),
        ]:
            with pytest.raises(NotFound):
                get(entity_id)

    # --- commit and rollback ---------------------------------------------------------

    def test_a_block_commits_what_it_writes(self, ports: SimpleNamespace) -> None:
        rows = _new_rows()

        _in_block(ports.uow, lambda: self._add_everywhere(ports, rows))

        assert ports.users.get(rows.client.id) == rows.client
        assert ports.experts.get(rows.expert.id) == rows.expert
        assert ports.bookings.get(rows.booking.id) == rows.booking

    def test_an_exception_rolls_back_every_repository_and_propagates(self, ports: SimpleNamespace) -> None:
        rows = _new_rows()

        with pytest.raises(Boom):
            _in_block(ports.uow, lambda: self._add_everywhere(ports, rows), then_fail=True)

        self._assert_nothing_written(ports, rows)

    def test_a_rollback_restores_changed_rows(self, ports: SimpleNamespace) -> None:
        expert = store_expert(ports.users, ports.experts)
        booking = store_booking(ports.bookings, expert=expert, client=store_user(ports.users))
        booking.status = BookingStatus.DECLINED

        with pytest.raises(Boom):
            _in_block(ports.uow, lambda: ports.bookings.save(booking), then_fail=True)

        assert ports.bookings.get(booking.id).status is BookingStatus.REQUESTED

    def test_a_domain_error_from_a_repository_rolls_back_the_earlier_writes(self, ports: SimpleNamespace) -> None:
        taken = store_user(ports.users)
        newcomer, duplicate = make_user(), make_user(email=taken.email)

        def add_both() -> None:
            ports.users.add(newcomer, password="pw-123456")
            ports.users.add(duplicate, password="pw-123456")

        with pytest.raises(EmailTaken):
            _in_block(ports.uow, add_both)

        with pytest.raises(NotFound):
            ports.users.get(newcomer.id)

    def test_a_block_after_a_rollback_commits_normally(self, ports: SimpleNamespace) -> None:
        user = make_user()
        with pytest.raises(Boom):
            _in_block(ports.uow, lambda: None, then_fail=True)

        _in_block(ports.uow, lambda: ports.users.add(user, password="pw-123456"))

        assert ports.users.get(user.id) == user

    # --- nesting -------------------------------------------------------------------------

    def test_a_nested_block_commits_with_the_outer_one(self, ports: SimpleNamespace) -> None:
        with ports.uow.atomic():
            outer = store_user(ports.users)
            with ports.uow.atomic():
                inner = store_user(ports.users)

        assert ports.users.get_many([outer.id, inner.id]) == {outer.id: outer, inner.id: inner}

    def test_a_nested_block_rolls_back_with_the_outer_one(self, ports: SimpleNamespace) -> None:
        rows = _new_rows()

        def inner() -> None:
            _in_block(ports.uow, lambda: self._add_everywhere(ports, rows))

        with pytest.raises(Boom):
            _in_block(ports.uow, inner, then_fail=True)

        self._assert_nothing_written(ports, rows)

    def test_a_failed_nested_block_is_undone_alone_like_a_savepoint(self, ports: SimpleNamespace) -> None:
        ran: list[str] = []
        with ports.uow.atomic():
            kept = store_user(ports.users)
            ports.uow.on_commit(lambda: ran.append("outer"))
            dropped = make_user()

            def failing_inner_block() -> None:
                ports.users.add(dropped, password="pw-123456")
                ports.uow.on_commit(lambda: ran.append("inner"))

            with pytest.raises(Boom):
                _in_block(ports.uow, failing_inner_block, then_fail=True)

        assert ports.users.get(kept.id) == kept
        with pytest.raises(NotFound):
            ports.users.get(dropped.id)
        assert ran == ["outer"]

    # --- on_commit -------------------------------------------------------------------------

    def test_on_commit_runs_after_the_commit(self, ports: SimpleNamespace) -> None:
        seen: list[object] = []

        with ports.uow.atomic():
            user = store_user(ports.users)
            # The callback reads the store: what it sees is committed.
            ports.uow.on_commit(lambda: seen.append(ports.users.get(user.id)))
            assert seen == []

        assert seen == [user]

    def test_on_commit_never_runs_after_a_rollback(self, ports: SimpleNamespace) -> None:
        seen: list[str] = []

        with pytest.raises(Boom):
            _in_block(ports.uow, lambda: ports.uow.on_commit(lambda: seen.append("rolled back")), then_fail=True)
        _in_block(ports.uow, lambda: ports.uow.on_commit(lambda: seen.append("committed")))

        assert seen == ["committed"]

    def test_on_commit_in_a_nested_block_waits_for_the_outermost_commit(self, ports: SimpleNamespace) -> None:
        seen: list[str] = []

        with ports.uow.atomic():
            with ports.uow.atomic():
                ports.uow.on_commit(lambda: seen.append("inner"))
            assert seen == []

        assert seen == ["inner"]

    def test_on_commit_in_a_nested_block_never_runs_if_the_outer_rolls_back(self, ports: SimpleNamespace) -> None:
        seen: list[str] = []

        def inner() -> None:
            _in_block(ports.uow, lambda: ports.uow.on_commit(lambda: seen.append("inner")))

        with pytest.raises(Boom):
            _in_block(ports.uow, inner, then_fail=True)

        assert seen == []

    def test_on_commit_callbacks_run_in_the_order_registered(self, ports: SimpleNamespace) -> None:
        seen: list[int] = []

        with ports.uow.atomic():
            for n in range(3):
                ports.uow.on_commit(lambda n=n: seen.append(n))

        assert seen == [0, 1, 2]

    def test_a_failing_callback_is_not_raised_and_the_others_still_run(self, ports: SimpleNamespace) -> None:
        seen: list[str] = []

        def broker_down() -> None:
            raise Boom

        with ports.uow.atomic():
            kept = store_user(ports.users)
            ports.uow.on_commit(broker_down)
            ports.uow.on_commit(lambda: seen.append("after"))

        assert seen == ["after"]
        assert ports.users.get(kept.id) == kept

    def test_on_commit_outside_a_block_runs_at_once(self, ports: SimpleNamespace) -> None:
        seen: list[str] = []

        ports.uow.on_commit(lambda: seen.append("now"))

        assert seen == ["now"]


class TestMemoryUnitOfWork(UnitOfWorkContract):
    @pytest.fixture
    def ports(self) -> SimpleNamespace:
        return memory_store()


# Real transactions: pytest-django's plain ``db`` wraps each test in one that
# never commits, so on_commit would never fire.
@pytest.mark.django_db(transaction=True)
class TestDjangoUnitOfWork(UnitOfWorkContract):
    @pytest.fixture
    def ports(self) -> SimpleNamespace:
        return django_store()
