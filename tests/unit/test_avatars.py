from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.local.blobs import REFUSED_USED
from adapters.memory.blobs import BlobRefused, InMemoryBlobStore
from adapters.memory.repositories import InMemoryExpertRepository
from domain.blobs import AVATAR_MAX_BYTES, STAGING_PREFIX, UPLOAD_CONFIRM_GRACE_SECONDS, UPLOAD_EXPIRY_SECONDS, BlobInfo
from domain.errors import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    PortError,
    UploadExpired,
    UploadRejected,
    UploadUsed,
)
from domain.experts import ExpertProfile
from domain.ids import UploadId, new_id
from services.uploads import UploadForm
from tests.images import HTML, SVG, TEXT, image_bytes, png_claiming, truncated
from tests.unit.conftest import World

PNG = image_bytes("PNG")
JPEG = image_bytes("JPEG")


def start(world: World, expert: ExpertProfile, data: bytes = PNG, content_type: str = "image/png") -> UploadForm:
    return world.avatar_upload_start(
        actor=expert.owner_id, expert_id=expert.id, content_type=content_type, size=len(data)
    )


def send(world: World, form: UploadForm, data: bytes = PNG, content_type: str = "image/png") -> None:
    world.blobs.client_upload(form.ticket.key, data, content_type)


def confirm(world: World, expert: ExpertProfile, form: UploadForm) -> ExpertProfile:
    profile: ExpertProfile = world.avatar_upload_confirm(
        actor=expert.owner_id, expert_id=expert.id, upload_id=form.upload_id
    )
    return profile


def uploaded(world: World, expert: ExpertProfile, data: bytes = PNG, content_type: str = "image/png") -> UploadForm:
    form = start(world, expert, data, content_type)
    send(world, form, data, content_type)
    return form


def test_confirm_moves_the_upload_to_its_final_key_and_drops_the_old_avatar(world: World) -> None:
    expert = world.published_expert()
    first = confirm(world, expert, uploaded(world, expert)).avatar_key
    second = uploaded(world, expert, JPEG, "image/jpeg")

    profile = confirm(world, expert, second)

    assert profile.avatar_key == second.ticket.key.removeprefix(STAGING_PREFIX)
    assert profile.avatar_key.startswith(f"avatars/{expert.id}/")
    assert profile.avatar_key.endswith(".jpg")
    assert world.blobs.head(profile.avatar_key) == BlobInfo(
        key=profile.avatar_key, size=len(JPEG), content_type="image/jpeg"
    )
    assert world.blobs.head(second.ticket.key) is None
    assert first is not None
    assert world.blobs.head(first) is None
    assert world.expert_avatar_urls(profiles=[profile])[profile.id]


def test_the_form_writes_a_staging_key_of_exactly_the_declared_size_and_type(world: World) -> None:
    expert = world.published_expert()

    form = start(world, expert)

    assert form.ticket.key.startswith(f"{STAGING_PREFIX}avatars/{expert.id}/")
    assert form.ticket.max_bytes == len(PNG)
    assert form.ticket.content_types == ("image/png",)
    assert world.uploads.get(form.upload_id).owner_id == expert.owner_id


@pytest.mark.parametrize(
    ("content_type", "size", "field"),
    [("image/gif", 10, "content_type"), ("image/png", AVATAR_MAX_BYTES + 1, "size"), ("image/png", 0, "size")],
)
def test_start_checks_type_and_size(world: World, content_type: str, size: int, field: str) -> None:
    expert = world.published_expert()
    with pytest.raises(InvalidInput) as error:
        world.avatar_upload_start(actor=expert.owner_id, expert_id=expert.id, content_type=content_type, size=size)
    assert field in error.value.fields


def test_only_the_owner_uploads(world: World) -> None:
    expert = world.published_expert()
    with pytest.raises(PermissionDenied):
        world.avatar_upload_start(actor=world.register().id, expert_id=expert.id, content_type="image/png", size=10)


def test_an_upload_of_another_account_is_not_found(world: World) -> None:
    expert, other = world.published_expert(), world.published_expert()
    theirs = uploaded(world, other)

    with pytest.raises(NotFound):
        world.avatar_upload_confirm(actor=expert.owner_id, expert_id=expert.id, upload_id=theirs.upload_id)
    with pytest.raises(NotFound):
        world.avatar_upload_confirm(actor=expert.owner_id, expert_id=expert.id, upload_id=UploadId(new_id()))

    assert world.experts.get(expert.id).avatar_key is None
    assert confirm(world, other, theirs).avatar_key  # still theirs to confirm


def test_confirming_before_uploading_leaves_the_upload_open(world: World) -> None:
    expert = world.published_expert()
    form = start(world, expert)

    with pytest.raises(InvalidInput) as error:
        confirm(world, expert, form)

    assert "upload_id" in error.value.fields
    send(world, form)
    assert confirm(world, expert, form).avatar_key


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (HTML, "image/png"),
        (SVG, "image/png"),
        (TEXT, "image/png"),
        (truncated(PNG), "image/png"),
        (JPEG, "image/png"),  # a real image, of another type than declared
        (png_claiming(100_000, 100_000), "image/png"),
    ],
    ids=["html", "svg", "text", "truncated", "jpeg-as-png", "bomb"],
)
def test_content_that_is_not_the_declared_image_is_rejected_and_deleted(
    world: World, data: bytes, declared: str
) -> None:
    expert = world.published_expert()
    form = uploaded(world, expert, data, declared)

    with pytest.raises(UploadRejected) as error:
        confirm(world, expert, form)

    assert "upload_id" in error.value.fields
    assert world.blobs.head(form.ticket.key) is None
    assert world.experts.get(expert.id).avatar_key is None


