"""Typed identifiers.

Ids are UUIDs minted by the domain (``new_id``), so an entity has its identity
before any store sees it; that is what lets an entity move from the relational
store to a key-value store without a change to the services.
"""

from __future__ import annotations

import uuid
from typing import NewType

UserId = NewType("UserId", uuid.UUID)
ExpertId = NewType("ExpertId", uuid.UUID)
BookingId = NewType("BookingId", uuid.UUID)
ReviewId = NewType("ReviewId", uuid.UUID)
UploadId = NewType("UploadId", uuid.UUID)


def new_id() -> uuid.UUID:
    """A fresh random identifier (UUID4)."""
    return uuid.uuid4()
