from __future__ import annotations

import pytest

from domain.errors import EmailTaken, InvalidInput
from domain.events import AccountRegistered
from domain.users import Role, email_key, normalise_email
from tests.unit.conftest import World


def test_register_normalises_email_and_publishes_after_commit(world: World) -> None:
    user = world.account_register(email="  Ada@Example.COM ", password="pw", name="Ada", role=Role.EXPERT)
    assert user.email == "ada@example.com"
    assert world.users.get_by_email("ada@example.com").id == user.id
    assert world.events.published == [AccountRegistered(user_id=user.id)]


def test_email_is_unique_case_insensitively(world: World) -> None:
    world.account_register(email="ada@example.com", password="pw", name="Ada", role=Role.CLIENT)
    with pytest.raises(EmailTaken):
        world.account_register(email="ADA@example.com", password="pw", name="Ada 2", role=Role.CLIENT)
    assert len(world.events.published) == 1


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"role": Role.STAFF}, "role"),
        ({"email": "not-an-email"}, "email"),
        ({"name": "  "}, "name"),
    ],
)
def test_bad_registrations_are_refused(world: World, values: dict[str, object], field: str) -> None:
    data = {"email": "ada@example.com", "password": "pw", "name": "Ada", "role": Role.CLIENT, **values}
    with pytest.raises(InvalidInput) as error:
        world.account_register(**data)
    assert field in error.value.fields
    assert world.events.published == []


@pytest.mark.parametrize(
    "typed",
    [
        "Ada@Example.COM",
        "  ada@example.com\t",
        "\uff41\uff44\uff41@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # fullwidth letters
        "\uff21DA@example.com",
    ],
)
def test_every_form_of_a_mailbox_has_one_key(typed: str) -> None:
    assert email_key(typed) == "ada@example.com"
    assert normalise_email(typed) == "ada@example.com"


@pytest.mark.parametrize(
    ("typed", "key"),
    [("\u017fam@example.com", "sam@example.com"), ("\u212aate@example.com", "kate@example.com")],
)
def test_letters_that_validators_take_for_ascii_fold_to_them(typed: str, key: str) -> None:
    assert email_key(typed) == key


def test_a_look_alike_registration_is_email_taken(world: World) -> None:
    world.account_register(email="sam@example.com", password="pw", name="Sam", role=Role.CLIENT)
    with pytest.raises(EmailTaken):
        world.account_register(email="\u017fam@example.com", password="pw", name="Impostor", role=Role.CLIENT)
