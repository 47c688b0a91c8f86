"""Accounts as the domain sees them: an id, an email, a role, a signup time."""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvalidInput
from domain.ids import UserId

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Role(enum.StrEnum):
    CLIENT = "client"
    EXPERT = "expert"
    STAFF = "staff"


def email_key(raw: str) -> str:
    """The one form of an address under which its mailbox is stored and looked up.

    NFKC then case folding (and NFKC again, as folding can undo it: Unicode's
    NFKC_Casefold): "Ada@Example.COM", "ada@example.com", the same in fullwidth
    letters, or with a long s or Kelvin sign standing for s or k, are one key, so they
    can only ever be one account. No validation: a look-up of something that is not
    an address simply finds nothing.
    """
    folded = unicodedata.normalize("NFKC", raw.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)


def normalise_email(raw: str) -> str:
    """email_key of a valid address; InvalidInput on the email field otherwise."""
    email = email_key(raw)
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
