"""Avatar upload: the client uploads straight to the blob store, then the API confirms."""

from __future__ import annotations

import re

from domain.blobs import AVATAR_CONTENT_TYPES, AVATAR_MAX_BYTES, UPLOAD_EXPIRY_SECONDS, UploadTicket
from domain.errors import InvalidInput
from domain.events import ExpertProfileChanged
from domain.experts import ExpertProfile
from domain.ids import ExpertId, UserId, new_id
from domain.ports import BlobStore, Clock, EventPublisher, ExpertRepository, ResponseCache, UnitOfWork
from services.experts import expert_pages_invalidate, owned_profile

_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
# Exactly the shape avatar_upload_start makes: nothing else can be confirmed.
_AVATAR_KEY = re.compile(r"avatars/[0-9a-f-]{36}/[0-9a-f]{32}\.(jpg|png|webp)")


def avatar_upload_start(
    *,
    experts: ExpertRepository,
    blobs: BlobStore,
    actor: UserId,
    expert_id: ExpertId,
    content_type: str,
    size: int,
) -> UploadTicket:
    """A presigned upload for a new avatar of the actor's own profile."""
    owned_profile(experts=experts, actor=actor, expert_id=expert_id)
    if content_type not in AVATAR_CONTENT_TYPES:
        raise InvalidInput.on_field("content_type", f"Use one of {', '.join(AVATAR_CONTENT_TYPES)}.")
    if not 0 < size <= AVATAR_MAX_BYTES:
        raise InvalidInput.on_field("size", f"Avatars are 1 byte to {AVATAR_MAX_BYTES} bytes.")
    key = f"{_prefix(expert_id)}{new_id().hex}{_EXTENSIONS[content_type]}"
    return blobs.create_upload(
        key=key, content_types=(content_type,), max_bytes=AVATAR_MAX_BYTES, expires_in=UPLOAD_EXPIRY_SECONDS
    )


def avatar_upload_confirm(
    *,
    experts: ExpertRepository,
    blobs: BlobStore,
    uow: UnitOfWork,
    clock: Clock,
    events: EventPublisher,
    response_cache: ResponseCache,
    actor: UserId,
    expert_id: ExpertId,
    key: str,
) -> ExpertProfile:
    """Check the uploaded object (size, type) and make it the avatar; a bad one is deleted."""
    owned_profile(experts=experts, actor=actor, expert_id=expert_id)
    if not _AVATAR_KEY.fullmatch(key) or not key.startswith(_prefix(expert_id)):
        raise InvalidInput.on_field("key", "This key does not belong to your profile.")
    info = blobs.head(key)
    if info is None:
        raise InvalidInput.on_field("key", "Nothing was uploaded under this key.")
    if info.size > AVATAR_MAX_BYTES or info.content_type not in AVATAR_CONTENT_TYPES:
        blobs.delete(key)
        raise InvalidInput.on_field("key", "The upload is too large or not an allowed image type; it was removed.")
    with uow.atomic():
        profile = experts.get(expert_id, for_update=True)
        previous, profile.avatar_key = profile.avatar_key, key
        profile.updated_at = clock.now()
        experts.save(profile)
        if previous and previous != key:
            uow.on_commit(lambda: blobs.delete(previous))
        events.publish(ExpertProfileChanged(expert_id=profile.id))
        expert_pages_invalidate(uow=uow, response_cache=response_cache, expert_id=profile.id)
    return profile


def _prefix(expert_id: ExpertId) -> str:
    return f"avatars/{expert_id}/"
