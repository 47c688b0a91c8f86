"""Every write that changes a public expert page drops it from the response cache, after commit only.

State, not calls: each test caches pages in the in-memory ResponseCache,
runs a use case through the container, and looks at what is still served.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from domain.errors import InvalidInput, PermissionDenied
from domain.experts import ExpertProfile
from domain.money import Money
from domain.users import Role
from services.experts import SEARCH_PAGES, expert_pages
from tests.unit.conftest import World
from tests.unit.test_avatars import uploaded
from tests.unit.test_reviews import completed_booking


class Boom(Exception):
    pass


def in_a_failing_transaction(world: World, work: Callable[[], Any]) -> None:
    """Run ``work`` in a transaction that fails after it: the use case's block is rolled back too."""
    with world.uow.atomic():
        work()
        raise Boom


def cache_pages(world: World, *experts: ExpertProfile) -> None:
    """A cached search page, and each expert's cached profile page."""
    world.response_cache.set(SEARCH_PAGES, "q=", {"count": len(experts)})
    for expert in experts:
        world.response_cache.set(expert_pages(expert.id), "public", {"id": str(expert.id)})


def cached(world: World, expert: ExpertProfile) -> dict[str, bool]:
    return {
        "search": world.response_cache.get(SEARCH_PAGES, "q=") is not None,
        "profile": world.response_cache.get(expert_pages(expert.id), "public") is not None,
    }


DROPPED = {"search": False, "profile": False}
KEPT = {"search": True, "profile": True}


def update(world: World, expert: ExpertProfile) -> Any:
    return world.expert_update(actor=expert.owner_id, expert_id=expert.id, headline="Now with Rust")


def suspend(world: World, expert: ExpertProfile) -> Any:
    return world.expert_suspend(actor=world.staff().id, expert_id=expert.id)


def reinstate(world: World, expert: ExpertProfile) -> Any:
    staff = world.staff()
    world.expert_suspend(actor=staff.id, expert_id=expert.id)
    cache_pages(world, expert)  # pages cached while it was suspended
    return world.expert_reinstate(actor=staff.id, expert_id=expert.id)


def confirm_avatar(world: World, expert: ExpertProfile) -> Any:
    form = uploaded(world, expert)
    return world.avatar_upload_confirm(actor=expert.owner_id, expert_id=expert.id, upload_id=form.upload_id)


def review(world: World, expert: ExpertProfile) -> Any:
    _, client, booking = completed_booking(world, expert=expert)
    return world.review_create(actor=client.id, booking_id=booking.id, rating=4)


WRITES: dict[str, Callable[[World, ExpertProfile], Any]] = {
    "update": update,
    "suspend": suspend,
    "reinstate": reinstate,
    "avatar confirm": confirm_avatar,
    "review": review,
}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_a_write_drops_the_experts_profile_and_every_search_page(
    world: World, write: Callable[[World, ExpertProfile], Any]
) -> None:
    expert, bystander = world.published_expert(), world.published_expert()
    cache_pages(world, expert, bystander)

    write(world, expert)

    assert cached(world, expert) == DROPPED
    assert world.response_cache.get(expert_pages(bystander.id), "public") is not None


def test_create_then_publish_drop_the_search_pages_and_the_new_profile(world: World) -> None:
    owner = world.register(Role.EXPERT)
    world.response_cache.set(SEARCH_PAGES, "q=", {"count": 0})

    draft = world.expert_create(actor=owner.id, headline="Go and Rust", skills=["go"], hourly_rate=Money(9000, "EUR"))

    assert cached(world, draft)["search"] is False
    cache_pages(world, draft)
    world.expert_publish(actor=owner.id, expert_id=draft.id)
    assert cached(world, draft) == DROPPED


def test_reindexing_drops_every_search_page(world: World) -> None:
    expert = world.published_expert()
    cache_pages(world, expert)

    world.expert_reindex_all()

    assert cached(world, expert) == {"search": False, "profile": True}


@pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
def test_a_rolled_back_write_drops_nothing(world: World, write: Callable[[World, ExpertProfile], Any]) -> None:
    expert = world.published_expert()
    cache_pages(world, expert)

    with pytest.raises(Boom):
        in_a_failing_transaction(world, lambda: write(world, expert))

    assert cached(world, expert) == KEPT


def test_invalidation_waits_for_the_commit(world: World) -> None:
    expert = world.published_expert()

    with world.uow.atomic():
        update(world, expert)
        cache_pages(world, expert)  # a reader caches the old page before the write commits
        assert cached(world, expert) == KEPT

    assert cached(world, expert) == DROPPED


@pytest.mark.parametrize(
    ("refused", "error"),
    [
        (lambda world, expert: world.expert_update(actor=world.register().id, expert_id=expert.id), PermissionDenied),
        (
            lambda world, expert: world.expert_update(actor=expert.owner_id, expert_id=expert.id, headline=""),
            InvalidInput,
        ),
        (lambda world, expert: world.expert_suspend(actor=expert.owner_id, expert_id=expert.id), PermissionDenied),
    ],
    ids=["stranger edits", "invalid edit", "non-staff suspends"],
)
def test_a_refused_write_drops_nothing(
    world: World, refused: Callable[[World, ExpertProfile], Any], error: type[Exception]
) -> None:
    expert = world.published_expert()
    cache_pages(world, expert)

    with pytest.raises(error):
        refused(world, expert)

    assert cached(world, expert) == KEPT
