"""Avatar upload: the client uploads straight to the blob store, then the API confirms (services/uploads.py)."""

from __future__ import annotations

from domain.blobs import AVATAR_CONTENT_TYPES, AVATAR_MAX_BYTES
from domain.errors import InvalidInput
from domain.events import ExpertProfileChanged
from domain.experts import ExpertProfile
from domain.ids import ExpertId, UploadId, UserId, new_id
from domain.ports import (
    BlobStore,
    Clock,
    EventPublisher,
    ExpertRepository,
    ImageProbe,
    ResponseCache,
    UnitOfWork,
    UploadRepository,
)
from services.experts import expert_pages_invalidate, owned_profile
from services.uploads import UploadForm, upload_accept, upload_begin

_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


def avatar_upload_start(
    *,
    experts: ExpertRepository,
    uploads: UploadRepository,
    blobs: BlobStore,
    clock: Clock,
    actor: UserId,
    expert_id: ExpertId,
    content_type: str,
    size: int,
) -> UploadForm:
    """A presigned upload of exactly ``size`` bytes of ``content_type``, for a new avatar of the actor's profile."""
    owned_profile(experts=experts, actor=actor, expert_id=expert_id)
    if content_type not in AVATAR_CONTENT_TYPES:
        raise InvalidInput.on_field("content_type", f"Use one of {', '.join(AVATAR_CONTENT_TYPES)}.")
    if not 0 < size <= AVATAR_MAX_BYTES:
        raise InvalidInput.on_field("size", f"Avatars are 1 byte to {AVATAR_MAX_BYTES} bytes.")
    key = f"{_prefix(expert_id)}{new_id().hex}{_EXTENSIONS[content_type]}"
    return upload_begin(
        uploads=uploads, blobs=blobs, clock=clock, owner=actor, final_key=key, content_type=content_type, size=size
    )


def avatar_upload_confirm(
    *,
    experts: ExpertRepository,
    uploads: UploadRepository,
    blobs: BlobStore,
    images: ImageProbe,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    response_cache: ResponseCache,
    actor: UserId,
    expert_id: ExpertId,
    upload_id: UploadId,
) -> ExpertProfile:
    """Check the uploaded image once (declared size and type, decoded content) and make it the avatar.

    A bad upload is deleted (UploadRejected); a confirmed or expired one cannot be
    confirmed again (UploadUsed, UploadExpired).
    """
    owned_profile(experts=experts, actor=actor, expert_id=expert_id)
    upload = upload_accept(
        uploads=uploads,
        blobs=blobs,
        images=images,
        clock=clock,
        owner=actor,
        upload_id=upload_id,
        final_prefix=_prefix(expert_id),
    )
    key = upload.final_key
    try:
        with uow.atomic():
            profile = experts.get(expert_id, for_update=True)
            previous, profile.avatar_key = profile.avatar_key, key
            profile.updated_at = clock.now()
            experts.save(profile)
            if previous and previous != key:
                uow.on_commit(lambda: blobs.delete(previous))
            events.publish(ExpertProfileChanged(expert_id=profile.id))
            expert_pages_invalidate(uow=uow, response_cache=response_cache, expert_id=profile.id)
    except Exception:
        # Rolled back: nothing points at the moved file, and its upload is spent, so nothing ever will.
        blobs.delete(key)
        raise
    return profile


def _prefix(expert_id: ExpertId) -> str:
    return f"avatars/{expert_id}/"
