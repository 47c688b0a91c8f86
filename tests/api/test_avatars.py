"""Avatar upload: presigned ticket -> multipart POST to the blob store -> confirm -> served avatar_url."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from domain.blobs import AVATAR_MAX_BYTES
from domain.experts import ExpertProfile
from tests.api.conftest import API, Account, assert_error, make_profile, row_counts

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def avatar_url(profile: ExpertProfile, step: str) -> str:
    return f"{API}/experts/{profile.id}/avatar/{step}/"


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def upload(ticket: dict[str, Any], content: bytes = PNG, content_type: str = "image/png") -> Any:
    """POST the presigned form as a browser would: the signed fields, then the file."""
    form = {**ticket["fields"], "file": SimpleUploadedFile("me.png", content, content_type=content_type)}
    return APIClient().post(path_of(ticket["url"]), form, format="multipart")


def start(owner: Account, profile: ExpertProfile, **body: Any) -> dict[str, Any]:
    response = owner.api.post(avatar_url(profile, "upload"), {"content_type": "image/png", "size": len(PNG), **body})
    assert response.status_code == 200, response.content
    return response.json()


def test_upload_confirm_and_serve(expert_account: Account, published: ExpertProfile, anon: APIClient) -> None:
    ticket = start(expert_account, published)

    assert set(ticket) == {"key", "url", "fields", "expires_at", "max_bytes", "content_types"}
    assert ticket["key"].startswith(f"avatars/{published.id}/")
    assert ticket["content_types"] == ["image/png"]
    assert ticket["max_bytes"] == AVATAR_MAX_BYTES
    assert upload(ticket).status_code == 204

    confirmed = expert_account.api.post(avatar_url(published, "confirm"), {"key": ticket["key"]})

    assert confirmed.status_code == 200, confirmed.content
    url = confirmed.json()["avatar_url"]
    assert url.startswith("http://testserver/blobs/download/")
    assert anon.get(f"{API}/experts/{published.id}/").json()["avatar_url"] is not None
    served = anon.get(path_of(url))
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content) == PNG


def test_avatar_urls_appear_in_search_results(
    expert_account: Account, published: ExpertProfile, anon: APIClient
) -> None:
    ticket = start(expert_account, published)
    upload(ticket)
    expert_account.api.post(avatar_url(published, "confirm"), {"key": ticket["key"]})

    [result] = anon.get(f"{API}/experts/").json()["results"]

    assert result["avatar_url"].startswith("http://testserver/blobs/download/avatars/")


def test_confirming_before_uploading_is_refused(expert_account: Account, published: ExpertProfile) -> None:
    ticket = start(expert_account, published)

    assert_error(
        expert_account.api.post(avatar_url(published, "confirm"), {"key": ticket["key"]}), 400, "invalid", "key"
    )
    assert expert_account.api.get(f"{API}/experts/me/").json()["avatar_url"] is None


def test_the_store_refuses_a_type_the_ticket_does_not_allow(expert_account: Account, published: ExpertProfile) -> None:
    ticket = start(expert_account, published)

    assert upload(ticket, content_type="text/html").status_code == 400


def test_a_key_of_another_profile_is_refused(
    expert_account: Account, published: ExpertProfile, other_expert: Account
) -> None:
    theirs = make_profile(other_expert)
    ticket = start(other_expert, theirs)
    upload(ticket)

    response = expert_account.api.post(avatar_url(published, "confirm"), {"key": ticket["key"]})

    assert_error(response, 400, "invalid", "key")


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
        ({}, "key"),
        ({"key": ""}, "key"),
        ({"key": "../../etc/passwd"}, "key"),
        ({"key": "x" * 256}, "key"),
        ({"key": ["a"]}, "key"),
        ({"key": "avatars/x.png", "avatar_url": "https://evil.example.com/"}, "avatar_url"),
    ],
)
def test_bad_confirm_requests_change_nothing(
    expert_account: Account, published: ExpertProfile, body: dict[str, Any], field: str
) -> None:
    before = (row_counts(), expert_account.api.get(f"{API}/experts/me/").json())

    assert_error(expert_account.api.post(avatar_url(published, "confirm"), body), 400, "invalid", field)

    assert (row_counts(), expert_account.api.get(f"{API}/experts/me/").json()) == before
