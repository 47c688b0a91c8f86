"""Accounts: registration and look-up."""

from __future__ import annotations

from domain.errors import InvalidInput
from domain.events import AccountRegistered
from domain.experts import NAME_MAX, validate_text
from domain.ids import UserId, new_id
from domain.ports import Clock, EventPublisher, UnitOfWork, UserRepository
from domain.users import Role, User, normalise_email

SELF_SERVICE_ROLES = (Role.CLIENT, Role.EXPERT)


def account_register(
    *,
    users: UserRepository,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    email: str,
    password: str,
    name: str,
    role: Role,
) -> User:
    """Create a client or expert account. Staff accounts are made by operators, not here."""
    if role not in SELF_SERVICE_ROLES:
        raise InvalidInput.on_field("role", "Choose 'client' or 'expert'.")
    user = User(
        id=UserId(new_id()),
        email=normalise_email(email),
        role=role,
        name=validate_text("name", name, max_length=NAME_MAX, required=True),
        signed_up_at=clock.now(),
    )
    with uow.atomic():
        users.add(user, password=password)
        events.publish(AccountRegistered(user_id=user.id))
    return user


def user_get(*, users: UserRepository, user_id: UserId) -> User:
    return users.get(user_id)
