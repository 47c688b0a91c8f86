from __future__ import annotations

import pytest

from domain.errors import EmailTaken, InvalidInput
from domain.events import AccountRegistered
from domain.users import Role
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
