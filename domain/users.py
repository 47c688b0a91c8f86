"""Accounts as the domain sees them: an id, an email, a role, a signup time."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvalidInput
from domain.ids import UserId

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Role(enum.StrEnum):
    CLIENT = "client"
    EXPERT = "expert"
    STAFF = "staff"


def normalise_email(raw: str) -> str:
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidInput.on_field("email", "Enter a valid email address.")
    return email


@dataclass(slots=True)
class User:
    id: UserId
    email: str
    role: Role
    name: str
    signed_up_at: datetime
    is_active: bool = True

    @property
    def is_staff(self) -> bool:
        return self.role is Role.STAFF
