"""Avatar upload: presigned ticket -> multipart POST to the blob store -> confirm -> served avatar_url.

On the local store the upload and download go to the test server; on S3 (the
stack run) over real HTTP to the bucket, as a browser's would.
"""

from __future__ import annotations

import urllib.request
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from domain.blobs import AVATAR_MAX_BYTES
from domain.experts import ExpertProfile
from domain.ports import BlobStore
from tests.api.conftest import API, Account, assert_error, make_profile, row_counts
from tests.contract.test_blob_store import http_call, post_form
from tests.images import HTML, SVG, TEXT, image_bytes, png_claiming, truncated

PNG = image_bytes("PNG")
JPEG = image_bytes("JPEG")


def avatar_url(profile: ExpertProfile, step: str) -> str:
    return f"{API}/experts/{profile.id}/avatar/{step}/"


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def on_test_server(url: str) -> bool:
    return url.startswith("http://testserver/")


def upload(ticket: dict[str, Any], content: bytes = PNG, content_type: str = "image/png") -> int:
    """POST the presigned form as a browser would: the signed fields, then the file. The status."""
    if on_test_server(ticket["url"]):
        form = {**ticket["fields"], "file": SimpleUploadedFile("me.png", content, content_type=content_type)}
        return int(APIClient().post(path_of(ticket["url"]), form, format="multipart").status_code)
    # S3 takes the object's type from the Content-Type field, not from the file part.
    status, _, _ = post_form(ticket["url"], {**ticket["fields"], "Content-Type": content_type}, content)
    return status


def download(url: str) -> tuple[int, str, bytes]:
    """GET a download URL as a browser would: status, content type, bytes."""
    if on_test_server(url):
        served = APIClient().get(path_of(url))
        body = b"".join(served.streaming_content) if served.status_code == 200 else served.content
        return served.status_code, served["Content-Type"], body
    status, headers, body = http_call(urllib.request.Request(url))
    return status, str(headers["Content-Type"]), body


def start(owner: Account, profile: ExpertProfile, **body: Any) -> dict[str, Any]:
    response = owner.api.post(avatar_url(profile, "upload"), {"content_type": "image/png", "size": len(PNG), **body})
    assert response.status_code == 200, response.content
    return response.json()


def confirm(owner: Account, profile: ExpertProfile, ticket: dict[str, Any]) -> Any:
    return owner.api.post(avatar_url(profile, "confirm"), {"upload_id": ticket["upload_id"]})


def avatar_of(owner: Account) -> str | None:
    url: str | None = owner.api.get(f"{API}/experts/me/").json()["avatar_url"]
    return url


def test_upload_confirm_and_serve(expert_account: Account, published: ExpertProfile, anon: APIClient) -> None:
    ticket = start(expert_account, published)

    assert set(ticket) == {"upload_id", "key", "url", "fields", "expires_at", "max_bytes", "content_types"}
    assert ticket["key"].startswith(f"staging/avatars/{published.id}/")
    assert ticket["content_types"] == ["image/png"]
    assert ticket["max_bytes"] == len(PNG)
    assert upload(ticket) == 204

    confirmed = confirm(expert_account, published, ticket)

    assert confirmed.status_code == 200, confirmed.content
    url = confirmed.json()["avatar_url"]
    assert urlsplit(url).path.endswith(ticket["key"].removeprefix("staging/"))
    assert anon.get(f"{API}/experts/{published.id}/").json()["avatar_url"] is not None
    assert download(url) == (200, "image/png", PNG)


def test_avatar_urls_appear_in_search_results(
    expert_account: Account, published: ExpertProfile, anon: APIClient
) -> None:
    ticket = start(expert_account, published)
    upload(ticket)
    confirm(expert_account, published, ticket)

    [result] = anon.get(f"{API}/experts/").json()["results"]

    assert urlsplit(result["avatar_url"]).path.endswith(ticket["key"].removeprefix("staging/"))


def test_confirming_before_uploading_is_refused(expert_account: Account, published: ExpertProfile) -> None:
    ticket = start(expert_account, published)

    assert_error(confirm(expert_account, published, ticket), 400, "invalid", "upload_id")
    assert avatar_of(expert_account) is None


def test_a_type_the_ticket_does_not_allow_never_becomes_the_avatar(
    expert_account: Account, published: ExpertProfile, blob_store: BlobStore, settings: Any
) -> None:
    """The store refuses it (local, AWS S3); moto's S3 stores it anyway, and confirm rejects and deletes it."""
    ticket = start(expert_account, published)

    status = upload(ticket, content_type="text/html")

    assert status == 400 or (settings.BLOB_BACKEND == "s3" and status == 204)
    assert_error(confirm(expert_account, published, ticket), 400, None, "upload_id")
    assert blob_store.head(ticket["key"]) is None
    assert avatar_of(expert_account) is None


