"""The UserRepository contract, run against every adapter."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from adapters.memory.repositories import InMemoryUserRepository
from adapters.memory.store import MemoryDatabase
from adapters.orm.models import User as UserRow
from adapters.orm.repositories import DjangoUserRepository
from domain.errors import EmailTaken, NotFound, PortError
from domain.ids import UserId, new_id
from domain.ports import UserRepository
from domain.users import Role
from tests.factories import make_user, store_user

FULLWIDTH_GRACE = "\uff47\uff52\uff41\uff43\uff45@example.com"


class UserRepositoryContract:
    """Subclasses provide the ``users`` fixture."""

    def test_add_then_get_round_trips_every_field(self, users: UserRepository) -> None:
        signed_up = datetime(2029, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
        user = make_user(role=Role.EXPERT, name="Zoë Ünicode", signed_up_at=signed_up, is_active=False)
        users.add(user, password="s3cret-pass")

        stored = users.get(user.id)

        assert stored == user
        assert stored.role is Role.EXPERT
        assert stored.signed_up_at.utcoffset() == timedelta(0)

    @pytest.mark.parametrize("role", list(Role))
    def test_every_role_round_trips(self, users: UserRepository, role: Role) -> None:
        user = store_user(users, role=role)

        assert users.get(user.id).role is role

    def test_get_unknown_raises_not_found(self, users: UserRepository) -> None:
        with pytest.raises(NotFound):
            users.get(UserId(new_id()))

    def test_get_by_email(self, users: UserRepository) -> None:
        store_user(users)
        user = store_user(users, email="grace@example.com")

        assert users.get_by_email("grace@example.com") == user

    def test_get_by_unknown_email_raises_not_found(self, users: UserRepository) -> None:
        store_user(users)

        with pytest.raises(NotFound):
            users.get_by_email("nobody@example.com")

    def test_add_with_a_taken_email_raises_email_taken_on_the_email_field(self, users: UserRepository) -> None:
        first = store_user(users, email="taken@example.com")
        second = make_user(email="taken@example.com")

        with pytest.raises(EmailTaken) as raised:
            users.add(second, password="another-pass")

        assert "email" in raised.value.fields
        assert users.get_by_email("taken@example.com") == first
        with pytest.raises(NotFound):
            users.get(second.id)

    @pytest.mark.parametrize(
        "typed", ["Grace@Example.COM", " grace@example.com ", FULLWIDTH_GRACE, "GRACE@EXAMPLE.COM"]
    )
    def test_get_by_email_finds_any_case_or_compatibility_form(self, users: UserRepository, typed: str) -> None:
        user = store_user(users, email="grace@example.com")

        assert users.get_by_email(typed) == user

    @pytest.mark.parametrize("typed", ["SAM@example.com", "\u017fam@example.com", "\uff53am@example.com"])
    def test_one_mailbox_backs_one_account(self, users: UserRepository, typed: str) -> None:
        first = store_user(users, email="sam@example.com")

        with pytest.raises(EmailTaken):
            users.add(make_user(email=typed), password="another-pass")

        assert users.get_by_email("sam@example.com") == first

    def test_add_stores_the_email_key(self, users: UserRepository) -> None:
        user = make_user(email="Kelvin.\u212aate@Example.com")
        users.add(user, password="s3cret-pass")

        assert users.get(user.id).email == "kelvin.kate@example.com"

    def test_get_by_something_that_is_not_an_address_raises_not_found(self, users: UserRepository) -> None:
        store_user(users)

        with pytest.raises(NotFound):
            users.get_by_email("no at sign")

    def test_get_many_returns_the_existing_ones_by_id(self, users: UserRepository) -> None:
        alice, bob, _carol = (store_user(users) for _ in range(3))
        missing = UserId(new_id())

        found = users.get_many([bob.id, missing, alice.id])

        assert found == {alice.id: alice, bob.id: bob}

    def test_get_many_takes_any_iterable(self, users: UserRepository) -> None:
        alice = store_user(users)

        assert users.get_many(i for i in [alice.id]) == {alice.id: alice}

    def test_get_many_of_nothing_is_empty(self, users: UserRepository) -> None:
        store_user(users)

        assert users.get_many([]) == {}


class TestInMemoryUserRepository(UserRepositoryContract):
    @pytest.fixture
    def users(self) -> UserRepository:
        return InMemoryUserRepository(MemoryDatabase())


@pytest.mark.django_db
class TestDjangoUserRepository(UserRepositoryContract):
    @pytest.fixture
    def users(self) -> UserRepository:
        return DjangoUserRepository()


@pytest.mark.django_db
class TestDjangoUserRows:
    """What only the ORM adapter promises: a real auth user underneath."""

    def test_password_is_hashed_and_checks(self) -> None:
        user = store_user(DjangoUserRepository())

        row = UserRow.objects.get(id=user.id)

        assert row.password != "correct-horse-battery"
        assert row.check_password("correct-horse-battery")

    @pytest.mark.parametrize(("role", "is_staff"), [(Role.STAFF, True), (Role.CLIENT, False), (Role.EXPERT, False)])
    def test_only_staff_may_log_into_the_admin(self, role: Role, is_staff: bool) -> None:
        user = store_user(DjangoUserRepository(), role=role)

        assert UserRow.objects.get(id=user.id).is_staff is is_staff

    def test_email_taken_leaves_the_enclosing_transaction_usable(self) -> None:
        users = DjangoUserRepository()
        store_user(users, email="taken@example.com")

        with pytest.raises(EmailTaken):
            store_user(users, email="taken@example.com")

        assert store_user(users).email.endswith("@example.com")

    @pytest.mark.parametrize("size", [1, 50])
    def test_get_many_is_one_query_whatever_the_size(self, size: int, django_assert_num_queries) -> None:
        users = DjangoUserRepository()
        ids = [store_user(users).id for _ in range(size)]

        with django_assert_num_queries(1):
            assert len(users.get_many(ids)) == size


@pytest.fixture
def locked_sqlite_database() -> Iterator[None]:
    """Another process holds SQLite's write lock, and we wait for it only briefly."""
    if connection.vendor != "sqlite" or connection.is_in_memory_db():
        pytest.skip("needs a SQLite database file")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield
    other.rollback()
    other.close()
    connection.close()  # the next connection gets the configured busy timeout back


@pytest.mark.sqlite_only
@pytest.mark.django_db(transaction=True)
def test_a_locked_database_is_a_port_error(locked_sqlite_database: None) -> None:
    with pytest.raises(PortError) as raised:
        DjangoUserRepository().add(make_user(), password="pw-123456")

    assert "locked" in str(raised.value.__cause__)
