"""Cache-aside of the public expert pages: what is cached, for whom, and what a hit costs."""

from __future__ import annotations

from typing import Any

import pytest

from domain.errors import NotFound
from domain.experts import ExpertProfile
from domain.ids import ExpertId, new_id
from domain.money import Money
from domain.pagination import PageRequest
from domain.search import SearchQuery, SearchSort
from domain.users import Role
from services.experts import SEARCH_PAGES, ExpertSearchPage, expert_pages
from services.pages import PUBLIC_PROFILE, search_page_key
from tests.unit.conftest import World


class Renders:
    """A render function that counts its calls: a hit must not render."""

    def __init__(self) -> None:
        self.calls = 0

    def search(self, found: ExpertSearchPage) -> dict[str, Any]:
        self.calls += 1
        return {"total": found.total, "results": [str(p.id) for p in found.profiles], "facets": []}

    def profile(self, profile: ExpertProfile) -> dict[str, Any]:
        self.calls += 1
        return {"id": str(profile.id), "headline": profile.headline, "status": profile.status.value}


@pytest.fixture
def render() -> Renders:
    return Renders()


# --- search ------------------------------------------------------------------------------------


def test_a_search_page_is_rendered_once_then_served_from_the_cache(world: World, render: Renders) -> None:
    expert = world.published_expert()
    query = SearchQuery(text="django")

    first = world.expert_search_page(query=query, render=render.search)
    second = world.expert_search_page(query=query, render=render.search)

    assert first == second == {"total": 1, "results": [str(expert.id)], "facets": []}
    assert render.calls == 1


def test_a_write_shows_in_the_next_search(world: World, render: Renders) -> None:
    expert = world.published_expert()
    world.expert_search_page(query=SearchQuery(text="rust"), render=render.search)

    world.expert_update(actor=expert.owner_id, expert_id=expert.id, headline="Rust consultant")

    assert world.expert_search_page(query=SearchQuery(text="rust"), render=render.search)["total"] == 1


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (SearchQuery(text="Django  REST"), SearchQuery(text=" django rest ")),
        (SearchQuery(skills=("python", "django")), SearchQuery(skills=("Django", "python"))),
        (SearchQuery(languages=("en", "de")), SearchQuery(languages=("DE", "en"))),
    ],
    ids=["text case and spacing", "skill order and case", "language order"],
)
def test_queries_that_give_the_same_page_share_a_key(one: SearchQuery, other: SearchQuery) -> None:
    assert search_page_key(one) == search_page_key(other)


@pytest.mark.parametrize(
    "other",
    [
        SearchQuery(text="django", page=PageRequest(number=2)),
        SearchQuery(text="django", page=PageRequest(size=50)),
        SearchQuery(text="django", sort=SearchSort.RATING),
        SearchQuery(text="django", min_rate=100),
        SearchQuery(text="django", max_rate=100),
        SearchQuery(text="django", currency="EUR"),
        SearchQuery(text="django", min_rating=4.0),
        SearchQuery(text="django", skills=("python",)),
        SearchQuery(text="django", languages=("en",)),
        SearchQuery(text="djangos"),
    ],
)
def test_queries_that_may_differ_have_their_own_keys(other: SearchQuery) -> None:
    assert search_page_key(SearchQuery(text="django")) != search_page_key(other)


# --- profile ------------------------------------------------------------------------------------


def test_a_published_profile_is_rendered_once_and_every_view_counted(world: World, render: Renders) -> None:
    expert = world.published_expert()

    pages = [world.expert_profile_page(actor=None, expert_id=expert.id, render=render.profile) for _ in range(3)]

    assert pages[0] == pages[2]
    assert render.calls == 1
    assert world.view_counter.count(expert.id) == 3


def test_the_cached_profile_is_served_to_everyone(world: World, render: Renders) -> None:
    expert = world.published_expert()
    world.expert_profile_page(actor=expert.owner_id, expert_id=expert.id, render=render.profile)

    world.expert_profile_page(actor=None, expert_id=expert.id, render=render.profile)

    assert render.calls == 1


def test_a_draft_shown_to_its_owner_is_neither_cached_nor_counted(world: World, render: Renders) -> None:
    owner = world.register(Role.EXPERT)
    draft = world.expert_create(actor=owner.id, headline="Go and Rust", skills=["go"], hourly_rate=Money(9000, "EUR"))

    page = world.expert_profile_page(actor=owner.id, expert_id=draft.id, render=render.profile)

    assert page["status"] == "draft"
    assert world.response_cache.get(expert_pages(draft.id), PUBLIC_PROFILE) is None
    assert world.view_counter.count(draft.id) == 0
    with pytest.raises(NotFound):
        world.expert_profile_page(actor=None, expert_id=draft.id, render=render.profile)


def test_a_suspended_profile_shown_to_staff_is_neither_cached_nor_counted(world: World, render: Renders) -> None:
    suspended = world.published_expert()
    staff = world.staff()
    world.expert_suspend(actor=staff.id, expert_id=suspended.id)

    page = world.expert_profile_page(actor=staff.id, expert_id=suspended.id, render=render.profile)

    assert page["status"] == "suspended"
    assert world.response_cache.get(expert_pages(suspended.id), PUBLIC_PROFILE) is None
    assert world.view_counter.count(suspended.id) == 0
    with pytest.raises(NotFound):
        world.expert_profile_page(actor=world.register().id, expert_id=suspended.id, render=render.profile)


def test_an_unknown_expert_is_not_found_and_nothing_is_cached(world: World, render: Renders) -> None:
    with pytest.raises(NotFound):
        world.expert_profile_page(actor=None, expert_id=ExpertId(new_id()), render=render.profile)

    assert world.response_cache.get(SEARCH_PAGES, "anything") is None


def test_a_profile_served_from_the_cache_still_counts_the_view(world: World, render: Renders) -> None:
    expert = world.published_expert()
    world.response_cache.set(expert_pages(expert.id), PUBLIC_PROFILE, {"id": str(expert.id)})

    page = world.expert_profile_page(actor=None, expert_id=expert.id, render=render.profile)

    assert page == {"id": str(expert.id)}
    assert render.calls == 0
    assert world.view_counter.count(expert.id) == 1
