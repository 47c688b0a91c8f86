"""Who may do what: every endpoint x every role x own/foreign object -> the expected status.

The world: ``owner`` (an expert) has a published profile; ``other_expert`` has
a draft one; ``client`` has three bookings with ``owner`` (requested,
accepted and ended, completed); ``other_client`` has none; ``staff`` is staff.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken

from adapters.memory.store import FixedClock
from api.routing import MethodRouter
from api.urls import urlpatterns
from domain.users import Role
from project.container import container
from tests.api.conftest import (
    API,
    NOW,
    PASSWORD,
    Account,
    MakeAccount,
    assert_error,
    iso,
    make_booking,
    make_profile,
    row_counts,
)

ANON, CLIENT, OTHER_CLIENT, OWNER, OTHER_EXPERT, STAFF = (
    "anonymous",
    "client",
    "other_client",
    "owner",
    "other_expert",
    "staff",
)
ROLES = (ANON, CLIENT, OTHER_CLIENT, OWNER, OTHER_EXPERT, STAFF)
MISSING = "00000000-0000-0000-0000-000000000000"


@dataclass
class World:
    accounts: dict[str, Account]
    ids: dict[str, str] = field(default_factory=dict)

    def client_for(self, role: str) -> APIClient:
        return APIClient() if role == ANON else self.accounts[role].api


@pytest.fixture
def world(make_account: MakeAccount, clock: FixedClock) -> World:
    accounts = {
        CLIENT: make_account(Role.CLIENT),
        OTHER_CLIENT: make_account(Role.CLIENT),
        OWNER: make_account(Role.EXPERT),
        OTHER_EXPERT: make_account(Role.EXPERT),
        STAFF: make_account(Role.STAFF),
    }
    client, owner = accounts[CLIENT], accounts[OWNER]
    published = make_profile(owner)
    draft = make_profile(accounts[OTHER_EXPERT], publish=False)
    requested = make_booking(client, published, starts_at=NOW + timedelta(days=2))
    accepted = make_booking(client, published, starts_at=NOW + timedelta(hours=1))
    completed = make_booking(client, published, starts_at=NOW + timedelta(hours=2), duration_minutes=30)
    for booking in (accepted, completed):
        container.booking_accept(actor=owner.id, booking_id=booking.id)
    clock.set(NOW + timedelta(hours=3))  # both accepted bookings have ended; "requested" is days ahead
    container.booking_complete(actor=client.id, booking_id=completed.id)
    ids = {
        "published": published.id,
        "draft": draft.id,
        "requested": requested.id,
        "accepted": accepted.id,
        "completed": completed.id,
        "missing": MISSING,
        "report_day": "2026-11-21",
    }
    return World(accounts=accounts, ids={name: str(value) for name, value in ids.items()})


Body = Callable[[World], dict[str, Any]]


def no_body(world: World) -> dict[str, Any]:
    return {}


def registration(world: World) -> dict[str, Any]:
    return {"email": f"{uuid.uuid4().hex}@example.com", "password": PASSWORD, "name": "New", "role": "client"}


def login(world: World) -> dict[str, Any]:
    return {"email": world.accounts[CLIENT].email, "password": PASSWORD}


def refresh(world: World) -> dict[str, Any]:
    user = get_user_model().objects.get(pk=world.accounts[CLIENT].id)
    return {"refresh": str(RefreshToken.for_user(user))}


def profile(world: World) -> dict[str, Any]:
    return {"headline": "New expert", "hourly_rate": {"amount": 5000, "currency": "EUR"}}


def bio(world: World) -> dict[str, Any]:
    return {"bio": "Edited."}


def avatar(world: World) -> dict[str, Any]:
    return {"content_type": "image/png", "size": 100}


def avatar_upload_id(world: World) -> dict[str, Any]:
    return {"upload_id": "5f0c5a52-0000-4000-8000-000000000000"}  # never issued


def booking_of(target: str) -> Body:
    def body(world: World) -> dict[str, Any]:
        start = iso(NOW + timedelta(days=5))
        return {"expert_id": world.ids[target], "starts_at": start, "duration_minutes": 60, "topic": "Help"}

    body.__name__ = f"booking_of_{target}"
    return body


def review(world: World) -> dict[str, Any]:
    return {"rating": 5, "comment": "Great."}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    expected: dict[str, int]
    body: Body = no_body

    def status_for(self, role: str) -> int:
        return self.expected.get(role, self.expected["*"])


CASES = [
    Case("POST", "/auth/register/", {"*": 201}, registration),
    Case("POST", "/auth/token/", {"*": 200}, login),
    Case("POST", "/auth/token/refresh/", {"*": 200}, refresh),
    Case("GET", "/me/", {ANON: 401, "*": 200}),
    Case("GET", "/version/", {"*": 200}),
    Case("GET", "/experts/", {"*": 200}),
    Case("GET", "/experts/trending/", {"*": 200}),
    Case("POST", "/experts/", {ANON: 401, OWNER: 409, OTHER_EXPERT: 409, "*": 403}, profile),
    Case("GET", "/experts/me/", {ANON: 401, OWNER: 200, OTHER_EXPERT: 200, "*": 404}),
    Case("GET", "/experts/{published}/", {"*": 200}),
    Case("GET", "/experts/{draft}/", {OTHER_EXPERT: 200, STAFF: 200, "*": 404}),
    Case("GET", "/experts/{missing}/", {"*": 404}),
    Case("PATCH", "/experts/{published}/", {ANON: 401, OWNER: 200, "*": 403}, bio),
    Case("PATCH", "/experts/{draft}/", {ANON: 401, OTHER_EXPERT: 200, "*": 404}, bio),
    Case("PATCH", "/experts/{missing}/", {ANON: 401, "*": 404}, bio),
    Case("POST", "/experts/{published}/publish/", {ANON: 401, OWNER: 409, "*": 403}),
    # Only the owner publishes (services/experts.py, expert_publish); staff see drafts, so 403 not 404.
    Case("POST", "/experts/{draft}/publish/", {ANON: 401, OTHER_EXPERT: 200, STAFF: 403, "*": 404}),
    Case("POST", "/experts/{published}/suspend/", {ANON: 401, STAFF: 200, "*": 403}),
    Case("POST", "/experts/{draft}/suspend/", {ANON: 401, STAFF: 409, "*": 403}),
    Case("POST", "/experts/{published}/reinstate/", {ANON: 401, STAFF: 409, "*": 403}),
    Case("POST", "/experts/{published}/avatar/upload/", {ANON: 401, OWNER: 200, "*": 403}, avatar),
    Case("POST", "/experts/{draft}/avatar/upload/", {ANON: 401, OTHER_EXPERT: 200, "*": 404}, avatar),
    Case("POST", "/experts/{published}/avatar/confirm/", {ANON: 401, OWNER: 404, "*": 403}, avatar_upload_id),
    Case("GET", "/experts/{published}/reviews/", {"*": 200}),
    Case("GET", "/experts/{draft}/reviews/", {"*": 404}),
    Case("GET", "/bookings/", {ANON: 401, "*": 200}),
    Case("POST", "/bookings/", {ANON: 401, OWNER: 400, "*": 201}, booking_of("published")),
    Case("POST", "/bookings/", {ANON: 401, "*": 404}, booking_of("draft")),
    Case("GET", "/bookings/{requested}/", {ANON: 401, CLIENT: 200, OWNER: 200, "*": 404}),
    Case("GET", "/bookings/{missing}/", {ANON: 401, "*": 404}),
    Case("POST", "/bookings/{requested}/accept/", {ANON: 401, OWNER: 200, CLIENT: 403, "*": 404}),
    Case("POST", "/bookings/{requested}/decline/", {ANON: 401, OWNER: 200, CLIENT: 403, "*": 404}),
    Case("POST", "/bookings/{requested}/cancel/", {ANON: 401, CLIENT: 200, OWNER: 403, "*": 404}),
    Case("POST", "/bookings/{accepted}/complete/", {ANON: 401, CLIENT: 200, OWNER: 200, "*": 404}),
    Case("POST", "/bookings/{completed}/review/", {ANON: 401, CLIENT: 201, OWNER: 403, "*": 404}, review),
    Case("GET", "/reports/", {ANON: 401, STAFF: 200, "*": 403}),
    Case("GET", "/reports/{report_day}/", {ANON: 401, STAFF: 404, "*": 403}),
]


@pytest.mark.parametrize(
    ("case", "role"),
    [
        pytest.param(case, role, id=f"{case.method} {case.path} {case.body.__name__} as {role}")
        for case in CASES
        for role in ROLES
    ],
)
def test_permission_matrix(world: World, case: Case, role: str) -> None:
    url = API + case.path.format(**world.ids)
    before = row_counts()

    response = world.client_for(role).generic(
        case.method, url, data=_json(case.body(world)), content_type="application/json"
    )

    expected = case.status_for(role)
    if expected >= 400:
        assert_error(response, expected)
        assert row_counts() == before  # a refused request writes nothing
    else:
        assert response.status_code == expected, response.content


def _json(body: dict[str, Any]) -> str:
    return json.dumps(body)


def test_every_operation_is_in_the_matrix() -> None:
    """A new endpoint without a row here fails this test."""
    covered = {(case.method, re.sub(r"\{\w+\}", "{}", case.path)) for case in CASES}
    served = {
        (method.upper(), "/" + re.sub(r"<\w+:\w+>", "{}", str(pattern.pattern)))
        for pattern in urlpatterns
        for method in _methods(pattern.callback.cls)
    }
    assert len(served) > 20
    assert served <= covered, served - covered


def _methods(view: type[APIView]) -> list[str]:
    if issubclass(view, MethodRouter):
        return list(view.operations)
    return [method for method in ("get", "post", "patch", "put", "delete") if hasattr(view, method)]
