"""`manage.py seed_demo` on a small scale: every status, consistent aggregates, idempotent."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from itertools import pairwise
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Sum
from django.test import RequestFactory

from adapters.orm.models import BookingRow, ExpertProfileRow, ReviewRow, User
from api.management.commands.seed_demo import CLIENT_EMAIL, EXPERT_EMAIL, STAFF_EMAIL
from domain.money import Money
from domain.pagination import PageRequest
from domain.search import SearchQuery
from project.container import container

pytestmark = pytest.mark.django_db

EXPERTS = 24
CLIENTS = 10


@contextmanager
def seeded_for_module(django_db_blocker: Any, **options: Any) -> Iterator[str]:
    """Seed once for a whole module, in a transaction rolled back when the module is done.

    Each test still runs in its own savepoint (pytest-django's ``db``), so a
    test that changes the data leaves the next one the seeded state.
    """
    out = StringIO()
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", verbosity=0, stdout=out, **options)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def seeded(django_db_setup: None, django_db_blocker: Any) -> Iterator[str]:
    with seeded_for_module(django_db_blocker, experts=EXPERTS, clients=CLIENTS, password="demo-pass-1") as out:
        yield out


def test_it_creates_the_requested_accounts_and_prints_how_to_log_in(seeded: str) -> None:
    roles = Counter(User.objects.values_list("role", flat=True))

    assert roles == {"expert": EXPERTS, "client": CLIENTS, "staff": 1}
    for email in (STAFF_EMAIL, CLIENT_EMAIL, EXPERT_EMAIL):
        assert f"{email} / demo-pass-1" in seeded
        login = RequestFactory().post("/api/v1/auth/token/")  # django-axes counts logins per request
        assert authenticate(login, email=email, password="demo-pass-1") is not None
    assert "/api/v1/" in seeded
    assert "/api/docs/" in seeded
    assert "/admin/" in seeded


def test_the_staff_account_opens_the_admin(seeded: str) -> None:
    staff = User.objects.get(email=STAFF_EMAIL)

    assert staff.role == "staff"
    assert staff.is_staff


def test_profiles_are_published_draft_and_suspended(seeded: str) -> None:
    statuses = Counter(ExpertProfileRow.objects.values_list("status", flat=True))

    assert set(statuses) == {"published", "draft", "suspended"}
    assert statuses["published"] > statuses["draft"] + statuses["suspended"]


def test_bookings_exist_in_every_status_with_reviews(seeded: str) -> None:
    statuses = set(BookingRow.objects.values_list("status", flat=True))

    assert statuses == {"requested", "accepted", "declined", "cancelled", "completed"}
    assert ReviewRow.objects.exists()
    assert not ReviewRow.objects.exclude(booking__status="completed").exists()


def test_the_demo_client_has_a_booking_with_the_demo_expert_in_every_status(seeded: str) -> None:
    showcase = BookingRow.objects.filter(client__email=CLIENT_EMAIL, expert_user__email=EXPERT_EMAIL)

    assert set(showcase.values_list("status", flat=True)) == {
        "requested",
        "accepted",
        "declined",
        "cancelled",
        "completed",
    }
    # One completed booking is left unreviewed, for trying the review endpoint.
    assert showcase.filter(status="completed", review__isnull=True).exists()


def test_rating_aggregates_match_the_reviews(seeded: str) -> None:
    from_reviews = {
        row["expert"]: (row["count"], row["total"])
        for row in ReviewRow.objects.values("expert").annotate(count=Count("id"), total=Sum("rating"))
    }

    for expert in ExpertProfileRow.objects.all():
        assert (expert.rating_count, expert.rating_total) == from_reviews.get(expert.id, (0, 0))


def test_prices_are_the_rate_times_the_duration(seeded: str) -> None:
    for booking in BookingRow.objects.select_related("expert"):
        rate = Money(booking.expert.rate_amount, booking.expert.rate_currency)
        assert Money(booking.price_amount, booking.price_currency) == rate.for_minutes(booking.duration_minutes)


def test_no_expert_has_overlapping_accepted_bookings(seeded: str) -> None:
    held: dict[object, list[BookingRow]] = defaultdict(list)
    for booking in BookingRow.objects.filter(status__in=["accepted", "completed"]).order_by("starts_at"):
        held[booking.expert_id].append(booking)

    for bookings in held.values():
        for earlier, later in pairwise(bookings):
            assert earlier.ends_at <= later.starts_at


def test_the_search_index_holds_exactly_the_published_experts(seeded: str) -> None:
    page = container.expert_search(query=SearchQuery(page=PageRequest(size=100)))

    published = set(ExpertProfileRow.objects.filter(status="published").values_list("id", flat=True))
    assert {profile.id for profile in page.profiles} == published
    assert page.total == len(published)
    assert page.facets


def test_a_second_run_changes_nothing(seeded: str) -> None:
    counts = (User.objects.count(), BookingRow.objects.count(), ReviewRow.objects.count())
    out = StringIO()

    call_command("seed_demo", experts=EXPERTS, clients=CLIENTS, verbosity=0, stdout=out)

    assert "nothing to do" in out.getvalue()
    assert (User.objects.count(), BookingRow.objects.count(), ReviewRow.objects.count()) == counts


@pytest.fixture
def memory_backends() -> Iterator[None]:
    """The in-memory adapters, fresh for each run: the command only knows the ports."""
    with container.config.repository_backend.override("memory"), container.config.search_backend.override("memory"):
        yield
    container.reset_singletons()


def seed_in_memory() -> tuple[str, list[tuple[object, ...]]]:
    container.reset_singletons()
    out = StringIO()
    # Small: the in-memory unit of work snapshots every table at every (nested) block.
    call_command("seed_demo", experts=8, clients=4, verbosity=0, stdout=out)
    summary = re.sub(r"in [0-9.]+s", "", out.getvalue())
    profiles = [
        (p.display_name, p.headline, p.bio, p.skills, p.languages, p.hourly_rate, p.rating_count, p.rating_total)
        for p in container.experts().iter_published()
    ]
    return summary, sorted(profiles)


def test_the_same_marketplace_is_seeded_every_time(memory_backends: None) -> None:
    first = seed_in_memory()
    second = seed_in_memory()

    assert first == second
    assert "bookings:" in first[0]
    assert len(first[1]) > 4
