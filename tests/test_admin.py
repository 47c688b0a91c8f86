"""The back office: staff reach every page, search and filter, and moderate through the use cases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from adapters.orm.models import BookingRow, ExpertProfileRow, ReviewRow, User
from api.management.commands.seed_demo import CLIENT_EMAIL, STAFF_EMAIL
from domain.pagination import PageRequest
from domain.search import SearchQuery
from project.container import container
from tests.test_seed_demo import seeded_for_module

pytestmark = pytest.mark.django_db

MODELS: list[type[Model]] = [User, ExpertProfileRow, BookingRow, ReviewRow]


@pytest.fixture(scope="module")
def marketplace(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    with seeded_for_module(django_db_blocker, experts=16, clients=6):
        yield


@pytest.fixture
def staff(client: Client, marketplace: None, db: None) -> Client:
    client.force_login(User.objects.get(email=STAFF_EMAIL))
    return client


def changelist(model: type[Model]) -> str:
    return reverse(f"admin:orm_{model._meta.model_name}_changelist")


def change(row: Model) -> str:
    return reverse(f"admin:orm_{row._meta.model_name}_change", args=[row.pk])


def searchable_ids() -> set[object]:
    page = container.expert_search(query=SearchQuery(page=PageRequest(size=100)))
    return {profile.id for profile in page.profiles}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_staff_open_every_changelist_and_change_page(staff: Client, model: type[Model]) -> None:
    assert staff.get(changelist(model)).status_code == 200
    row = model._default_manager.order_by("pk").first()
    assert row is not None
    assert staff.get(change(row)).status_code == 200


def test_staff_open_the_index_and_the_add_user_page(staff: Client) -> None:
    assert staff.get(reverse("admin:index")).status_code == 200
    assert staff.get(reverse("admin:orm_user_add")).status_code == 200


def test_a_client_account_is_sent_to_the_login_page(client: Client, marketplace: None, db: None) -> None:
    client.force_login(User.objects.get(email=CLIENT_EMAIL))

    response = client.get(changelist(BookingRow))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


@pytest.mark.parametrize(
    ("model", "query", "expected"),
    [
        (User, {"q": CLIENT_EMAIL}, lambda: User.objects.filter(email=CLIENT_EMAIL)),
        (User, {"role__exact": "expert"}, lambda: User.objects.filter(role="expert")),
        (ExpertProfileRow, {"status__exact": "draft"}, lambda: ExpertProfileRow.objects.filter(status="draft")),
        (
            ExpertProfileRow,
            {"rate_currency__exact": "EUR"},
            lambda: ExpertProfileRow.objects.filter(rate_currency="EUR"),
        ),
        (ExpertProfileRow, {"q": "django"}, lambda: ExpertProfileRow.objects.filter(skills__icontains="django")),
        (BookingRow, {"status__exact": "completed"}, lambda: BookingRow.objects.filter(status="completed")),
        (BookingRow, {"q": CLIENT_EMAIL}, lambda: BookingRow.objects.filter(client__email=CLIENT_EMAIL)),
        (ReviewRow, {"rating__exact": "5"}, lambda: ReviewRow.objects.filter(rating=5)),
    ],
)
def test_search_and_filters_narrow_the_changelists(
    staff: Client, model: type[Model], query: dict[str, str], expected: object
) -> None:
    response = staff.get(changelist(model), query)

    assert response.status_code == 200
    want = set(expected().values_list("pk", flat=True))  # type: ignore[operator]
    assert want
    assert {row.pk for row in response.context["cl"].result_list} == want


def test_bookings_filter_by_start_date(staff: Client) -> None:
    upcoming = BookingRow.objects.order_by("-starts_at").first()
    assert upcoming is not None
    midnight = datetime.combine(upcoming.starts_at.date(), time(), tzinfo=UTC)
    day = {"starts_at__gte": str(midnight), "starts_at__lt": str(midnight + timedelta(days=1))}

    response = staff.get(changelist(BookingRow), day)

    assert response.status_code == 200
    assert upcoming in response.context["cl"].result_list


def act(staff: Client, action: str, *rows: ExpertProfileRow) -> list[str]:
    response = staff.post(
        changelist(ExpertProfileRow),
        {"action": action, "_selected_action": [str(row.pk) for row in rows]},
        follow=True,
    )
    assert response.status_code == 200
    return [str(message) for message in response.context["messages"]]


def test_suspend_and_reinstate_go_through_the_use_cases_and_the_search_index(staff: Client) -> None:
    expert = ExpertProfileRow.objects.filter(status="published").first()
    assert expert is not None
    assert expert.id in searchable_ids()

    assert act(staff, "suspend", expert) == ["1 profile(s) suspended."]
    expert.refresh_from_db()
    assert expert.status == "suspended"
    assert expert.id not in searchable_ids()

    assert act(staff, "reinstate", expert) == ["1 profile(s) reinstated."]
    expert.refresh_from_db()
    assert expert.status == "published"
    assert expert.id in searchable_ids()


def test_staff_cannot_publish_an_experts_draft_from_the_admin(staff: Client) -> None:
    # Only the owner publishes (services/experts.py, expert_publish; docs/api.md's endpoint table).
    draft = ExpertProfileRow.objects.filter(status="draft").first()
    assert draft is not None
    actions = [
        name for name, _ in staff.get(changelist(ExpertProfileRow)).context["action_form"].fields["action"].choices
    ]

    act(staff, "publish", draft)

    assert "suspend" in actions
    assert "publish" not in actions
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_a_refused_row_is_reported_and_the_others_still_change(staff: Client) -> None:
    published, other = ExpertProfileRow.objects.filter(status="published")[:2]
    act(staff, "suspend", published)

    messages = act(staff, "suspend", published, other)

    assert f"{published.display_name}: Cannot suspend a suspended profile." in messages
    assert "1 profile(s) suspended." in messages
    other.refresh_from_db()
    assert other.status == "suspended"


def test_derived_fields_cannot_be_edited(staff: Client) -> None:
    expert = ExpertProfileRow.objects.filter(rating_count__gt=0).first()
    assert expert is not None

    response = staff.post(change(expert), {"status": "draft", "rating_count": 99, "rating_total": 495})

    assert response.status_code == 403
    expert.refresh_from_db()
    assert expert.rating_count != 99


def test_a_review_comment_can_be_moderated_but_not_its_rating(staff: Client) -> None:
    review = ReviewRow.objects.exclude(rating=1).first()
    assert review is not None
    rating = review.rating

    response = staff.post(change(review), {"comment": "[removed by staff]", "rating": 1})

    assert response.status_code == 302
    review.refresh_from_db()
    assert review.comment == "[removed by staff]"
    assert review.rating == rating


def test_staff_add_an_account_with_a_normalised_email(staff: Client) -> None:
    response = staff.post(
        reverse("admin:orm_user_add"),
        {
            "email": "  New.Expert@ExpertHub.local ",
            "name": "New Expert",
            "role": "expert",
            "usable_password": "true",
            "password1": "a-long-unusual-passphrase",
            "password2": "a-long-unusual-passphrase",
        },
    )

    assert response.status_code == 302
    created = User.objects.get(email="new.expert@experthub.local")
    assert created.role == "expert"
    assert created.check_password("a-long-unusual-passphrase")


def count_queries(staff: Client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = staff.get(url)
    assert response.status_code == 200
    return len(queries), len(response.context["cl"].result_list)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelists_use_the_same_number_of_queries_for_one_row_or_many(staff: Client, model: type[Model]) -> None:
    staff.get(changelist(model))  # the first request writes the session; measure steady ones
    many_queries, many_rows = count_queries(staff, changelist(model))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(admin.site._registry[model], "list_per_page", 1)
        one_queries, one_rows = count_queries(staff, changelist(model))

    assert one_rows == 1
    assert many_rows > 3
    assert one_queries == many_queries
