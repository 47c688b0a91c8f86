"""API test fixtures: the real container (ORM, configured search and blob store), a fixed clock, accounts by role.

Setup goes through the use cases (fast, and never through the endpoint under
test); assertions go through HTTP. Ports are swapped with the container's
``override()`` context managers, so every test leaves it as it found it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.test import TestCase
from rest_framework.test import APIClient

from adapters.local.blobs import LocalBlobStore
from adapters.memory.store import FixedClock
from adapters.orm.models import BookingRow, ExpertProfileRow, ReviewRow
from adapters.orm.repositories import DjangoUnitOfWork
from api.throttles import THROTTLE_CACHE
from domain.bookings import Booking
from domain.experts import ExpertProfile
from domain.ids import UserId, new_id
from domain.money import Money
from domain.ports import BlobStore
from domain.users import Role, User
from project.container import container
from tests.api.middleware import SERVER_ERRORS

API = "/api/v1"
NOW = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
PASSWORD = "Correct-horse-battery-staple-9"


def iso(moment: datetime) -> str:
    return moment.isoformat()


# --- the environment of every API test ------------------------------------------------


@pytest.fixture(autouse=True)
def _database(db: None) -> None:
    """Every API test talks to the database."""


@pytest.fixture(autouse=True)
def _no_server_errors(settings: Any) -> Iterator[None]:
    """Fail any test during which a request was answered with a 5xx."""
    settings.MIDDLEWARE = ["tests.api.middleware.ServerErrorRecorder", *settings.MIDDLEWARE]
    SERVER_ERRORS.clear()
    yield
    assert not SERVER_ERRORS, f"requests answered with a server error: {SERVER_ERRORS}"


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Throttle counters live in a cache; no test inherits another's."""
    for alias in ("default", THROTTLE_CACHE):
        caches[alias].clear()
    yield
    for alias in ("default", THROTTLE_CACHE):
        caches[alias].clear()


@pytest.fixture
def tight_throttles(settings: Any) -> None:
    """Two requests a minute in every throttle scope."""
    scopes = ("login", "token_refresh", "register", "booking_create")
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": dict.fromkeys(scopes, "2/min")}


@pytest.fixture(autouse=True)
def clock() -> Iterator[FixedClock]:
    """The use cases' clock, fixed at NOW; move it with clock.set()/advance()."""
    fixed = FixedClock(NOW)
    with container.clock.override(fixed):
        yield fixed


@pytest.fixture(autouse=True)
def blob_store(settings: Any, tmp_path: Path) -> Iterator[BlobStore]:
    """The run's blob store: S3 in the stack run (BLOB_BACKEND=s3), else a local one under tmp_path.

    S3: the store the container built from the S3_* settings the harness
    exported (it made the bucket); upload keys are random, so tests share it.
    Local: its URLs point at the test server, and as the upload/download views
    read BLOB_ROOT and SECRET_KEY from settings, both are pointed at the same place.
    """
    if settings.BLOB_BACKEND == "s3":
        yield container.blobs()
        return
    settings.BLOB_ROOT = tmp_path / "blobs"
    store = LocalBlobStore(root=str(settings.BLOB_ROOT), base_url="http://testserver", secret=settings.SECRET_KEY)
    with container.blobs.override(store):
        yield store


# --- accounts -----------------------------------------------------------------------------


@dataclass
class Account:
    """A user and an API client authenticated as them."""

    user: User
    password: str
    api: APIClient

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def email(self) -> str:
        return self.user.email


MakeAccount = Callable[..., Account]


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def make_account() -> MakeAccount:
    """Register an account of a role (staff through the users port: staff cannot self-register)."""

    def make(role: Role = Role.CLIENT, *, name: str = "Test User", email: str | None = None) -> Account:
        email = email or f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
        if role is Role.STAFF:
            user = User(id=UserId(new_id()), email=email, role=role, name=name, signed_up_at=NOW)
            container.users().add(user, password=PASSWORD)
        else:
            user = container.account_register(email=email, password=PASSWORD, name=name, role=role)
        api = APIClient()
        api.force_authenticate(user=get_user_model().objects.get(pk=user.id))
        return Account(user=user, password=PASSWORD, api=api)

    return make


