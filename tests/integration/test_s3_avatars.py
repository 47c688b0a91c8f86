"""The avatar use cases on the S3 store the container builds, over real HTTP to moto's S3 server.

The rest of the container is the in-memory fakes (tests/unit/conftest.py), so
what is proven here is the S3 side: the browser's multipart POST to the
presigned URL to a staging key, the confirm step's HEAD and ranged GET, the
server-side copy to the final key, the presigned GET, deletes.

moto stores any POST without reading its policy (see TestS3BlobStore), so
an oversized or wrongly typed upload reaches the bucket here; AWS S3 would
refuse it earlier. Either way the confirm step must reject it and delete it:
that is the guard the app relies on, and these tests prove it. No S3 refuses a
presigned POST sent twice: the staging key is what keeps that from the avatar.
"""

from __future__ import annotations

import urllib.request
import uuid
from typing import Any

import pytest

from adapters.memory.store import FixedClock
from adapters.s3.blobs import S3BlobStore
from adapters.s3.client import make_client
from domain.blobs import AVATAR_MAX_BYTES, BlobInfo, UploadTicket
from domain.errors import InvalidInput, UploadRejected, UploadUsed
from domain.experts import ExpertProfile
from project.container import Container
from services.uploads import UploadForm
from tests.contract.test_blob_store import http_call, post_form
from tests.harness.servers import MotoServer
from tests.images import HTML, image_bytes
from tests.unit.conftest import MEMORY_CONFIG, World

pytestmark = pytest.mark.integration

PNG = image_bytes("PNG")


@pytest.fixture
def s3_config(moto_server: MotoServer) -> dict[str, Any]:
    """The container's s3 settings for a new bucket on the session's moto server."""
    config = {
        "endpoint_url": moto_server.endpoint_url,
        "bucket": f"avatars-{uuid.uuid4().hex[:16]}",
        "region": "us-east-1",
        "access_key_id": "experthub-test",
        "secret_access_key": "experthub-test-secret",
        "addressing_style": "path",
        "timeout": 5.0,
    }
    make_client(**{k: v for k, v in config.items() if k != "bucket"}).create_bucket(Bucket=config["bucket"])
    return config


@pytest.fixture
def world(s3_config: dict[str, Any]) -> World:
    container = Container()
    container.config.from_dict({**MEMORY_CONFIG, "blob_backend": "s3", "s3": s3_config})
    container.clock.override(FixedClock())
    return World(container)


def start(world: World, expert: ExpertProfile, content_type: str = "image/png", size: int = len(PNG)) -> UploadForm:
    form: UploadForm = world.avatar_upload_start(
        actor=expert.owner_id, expert_id=expert.id, content_type=content_type, size=size
    )
    return form


def browser_upload(ticket: UploadTicket, data: bytes, content_type: str) -> int:
    """What a browser sends: the ticket's fields (the Content-Type one set to the file's type), then the file."""
    status, _, _ = post_form(ticket.url, {**ticket.fields, "Content-Type": content_type}, data)
    return status


def confirm(world: World, expert: ExpertProfile, form: UploadForm) -> ExpertProfile:
    profile: ExpertProfile = world.avatar_upload_confirm(
        actor=expert.owner_id, expert_id=expert.id, upload_id=form.upload_id
    )
    return profile


def test_the_container_picks_the_s3_store(world: World) -> None:
    assert isinstance(world.blobs, S3BlobStore)


def test_an_uploaded_avatar_is_confirmed_and_served(world: World) -> None:
    expert = world.published_expert()
    form = start(world, expert)

    assert browser_upload(form.ticket, PNG, "image/png") == 204
    profile = confirm(world, expert, form)

    assert profile.avatar_key == form.ticket.key.removeprefix("staging/")
    assert world.blobs.head(form.ticket.key) is None
    url = world.expert_avatar_urls(profiles=[profile])[profile.id]
    status, headers, body = http_call(urllib.request.Request(url))
    assert (status, headers["Content-Type"], body) == (200, "image/png", PNG)


def test_a_type_the_ticket_forbids_is_rejected_at_confirm_and_deleted(world: World) -> None:
    expert = world.published_expert()
    form = start(world, expert, size=len(HTML))

    assert browser_upload(form.ticket, HTML, "text/html") == 204  # moto: stored anyway
    assert world.blobs.head(form.ticket.key) == BlobInfo(key=form.ticket.key, size=len(HTML), content_type="text/html")
    with pytest.raises(UploadRejected) as error:
        confirm(world, expert, form)

    assert "upload_id" in error.value.fields
    assert world.blobs.head(form.ticket.key) is None
    assert world.experts.get(expert.id).avatar_key is None


def test_html_declared_and_stored_as_png_is_rejected_at_confirm_and_deleted(world: World) -> None:
    expert = world.published_expert()
    form = start(world, expert, size=len(HTML))

    assert browser_upload(form.ticket, HTML, "image/png") == 204
    with pytest.raises(UploadRejected):
        confirm(world, expert, form)

    assert world.blobs.head(form.ticket.key) is None


def test_an_oversized_upload_is_rejected_at_confirm_and_deleted(world: World) -> None:
    expert = world.published_expert()
    form = start(world, expert)
    oversized = PNG + b"\0" * (AVATAR_MAX_BYTES + 1 - len(PNG))

    assert browser_upload(form.ticket, oversized, "image/png") == 204  # moto: stored anyway
    key = form.ticket.key
    assert world.blobs.head(key) == BlobInfo(key=key, size=AVATAR_MAX_BYTES + 1, content_type="image/png")
    with pytest.raises(InvalidInput):
        confirm(world, expert, form)

    assert world.blobs.head(key) is None
    assert world.experts.get(expert.id).avatar_key is None


def test_a_form_sent_again_after_confirm_never_reaches_the_avatar(world: World) -> None:
    expert = world.published_expert()
    form = start(world, expert)
    browser_upload(form.ticket, PNG, "image/png")
    avatar = confirm(world, expert, form).avatar_key
    assert avatar is not None

    assert browser_upload(form.ticket, HTML, "image/png") == 204  # S3 cannot refuse a presigned POST twice
    with pytest.raises(UploadUsed):
        confirm(world, expert, form)

    assert world.blobs.read(avatar, max_bytes=AVATAR_MAX_BYTES) == PNG
    assert world.blobs.head(form.ticket.key) is None  # the refused confirmation swept it


def test_a_replaced_avatar_is_deleted_from_the_bucket(world: World) -> None:
    expert = world.published_expert()
    small = image_bytes("PNG", size=(8, 8))
    first, second = start(world, expert), start(world, expert, size=len(small))
    browser_upload(first.ticket, PNG, "image/png")
    browser_upload(second.ticket, small, "image/png")
    old = confirm(world, expert, first).avatar_key

    new = confirm(world, expert, second).avatar_key

    assert old is not None
    assert new is not None
    assert world.blobs.head(old) is None
    assert world.blobs.head(new) == BlobInfo(key=new, size=len(small), content_type="image/png")