@pytest.mark.parametrize(
    "content",
    [HTML, SVG, TEXT, truncated(PNG), png_claiming(100_000, 100_000), JPEG],
    ids=["html", "svg", "text", "truncated", "decompression-bomb", "jpeg"],
)
def test_content_that_is_not_the_declared_png_is_rejected_and_deleted(
    expert_account: Account, published: ExpertProfile, blob_store: BlobStore, content: bytes
) -> None:
    ticket = start(expert_account, published, size=len(content))
    assert upload(ticket, content, "image/png") == 204

    assert_error(confirm(expert_account, published, ticket), 400, "upload_rejected", "upload_id")
    assert blob_store.head(ticket["key"]) is None
    assert avatar_of(expert_account) is None


@pytest.mark.parametrize("declared", [len(PNG) + 10, len(PNG) - 10], ids=["larger-than-sent", "smaller-than-sent"])
def test_a_wrong_declared_size_never_becomes_the_avatar(
    expert_account: Account, published: ExpertProfile, blob_store: BlobStore, settings: Any, declared: int
) -> None:
    """Smaller than sent: the store refuses it (local, AWS S3; moto stores it). Larger: confirm rejects it."""
    ticket = start(expert_account, published, size=declared)

    status = upload(ticket, PNG)

    assert status == 204 or (status == 400 and declared < len(PNG))
    stored = status == 204
    error = assert_error(confirm(expert_account, published, ticket), 400, None, "upload_id")
    assert error["code"] == ("upload_rejected" if stored else "invalid")
    assert blob_store.head(ticket["key"]) is None
    assert avatar_of(expert_account) is None


def test_an_oversized_file_never_becomes_the_avatar(
    expert_account: Account, published: ExpertProfile, blob_store: BlobStore, settings: Any
) -> None:
    oversized = PNG + b"\0" * (AVATAR_MAX_BYTES + 1 - len(PNG))
    ticket = start(expert_account, published, size=AVATAR_MAX_BYTES)

    status = upload(ticket, oversized)

    assert status == 400 or (settings.BLOB_BACKEND == "s3" and status == 204)
    assert confirm(expert_account, published, ticket).status_code == 400
    assert blob_store.head(ticket["key"]) is None
    assert avatar_of(expert_account) is None


def test_an_upload_is_confirmed_once(expert_account: Account, published: ExpertProfile) -> None:
    ticket = start(expert_account, published)
    upload(ticket)
    avatar = confirm(expert_account, published, ticket).json()["avatar_url"]

    assert_error(confirm(expert_account, published, ticket), 409, "upload_used", "upload_id")
    assert avatar_of(expert_account) == avatar


def test_a_form_used_again_after_confirm_cannot_change_the_avatar(
    expert_account: Account, published: ExpertProfile, settings: Any
) -> None:
    """The local store refuses the form (403); S3 takes it onto the staging key, which is never confirmed again."""
    ticket = start(expert_account, published)
    upload(ticket)
    avatar = confirm(expert_account, published, ticket).json()["avatar_url"]

    status = upload(ticket, HTML, "image/png")

    assert status == 403 or (settings.BLOB_BACKEND == "s3" and status == 204)
    assert_error(confirm(expert_account, published, ticket), 409, "upload_used")
    assert download(avatar) == (200, "image/png", PNG)


def test_a_confirm_of_another_accounts_upload_is_not_found(
    expert_account: Account, published: ExpertProfile, other_expert: Account
) -> None:
    theirs = make_profile(other_expert)
    ticket = start(other_expert, theirs)
    upload(ticket)

    assert_error(confirm(expert_account, published, ticket), 404, "not_found")
    assert confirm(other_expert, theirs, ticket).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content_type": "image/gif", "size": 10}, "content_type"),
        ({"content_type": "text/html", "size": 10}, "content_type"),
        ({"content_type": "image/png", "size": 0}, "size"),
        ({"content_type": "image/png", "size": AVATAR_MAX_BYTES + 1}, "size"),
        ({"content_type": "image/png", "size": "big"}, "size"),
        ({"content_type": "image/png"}, "size"),
        ({"size": 10}, "content_type"),
        ({"content_type": "image/png", "size": 10, "key": "avatars/mine.png"}, "key"),
    ],
)
def test_bad_upload_requests(
    expert_account: Account, published: ExpertProfile, body: dict[str, Any], field: str
) -> None:
    assert_error(expert_account.api.post(avatar_url(published, "upload"), body), 400, "invalid", field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "upload_id"),
        ({"upload_id": ""}, "upload_id"),
        ({"upload_id": "../../etc/passwd"}, "upload_id"),
        ({"upload_id": 42}, "upload_id"),
        ({"upload_id": ["a"]}, "upload_id"),
        ({"key": "avatars/x.png"}, "key"),
        ({"upload_id": "00000000-0000-4000-8000-000000000000", "avatar_url": "https://e.example/"}, "avatar_url"),
    ],
)
def test_bad_confirm_requests_change_nothing(
    expert_account: Account, published: ExpertProfile, body: dict[str, Any], field: str
) -> None:
    before = (row_counts(), expert_account.api.get(f"{API}/experts/me/").json())

    assert_error(expert_account.api.post(avatar_url(published, "confirm"), body), 400, "invalid", field)

    assert (row_counts(), expert_account.api.get(f"{API}/experts/me/").json()) == before
