"""The UploadRepository port on the Django ORM: one row per upload form handed out."""

from __future__ import annotations

from datetime import datetime

from adapters.orm.models import UploadRow
from adapters.orm.repositories import _driver_errors, _get_row
from domain.blobs import Upload
from domain.ids import UploadId, UserId

_FIELDS = ("staging_key", "final_key", "content_type", "size", "created_at", "expires_at", "used_at")


class DjangoUploadRepository:
    """Implements UploadRepository."""

    @_driver_errors()
    def add(self, upload: Upload) -> None:
        UploadRow.objects.create(
            id=upload.id, owner_id=upload.owner_id, **{name: getattr(upload, name) for name in _FIELDS}
        )

    @_driver_errors()
    def get(self, upload_id: UploadId) -> Upload:
        return _entity(_get_row(UploadRow.objects.all(), "Upload", id=upload_id))

    @_driver_errors()
    def mark_used(self, upload_id: UploadId, *, at: datetime) -> bool:
        # One conditional UPDATE: the database decides which of two racing confirmations wins.
        if UploadRow.objects.filter(id=upload_id, used_at__isnull=True).update(used_at=at):
            return True
        _get_row(UploadRow.objects.all(), "Upload", id=upload_id)  # NotFound for an unknown id
        return False

    @_driver_errors()
    def prune(self, *, before: datetime) -> int:
        deleted, _ = UploadRow.objects.filter(expires_at__lt=before).delete()
        return deleted


def _entity(row: UploadRow) -> Upload:
    return Upload(id=UploadId(row.id), owner_id=UserId(row.owner_id), **{name: getattr(row, name) for name in _FIELDS})
