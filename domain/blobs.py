"""What the blob store port takes and gives back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

AVATAR_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp")
AVATAR_MAX_BYTES = 5 * 1024 * 1024
UPLOAD_EXPIRY_SECONDS = 15 * 60
DOWNLOAD_EXPIRY_SECONDS = 60 * 60


@dataclass(frozen=True, slots=True)
class UploadTicket:
    """A presigned direct upload: POST a multipart form with ``fields`` plus ``file`` to ``url``."""

    key: str
    url: str
    fields: dict[str, str]
    expires_at: datetime
    max_bytes: int
    content_types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What the store knows of a stored object."""

    key: str
    size: int
    content_type: str
