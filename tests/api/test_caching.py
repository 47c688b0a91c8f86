"""Cache-aside over HTTP: a repeated search or profile read costs no query, every write shows at once,
drafts never reach strangers from the cache; profile views feed the trending list.

Transactional: invalidation runs after COMMIT (on_commit), which the default
test transaction never reaches.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from adapters.django_cache.responses import DjangoResponseCache
from adapters.memory.counters import InMemoryExpertViewCounter
from adapters.memory.reports import InMemorySearchLog
from adapters.memory.store import FixedClock, MemoryDatabase
from adapters.orm.counters import DjangoExpertViewCounter
from adapters.orm.reports import DjangoSearchLog
from domain.experts import ExpertProfile
from project.container import container
from tests.api.conftest import API, Account, assert_error, complete_booking, make_booking, make_profile
from tests.api.test_avatars import confirm, start, upload

pytestmark = pytest.mark.django_db(transaction=True)

EXPERTS = f"{API}/experts/"
EPOCH, FAR = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
TRENDING = f"{API}/experts/trending/"


def detail(profile: ExpertProfile) -> str:
    return f"{EXPERTS}{profile.id}/"


@pytest.fixture(autouse=True)
def _empty_search_index() -> None:
    """Flushing the tables between transactional tests leaves an index kept outside the ORM (FTS5) as it was."""
    container.search().clear()


@pytest.fixture
def search_log() -> Iterator[InMemorySearchLog]:
    """Searches counted in memory, so a search served from the cache makes no query at all."""
    memory = InMemorySearchLog(MemoryDatabase())
    with container.search_log.override(memory):
        yield memory


@pytest.fixture
def counter() -> Iterator[InMemoryExpertViewCounter]:
    """Views counted in memory, so a profile read served from the cache makes no query at all."""
    memory = InMemoryExpertViewCounter()
    with container.view_counter.override(memory):
        yield memory


# --- a hit costs nothing -------------------------------------------------------------------


def test_a_repeated_search_makes_no_query(
    anon: APIClient, published: ExpertProfile, django_assert_num_queries: Any
) -> None:
    first = anon.get(EXPERTS, {"q": "django", "page_size": 5})

    with django_assert_num_queries(0):
        second = anon.get(EXPERTS, {"q": "django", "page_size": 5})

    assert second.status_code == 200
    assert second.json() == first.json()
    assert second.json()["count"] == 1


def test_the_same_search_written_differently_is_a_hit(
    anon: APIClient, published: ExpertProfile, search_log: InMemorySearchLog, django_assert_num_queries: Any
) -> None:
    first = anon.get(EXPERTS, {"q": "Django", "skills": "python,django", "languages": "en"})

    with django_assert_num_queries(0):
        second = anon.get(f"{EXPERTS}?languages=EN&skills=Django&skills=Python&q=%20django%20")

    assert second.json()["results"] == first.json()["results"]
    assert sorted(search_log.top_skills(EPOCH, FAR, limit=5)) == [("django", 2), ("python", 2)]  # the hit counted too


def test_with_the_orm_search_log_a_cached_search_only_writes_the_counts(
    anon: APIClient, published: ExpertProfile, django_assert_num_queries: Any
) -> None:
    anon.get(EXPERTS, {"skills": "python,django"})

    with django_assert_num_queries(2):  # UPDATE ... SET searches = searches + 1, per skill
        assert anon.get(EXPERTS, {"skills": "django,python"}).status_code == 200

    assert DjangoSearchLog().top_skills(EPOCH, FAR, limit=5) == [("django", 2), ("python", 2)]


def test_a_cached_search_page_links_to_the_host_that_asked(
    anon: APIClient, expert_account: Account, other_expert: Account, django_assert_num_queries: Any
) -> None:
    make_profile(expert_account)
    make_profile(other_expert)
    assert anon.get(EXPERTS, {"page_size": 1}, HTTP_HOST="localhost").json()["next"].startswith("http://localhost/")

    with django_assert_num_queries(0):
        page = anon.get(EXPERTS, {"page_size": 1}, HTTP_HOST="127.0.0.1").json()

    assert page["next"].startswith("http://127.0.0.1/")
    assert page["count"] == 2


def test_a_repeated_profile_read_makes_no_query(
    anon: APIClient, published: ExpertProfile, counter: InMemoryExpertViewCounter, django_assert_num_queries: Any
) -> None:
    first = anon.get(detail(published))

    with django_assert_num_queries(0):
        second = anon.get(detail(published))

    assert second.status_code == 200
    assert second.json() == first.json()
    assert counter.count(published.id) == 2  # both views counted, the cached one too


def test_with_the_orm_counter_a_cached_profile_read_only_writes_the_view(
    anon: APIClient, published: ExpertProfile, django_assert_num_queries: Any
) -> None:
    orm_counter = DjangoExpertViewCounter()
    with container.view_counter.override(orm_counter):
        anon.get(detail(published))

        with django_assert_num_queries(1):  # UPDATE ... SET views = views + 1
            assert anon.get(detail(published)).status_code == 200

    assert orm_counter.count(published.id) == 2


def test_a_new_release_does_not_serve_the_previous_ones_pages(
    anon: APIClient, published: ExpertProfile, django_assert_num_queries: Any
) -> None:
    anon.get(EXPERTS)

    with (
        container.response_cache.override(DjangoResponseCache(version="next-release", timeout=60)),
        CaptureQueriesContext(connection) as queries,
    ):
        response = anon.get(EXPERTS)

    assert queries.captured_queries  # a miss: the next release renders its own page
    assert response.json()["count"] == 1
    with django_assert_num_queries(0):  # the previous release's page is still there for it
        anon.get(EXPERTS)


# --- every write shows at once ---------------------------------------------------------------


def test_an_edit_shows_at_once(anon: APIClient, expert_account: Account, published: ExpertProfile) -> None:
    anon.get(detail(published))
    anon.get(EXPERTS, {"q": "rust"})

    edited = expert_account.api.patch(detail(published), {"headline": "Rust and Django consultant"})

    assert edited.status_code == 200
    assert anon.get(detail(published)).json()["headline"] == "Rust and Django consultant"
    assert anon.get(EXPERTS, {"q": "rust"}).json()["count"] == 1


def test_moderation_shows_at_once(anon: APIClient, staff: Account, published: ExpertProfile) -> None:
    assert anon.get(detail(published)).status_code == 200
    assert anon.get(EXPERTS).json()["count"] == 1

    staff.api.post(f"{detail(published)}suspend/")
    assert_error(anon.get(detail(published)), 404)
    assert anon.get(EXPERTS).json()["count"] == 0

    staff.api.post(f"{detail(published)}reinstate/")
    assert anon.get(detail(published)).status_code == 200
    assert anon.get(EXPERTS).json()["count"] == 1


def test_publishing_shows_at_once(anon: APIClient, expert_account: Account) -> None:
    draft = make_profile(expert_account, publish=False)
    assert anon.get(EXPERTS).json()["count"] == 0

    expert_account.api.post(f"{detail(draft)}publish/")

    assert anon.get(EXPERTS).json()["count"] == 1
    assert anon.get(detail(draft)).json()["status"] == "published"


def test_a_review_moves_the_cached_rating(
    anon: APIClient, client_account: Account, expert_account: Account, published: ExpertProfile, clock: FixedClock
) -> None:
    booking = complete_booking(client_account, expert_account, make_booking(client_account, published), clock)
    assert anon.get(detail(published)).json()["rating_count"] == 0
    assert anon.get(EXPERTS, {"sort": "rating"}).json()["results"][0]["rating_count"] == 0

    client_account.api.post(f"{API}/bookings/{booking.id}/review/", {"rating": 4})

    assert anon.get(detail(published)).json()["rating_average"] == 4.0
    assert anon.get(EXPERTS, {"sort": "rating"}).json()["results"][0]["rating_count"] == 1


def test_a_new_avatar_shows_at_once(anon: APIClient, expert_account: Account, published: ExpertProfile) -> None:
    assert anon.get(detail(published)).json()["avatar_url"] is None
    ticket = start(expert_account, published)
    upload(ticket)

    assert confirm(expert_account, published, ticket).status_code == 200

    assert anon.get(detail(published)).json()["avatar_url"] is not None
    assert anon.get(EXPERTS).json()["results"][0]["avatar_url"] is not None


# --- drafts stay private -----------------------------------------------------------------------


def test_a_draft_its_owner_reads_is_never_served_to_a_stranger(anon: APIClient, expert_account: Account) -> None:
    draft = make_profile(expert_account, publish=False)

    assert expert_account.api.get(detail(draft)).json()["status"] == "draft"
    assert_error(anon.get(detail(draft)), 404)


def test_a_suspended_profile_staff_read_is_never_served_to_a_stranger(
    anon: APIClient, staff: Account, published: ExpertProfile
) -> None:
    staff.api.post(f"{detail(published)}suspend/")

    assert staff.api.get(detail(published)).json()["status"] == "suspended"
    assert_error(anon.get(detail(published)), 404)


# --- views and trending ------------------------------------------------------------------------


def test_profile_reads_feed_the_trending_list(
    anon: APIClient, expert_account: Account, other_expert: Account, make_account: Any
) -> None:
    popular, quieter = make_profile(expert_account), make_profile(other_expert)
    for _ in range(3):
        anon.get(detail(popular))
    anon.get(detail(quieter))

    response = anon.get(TRENDING, {"days": 1})

    assert response.status_code == 200
    body = response.json()
    assert body["days"] == 1
    assert [(entry["expert"]["id"], entry["views"]) for entry in body["results"]] == [
        (str(popular.id), 3),
        (str(quieter.id), 1),
    ]
    assert body["results"][0]["expert"]["headline"] == popular.headline


def test_trending_leaves_out_suspended_experts(anon: APIClient, staff: Account, published: ExpertProfile) -> None:
    anon.get(detail(published))
    staff.api.post(f"{detail(published)}suspend/")

    assert anon.get(TRENDING).json() == {"days": 7, "results": []}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"days": 0}, "days"), ({"days": 31}, "days"), ({"limit": 51}, "limit"), ({"days": "week"}, "days")],
)
def test_trending_bounds(anon: APIClient, params: dict[str, Any], field: str) -> None:
    assert_error(anon.get(TRENDING, params), 400, None, field)
