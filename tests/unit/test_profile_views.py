"""Counting profile views and the trending list: best effort around the ExpertViewCounter port."""

from __future__ import annotations

import logging
from datetime import datetime

import pytest

from adapters.memory.counters import InMemoryExpertViewCounter
from domain.errors import InvalidInput, PortError
from domain.ids import ExpertId
from tests.unit.conftest import World


class DownCounter(InMemoryExpertViewCounter):
    """A counter whose store is unreachable, as an adapter reports it."""

    def record_view(self, expert_id: ExpertId, *, at: datetime) -> None:
        raise PortError("down")

    def trending(self, *, now: datetime, days: int, limit: int) -> list[tuple[ExpertId, int]]:
        raise PortError("down")


def test_a_view_is_counted_at_the_clocks_time(world: World) -> None:
    expert = world.published_expert()

    world.expert_record_view(expert_id=expert.id)

    assert world.view_counter.count(expert.id) == 1
    assert world.view_counter.trending(now=world.clock.now(), days=1, limit=5) == [(expert.id, 1)]


def test_a_counter_outage_is_logged_never_raised(world: World, caplog: pytest.LogCaptureFixture) -> None:
    expert = world.published_expert()

    with world.container.view_counter.override(DownCounter()), caplog.at_level(logging.WARNING):
        world.expert_record_view(expert_id=expert.id)
        page = world.expert_profile_page(actor=None, expert_id=expert.id, render=lambda p: {"id": str(p.id)})
        trending = world.expert_trending(days=7, limit=10)

    assert page == {"id": str(expert.id)}
    assert trending == []
    assert caplog.text.count("the counter is unavailable") == 2
    assert "Trending experts unavailable" in caplog.text


def test_trending_lists_published_experts_most_viewed_first(world: World) -> None:
    ada, bob, cy = (world.published_expert() for _ in range(3))
    for expert, views in ((ada, 1), (bob, 3), (cy, 2)):
        for _ in range(views):
            world.expert_record_view(expert_id=expert.id)

    trending = world.expert_trending(days=7, limit=2)

    assert [(entry.profile.id, entry.views) for entry in trending] == [(bob.id, 3), (cy.id, 2)]


def test_trending_leaves_out_suspended_experts_and_still_fills_the_list(world: World) -> None:
    experts = [world.published_expert() for _ in range(4)]
    for rank, expert in enumerate(experts):
        for _ in range(10 - rank):
            world.expert_record_view(expert_id=expert.id)
    world.expert_suspend(actor=world.staff().id, expert_id=experts[0].id)

    trending = world.expert_trending(days=7, limit=2)

    assert [entry.profile.id for entry in trending] == [experts[1].id, experts[2].id]


def test_trending_counts_the_last_days_only(world: World) -> None:
    old, recent = world.published_expert(), world.published_expert()
    for _ in range(5):
        world.expert_record_view(expert_id=old.id)
    world.clock.advance(days=7)
    world.expert_record_view(expert_id=recent.id)

    assert [entry.profile.id for entry in world.expert_trending(days=7, limit=10)] == [recent.id]
    assert [entry.profile.id for entry in world.expert_trending(days=8, limit=10)] == [old.id, recent.id]


@pytest.mark.parametrize(
    ("days", "limit", "field"), [(0, 10, "days"), (31, 10, "days"), (7, 0, "limit"), (7, 51, "limit")]
)
def test_trending_bounds(world: World, days: int, limit: int, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        world.expert_trending(days=days, limit=limit)

    assert field in error.value.fields