@pytest.fixture
def client_account(make_account: MakeAccount) -> Account:
    return make_account(Role.CLIENT, name="Clara Client")


@pytest.fixture
def other_client(make_account: MakeAccount) -> Account:
    return make_account(Role.CLIENT, name="Oscar Other")


@pytest.fixture
def expert_account(make_account: MakeAccount) -> Account:
    return make_account(Role.EXPERT, name="Erin Expert")


@pytest.fixture
def other_expert(make_account: MakeAccount) -> Account:
    return make_account(Role.EXPERT, name="Ezra Elsewhere")


@pytest.fixture
def staff(make_account: MakeAccount) -> Account:
    return make_account(Role.STAFF, name="Sam Staff")


# --- profiles and bookings, made through the use cases --------------------------------------

PROFILE_DEFAULTS: dict[str, Any] = {
    "headline": "Django and PostgreSQL consultant",
    "bio": "Ten years of Python web backends.",
    "skills": ["Python", "Django"],
    "languages": ["en"],
    "timezone": "Europe/Berlin",
    "hourly_rate": Money(12000, "USD"),
}


def make_profile(owner: Account, *, publish: bool = True, **values: Any) -> ExpertProfile:
    profile = container.expert_create(actor=owner.id, **{**PROFILE_DEFAULTS, **values})
    if publish:
        profile = container.expert_publish(actor=owner.id, expert_id=profile.id)
    return profile


def make_booking(
    client: Account, profile: ExpertProfile, *, starts_at: datetime | None = None, duration_minutes: int = 60
) -> Booking:
    return container.booking_request(
        actor=client.id,
        expert_id=profile.id,
        starts_at=starts_at or NOW + timedelta(days=2),
        duration_minutes=duration_minutes,
        topic="Review my Django project",
    )


def complete_booking(client: Account, expert: Account, booking: Booking, clock: FixedClock) -> Booking:
    """Accept the booking, move the clock past its end, complete it."""
    container.booking_accept(actor=expert.id, booking_id=booking.id)
    clock.set(max(clock.now(), booking.ends_at + timedelta(minutes=1)))
    return container.booking_complete(actor=client.id, booking_id=booking.id)


@pytest.fixture
def published(expert_account: Account) -> ExpertProfile:
    """expert_account's published profile."""
    return make_profile(expert_account)


# --- assertions ------------------------------------------------------------------------------


def assert_error(response: Any, status: int, code: str | None = None, *fields: str) -> dict[str, Any]:
    """The response is the one error shape with this status (and code, and these bad fields)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert isinstance(error["message"], str)
    assert error["message"]
    if code is not None:
        assert error["code"] == code, error
    for name in fields:
        assert name in error["fields"], error
        assert all(isinstance(message, str) for message in error["fields"][name])
    return error


def row_counts() -> dict[str, int]:
    """How many accounts, profiles, bookings and reviews are stored: bad input must change none."""
    return {
        "users": get_user_model().objects.count(),
        "profiles": ExpertProfileRow.objects.count(),
        "bookings": BookingRow.objects.count(),
        "reviews": ReviewRow.objects.count(),
    }


class CommitAtBlockEnd:
    """Runs a use case's on-commit callbacks when its outermost block ends.

    pytest-django wraps each test in a transaction that never commits, so Django
    would never run on_commit callbacks (cache invalidation, events). Production
    requests are not atomic, so a use case's outermost block IS the commit; a
    block that fails drops its callbacks, as a rollback does.
    """

    def __init__(self) -> None:
        self._uow = DjangoUnitOfWork()
        self._depth = 0

    @contextmanager
    def atomic(self) -> Iterator[None]:
        self._depth += 1
        try:
            if self._depth > 1:
                with self._uow.atomic():
                    yield
            else:
                with TestCase.captureOnCommitCallbacks(execute=True), self._uow.atomic():
                    yield
        finally:
            self._depth -= 1

    def on_commit(self, callback: Callable[[], None]) -> None:
        if self._depth:
            self._uow.on_commit(callback)
        else:
            callback()


@pytest.fixture(autouse=True)
def _commits_run_callbacks() -> Iterator[None]:
    with container.uow.override(CommitAtBlockEnd()):
        yield
