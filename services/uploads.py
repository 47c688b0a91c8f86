"""Direct uploads, whatever they are for: a presigned form to a staging key, then one confirmation.

The form writes only its own staging key, which is never served. Confirmation
happens at most once per upload (UploadRepository.mark_used), holds the stored
object to what the client declared (size and type, from the store, not the
client) and to what its bytes decode as (ImageProbe), deletes what fails, and
moves what passes to the final key, which no form can name. A form sent again
after that (S3 cannot refuse it) writes only to a staging key that is never
confirmed again; the store's sweep removes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from domain.blobs import STAGING_PREFIX, UPLOAD_EXPIRY_SECONDS, Upload, UploadTicket
from domain.errors import InvalidInput, NotFound, UploadExpired, UploadRejected, UploadUsed
from domain.ids import UploadId, UserId, new_id
from domain.ports import BlobStore, Clock, ImageProbe, UploadRepository


@dataclass(frozen=True, slots=True)
class UploadForm:
    """What a client needs to upload: the id to confirm, and the presigned form."""

    upload_id: UploadId
    ticket: UploadTicket


def upload_begin(
    *,
    uploads: UploadRepository,
    blobs: BlobStore,
    clock: Clock,
    owner: UserId,
    final_key: str,
    content_type: str,
    size: int,
) -> UploadForm:
    """Record the upload, then sign a form for exactly its declared type and at most its declared size."""
    now = clock.now()
    upload = Upload(
        id=UploadId(new_id()),
        owner_id=owner,
        staging_key=f"{STAGING_PREFIX}{final_key}",
        final_key=final_key,
        content_type=content_type,
        size=size,
        created_at=now,
        expires_at=now + timedelta(seconds=UPLOAD_EXPIRY_SECONDS),
    )
    uploads.add(upload)
    ticket = blobs.create_upload(
        key=upload.staging_key, content_types=(content_type,), max_bytes=size, expires_in=UPLOAD_EXPIRY_SECONDS
    )
    return UploadForm(upload_id=upload.id, ticket=ticket)


def upload_accept(
    *,
    uploads: UploadRepository,
    blobs: BlobStore,
    images: ImageProbe,
    clock: Clock,
    owner: UserId,
    upload_id: UploadId,
    final_prefix: str,
) -> Upload:
    """Confirm the upload once: check it, move it to its final key, return it.

    NotFound unless it is the owner's and meant for ``final_prefix``; InvalidInput
    while nothing is uploaded yet (the upload stays open); UploadUsed, UploadExpired
    once it cannot be confirmed; UploadRejected (and the object deleted) when the
    stored object is not what was declared.
    """
    upload = _owned_upload(uploads, owner, upload_id, final_prefix)
    try:
        upload.check_confirmable(clock.now())
    except (UploadUsed, UploadExpired):
        # Whatever is staged now is a form sent again or too late: nothing will ever take it.
        blobs.delete(upload.staging_key)
        raise
    if blobs.head(upload.staging_key) is None:
        raise InvalidInput.on_field("upload_id", "Nothing was uploaded for this upload yet.")
    # Spent before it is judged: a refused upload cannot be sent again and re-confirmed.
    if not uploads.mark_used(upload.id, at=clock.now()):
        raise UploadUsed.on_field("upload_id", "This upload was already confirmed or refused; start a new one.")
    try:
        _check_stored(blobs, images, upload)
    except UploadRejected:
        blobs.delete(upload.staging_key)
        raise
    blobs.move(source=upload.staging_key, target=upload.final_key)
    return upload


def _owned_upload(uploads: UploadRepository, owner: UserId, upload_id: UploadId, final_prefix: str) -> Upload:
    upload = uploads.get(upload_id)
    # Someone else's upload is as unknown as a missing one: nothing to probe.
    if upload.owner_id != owner or not upload.final_key.startswith(final_prefix):
        raise NotFound("Upload not found.")
    return upload


def _check_stored(blobs: BlobStore, images: ImageProbe, upload: Upload) -> None:
    """What the store holds, against what was declared; then what the bytes really are."""
    info = blobs.head(upload.staging_key)
    data = blobs.read(upload.staging_key, max_bytes=upload.size)
    if info is None or data is None:
        raise _rejected("The upload disappeared before it was checked.")
    if info.size != upload.size or len(data) != upload.size:
        raise _rejected(f"The stored file is not the {upload.size} bytes that were declared.")
    if info.content_type != upload.content_type:
        raise _rejected(f"{upload.content_type} was declared but {info.content_type or 'no type'} was uploaded.")
    try:
        found = images.identify(data).content_type
    except UploadRejected as e:
        raise _rejected(e.message) from e
    if found != upload.content_type:
        raise _rejected(f"{upload.content_type} was declared but the file is {found}.")


def _rejected(message: str) -> UploadRejected:
    return UploadRejected(f"{message} The upload was removed.", fields={"upload_id": [message]})
