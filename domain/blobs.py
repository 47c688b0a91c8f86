"""What the blob store port takes and gives back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.errors import UploadExpired, UploadUsed
from domain.ids import UploadId, UserId

AVATAR_CONTENT_TYPES = ("image/jpeg", "image/png", "image/webp")
AVATAR_MAX_BYTES = 5 * 1024 * 1024
UPLOAD_EXPIRY_SECONDS = 15 * 60
# After its form expires, an upload that was sent in time may still be confirmed for this
# long (a slow connection finishing the last seconds' upload); never after.
UPLOAD_CONFIRM_GRACE_SECONDS = 15 * 60
DOWNLOAD_EXPIRY_SECONDS = 60 * 60
# Uploads land here, each under a key of its own, and leave for their final key on
# confirmation: nothing a form can write is ever served. (S3: a lifecycle rule sweeps it.)
STAGING_PREFIX = "staging/"


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


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What decoding an image found: its real type (whatever was declared) and its size in pixels."""

    content_type: str
    width: int
    height: int


@dataclass(slots=True)
class Upload:
    """One presigned upload, from its form to its confirmation, which happens at most once.

    The form writes ``staging_key`` only; confirmation checks what is there and moves
    it to ``final_key``, which no form can write. ``content_type`` and ``size`` are
    what the client declared, to hold the stored object to.
    """

    id: UploadId
    owner_id: UserId
    staging_key: str
    final_key: str
    content_type: str
    size: int
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None

    @property
    def confirm_by(self) -> datetime:
        return self.expires_at + timedelta(seconds=UPLOAD_CONFIRM_GRACE_SECONDS)

    def check_confirmable(self, now: datetime) -> None:
        """Raise UploadUsed once confirmed or refused, UploadExpired once past ``confirm_by``."""
        if self.used_at is not None:
            raise UploadUsed.on_field("upload_id", "This upload was already confirmed or refused; start a new one.")
        if now >= self.confirm_by:
            raise UploadExpired.on_field("upload_id", "This upload has expired; start a new one.")
