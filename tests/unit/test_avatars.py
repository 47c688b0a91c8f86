from __future__ import annotations

import pytest

from adapters.memory.blobs import InMemoryBlobStore
from domain.blobs import AVATAR_MAX_BYTES, BlobInfo
from domain.errors import InvalidInput, PermissionDenied
from tests.unit.conftest import World

PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 100


def test_upload_then_confirm_sets_the_avatar_and_drops_the_old_one(world: World) -> None:
    expert = world.published_expert()
    first = world.avatar_upload_start(actor=expert.owner_id, expert_id=expert.id, content_type="image/png", size=108)
    world.blobs.client_upload(first.key, PNG, "image/png")
    world.avatar_upload_confirm(actor=expert.owner_id, expert_id=expert.id, key=first.key)
    second = world.avatar_upload_start(actor=expert.owner_id, expert_id=expert.id, content_type="image/png", size=108)
    world.blobs.client_upload(second.key, PNG, "image/png")
    profile = world.avatar_upload_confirm(actor=expert.owner_id, expert_id=expert.id, key=second.key)
    assert profile.avatar_key == second.key
    assert world.blobs.head(first.key) is None
    assert world.expert_avatar_urls(profiles=[profile])[profile.id]


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


def test_confirm_refuses_foreign_keys_and_missing_uploads(world: World) -> None:
    expert = world.published_expert()
    other = world.published_expert()
    ticket = world.avatar_upload_start(actor=other.owner_id, expert_id=other.id, content_type="image/png", size=10)
    world.blobs.client_upload(ticket.key, b"x" * 10, "image/png")
    with pytest.raises(InvalidInput):
        world.avatar_upload_confirm(actor=expert.owner_id, expert_id=expert.id, key=ticket.key)
    mine = world.avatar_upload_start(actor=expert.owner_id, expert_id=expert.id, content_type="image/png", size=10)
    with pytest.raises(InvalidInput):
        world.avatar_upload_confirm(actor=expert.owner_id, expert_id=expert.id, key=mine.key)
    assert world.experts.get(expert.id).avatar_key is None


@pytest.mark.parametrize("suffix", ["../../etc/passwd", "x.png", "0" * 32 + ".gif", "../" + "0" * 32 + ".png"])
def test_confirm_accepts_only_keys_shaped_like_the_ones_start_makes(world: World, suffix: str) -> None:
    expert = world.published_expert()
    with pytest.raises(InvalidInput) as error:
        world.avatar_upload_confirm(actor=expert.owner_id, expert_id=expert.id, key=f"avatars/{expert.id}/{suffix}")
    assert "key" in error.value.fields


class StoreThatAcceptsAnything(InMemoryBlobStore):
    """A store whose upload conditions failed to hold (say, a misconfigured bucket policy)."""

    def head(self, key: str) -> BlobInfo | None:
        info = super().head(key)
        return info and BlobInfo(key=key, size=info.size, content_type="text/html")


def test_confirm_deletes_an_upload_that_is_not_an_allowed_image(world: World) -> None:
    store = StoreThatAcceptsAnything()
    world.container.blobs.override(store)
    expert = world.published_expert()
    ticket = world.avatar_upload_start(actor=expert.owner_id, expert_id=expert.id, content_type="image/png", size=10)
    store.client_upload(ticket.key, b"<script>", "image/png")
    with pytest.raises(InvalidInput):
        world.avatar_upload_confirm(actor=expert.owner_id, expert_id=expert.id, key=ticket.key)
    assert store.head(ticket.key) is None
    assert world.experts.get(expert.id).avatar_key is None