class StoreThatTrustsTheClient(InMemoryBlobStore):
    """A store whose upload conditions did not hold (moto's S3, a misconfigured bucket policy)."""

    def client_upload(self, key: str, data: bytes, content_type: str) -> None:
        self.put(key, data, content_type=content_type)


@pytest.mark.parametrize(
    ("data", "content_type"),
    [(PNG + b"\0" * 10, "image/png"), (PNG[:-1], "image/png"), (PNG, "text/html"), (PNG, "image/jpeg")],
    ids=["larger", "smaller", "stored-as-html", "stored-as-jpeg"],
)
def test_what_was_stored_is_held_to_the_declared_size_and_type(world: World, data: bytes, content_type: str) -> None:
    world.container.blobs.override(StoreThatTrustsTheClient())
    expert = world.published_expert()
    form = start(world, expert)
    send(world, form, data, content_type)

    with pytest.raises(UploadRejected):
        confirm(world, expert, form)

    assert world.blobs.head(form.ticket.key) is None


def test_a_rejected_upload_cannot_be_sent_again_and_confirmed(world: World) -> None:
    world.container.blobs.override(StoreThatTrustsTheClient())
    expert = world.published_expert()
    form = uploaded(world, expert, HTML)
    with pytest.raises(UploadRejected):
        confirm(world, expert, form)
    send(world, form)

    with pytest.raises(UploadUsed):
        confirm(world, expert, form)

    assert world.blobs.head(form.ticket.key) is None  # the second sending is swept too


def test_an_upload_is_confirmed_once(world: World) -> None:
    expert = world.published_expert()
    form = uploaded(world, expert)
    avatar = confirm(world, expert, form).avatar_key

    with pytest.raises(UploadUsed):
        confirm(world, expert, form)

    assert world.experts.get(expert.id).avatar_key == avatar


def test_a_form_cannot_overwrite_the_avatar_it_made(world: World) -> None:
    expert = world.published_expert()
    form = uploaded(world, expert)
    avatar = confirm(world, expert, form).avatar_key
    assert avatar is not None

    with pytest.raises(BlobRefused) as refused:
        send(world, form, JPEG, "image/png")

    assert refused.value.code == REFUSED_USED
    assert world.blobs.read(avatar, max_bytes=AVATAR_MAX_BYTES) == PNG


def test_a_form_sent_again_on_a_store_that_allows_it_never_reaches_the_avatar(world: World) -> None:
    world.container.blobs.override(StoreThatTrustsTheClient())
    expert = world.published_expert()
    form = uploaded(world, expert)
    avatar = confirm(world, expert, form).avatar_key
    assert avatar is not None

    send(world, form, HTML, "image/png")

    assert world.blobs.read(avatar, max_bytes=AVATAR_MAX_BYTES) == PNG
    with pytest.raises(UploadUsed):
        confirm(world, expert, form)
    assert world.blobs.head(form.ticket.key) is None


def test_an_upload_past_its_time_is_expired_and_deleted(world: World) -> None:
    expert = world.published_expert()
    form = uploaded(world, expert)
    world.clock.advance(seconds=UPLOAD_EXPIRY_SECONDS + UPLOAD_CONFIRM_GRACE_SECONDS)

    with pytest.raises(UploadExpired):
        confirm(world, expert, form)

    assert world.blobs.head(form.ticket.key) is None
    assert world.experts.get(expert.id).avatar_key is None


def test_an_upload_sent_in_time_may_be_confirmed_within_the_grace(world: World) -> None:
    expert = world.published_expert()
    form = uploaded(world, expert)
    world.clock.advance(seconds=UPLOAD_EXPIRY_SECONDS + UPLOAD_CONFIRM_GRACE_SECONDS - 1)

    assert confirm(world, expert, form).avatar_key


def test_upload_records_are_pruned_a_day_after_they_expire(world: World) -> None:
    expert = world.published_expert()
    form = start(world, expert)
    world.clock.advance(seconds=UPLOAD_EXPIRY_SECONDS + int(timedelta(days=1).total_seconds()) + 1)

    assert world.records_prune()["uploads"] == 1
    with pytest.raises(NotFound):
        confirm(world, expert, form)


class ProfilesThatCannotSave(InMemoryExpertRepository):
    def save(self, profile: ExpertProfile) -> None:
        raise PortError("The database is unavailable.")


def test_a_confirm_that_cannot_save_the_profile_leaves_no_file_behind(world: World) -> None:
    expert = world.published_expert()
    form = uploaded(world, expert)
    world.container.experts.override(ProfilesThatCannotSave(world.container.memory_database()))

    with pytest.raises(PortError):
        confirm(world, expert, form)

    assert world.blobs.head(form.ticket.key) is None
    assert world.blobs.head(form.ticket.key.removeprefix(STAGING_PREFIX)) is None
