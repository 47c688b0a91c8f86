"""One mailbox, one account, in the database: the user row, the admin's login, migration 0011."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from adapters.orm.models import User
from domain.users import email_key

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-unusual-passphrase"
FULLWIDTH_ADA = "\uff41\uff44\uff41@example.com"  # "ada" in fullwidth letters
LONG_S_SAM = "\u017fam@example.com"  # "sam" with a long s

migration = importlib.import_module("adapters.orm.migrations.0011_user_email_key")


def raw_rows(*emails: str, active: bool = True) -> list[User]:
    """Rows written around save(), as data from before migration 0011 (or raw SQL) would be."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    rows = [
        User(email=email, name=f"User {n}", is_active=active, date_joined=start + timedelta(days=n))
        for n, email in enumerate(emails)
    ]
    return User.objects.bulk_create(rows)


class TestUserRow:
    def test_save_stores_the_email_key(self) -> None:
        row = User.objects.create_user(email=" \uff27race@Example.COM ", password=PASSWORD, name="Grace")

        row.refresh_from_db()
        assert row.email == "grace@example.com"

    @pytest.mark.parametrize("typed", ["SAM@example.com", LONG_S_SAM])
    def test_a_second_row_of_the_same_mailbox_is_refused_by_the_database(self, typed: str) -> None:
        User.objects.create_user(email="sam@example.com", password=PASSWORD, name="Sam")

        with pytest.raises(IntegrityError), transaction.atomic():
            User.objects.create_user(email=typed, password=PASSWORD, name="Impostor")

    def test_a_case_variant_written_around_save_is_refused_by_the_database(self) -> None:
        User.objects.create_user(email="sam@example.com", password=PASSWORD, name="Sam")
        [other] = raw_rows("other@example.com")

        with pytest.raises(IntegrityError), transaction.atomic():
            User.objects.filter(id=other.id).update(email="Sam@Example.com")


class TestLogin:
    @pytest.mark.parametrize("typed", ["Staff@ExpertHub.local", " STAFF@experthub.local", "\uff53taff@experthub.local"])
    def test_the_admin_login_finds_the_account_whatever_form_was_typed(self, client: Client, typed: str) -> None:
        User.objects.create_user(
            email="staff@experthub.local", password=PASSWORD, name="S", role="staff", is_staff=True
        )

        response = client.post(reverse("admin:login"), {"username": typed, "password": PASSWORD})

        assert response.status_code == 302, response.content
        assert client.get(reverse("admin:index")).status_code == 200

    def test_the_admin_login_still_refuses_a_wrong_password(self, client: Client) -> None:
        User.objects.create_user(
            email="staff@experthub.local", password=PASSWORD, name="S", role="staff", is_staff=True
        )

        response = client.post(reverse("admin:login"), {"username": "STAFF@experthub.local", "password": "wrong"})

        assert response.status_code == 200  # the form again, with its error
        assert client.get(reverse("admin:index")).status_code == 302


class TestMigration:
    def fold(self) -> None:
        migration.fold_emails(apps, SimpleNamespace(connection=connection))

    def test_every_address_becomes_its_email_key(self) -> None:
        bob, kate = raw_rows("Bob@Example.COM", "\u212aate@example.com")

        self.fold()

        assert User.objects.get(id=bob.id).email == "bob@example.com"
        assert User.objects.get(id=kate.id).email == "kate@example.com"

    def test_a_shared_mailbox_keeps_its_first_account_and_parks_the_others(self) -> None:
        # The older row is the non-canonical one: the keeper takes the address the newer row held.
        first, second, third = raw_rows(FULLWIDTH_ADA, "ada@example.com", "\uff21da@example.com")

        self.fold()

        kept, parked = User.objects.get(id=first.id), [User.objects.get(id=r.id) for r in (second, third)]
        assert (kept.email, kept.is_active) == ("ada@example.com", True)
        assert [(p.email, p.is_active) for p in parked] == [
            (migration.parked_email(second.id), False),
            (migration.parked_email(third.id), False),
        ]
        assert {email_key(p.email) for p in parked} == {p.email for p in parked}

    def test_an_active_account_is_kept_before_an_older_inactive_one(self) -> None:
        [dormant] = raw_rows("\uff4dia@example.com", active=False)
        [used] = raw_rows("mia@example.com")
        User.objects.filter(id=used.id).update(date_joined=dormant.date_joined + timedelta(days=1))

        self.fold()

        assert User.objects.get(id=used.id).email == "mia@example.com"
        assert User.objects.get(id=dormant.id).email == migration.parked_email(dormant.id)

    def test_it_is_idempotent(self) -> None:
        raw_rows("Zed@example.com", "\uff5aed@example.com")
        self.fold()
        before = sorted(User.objects.values_list("id", "email", "is_active"))

        self.fold()

        assert sorted(User.objects.values_list("id", "email", "is_active")) == before


def test_parked_addresses_are_valid_and_deliver_nowhere() -> None:
    address = migration.parked_email(User(email="x@example.com").id)

    assert address.endswith("@duplicates.invalid")
    assert email_key(address) == address
