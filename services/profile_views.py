"""Profile views: count them, and rank the experts clients look at most (the ExpertViewCounter port)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from domain.errors import InvalidInput, PortError
from domain.experts import ExpertProfile, ExpertStatus
from domain.ids import ExpertId
from domain.ports import Clock, ExpertRepository, ExpertViewCounter

logger = logging.getLogger(__name__)

MAX_TRENDING_DAYS = 30
MAX_TRENDING_LIMIT = 50


@dataclass(frozen=True, slots=True)
class TrendingExpert:
    profile: ExpertProfile
    views: int


def expert_record_view(*, view_counter: ExpertViewCounter, clock: Clock, expert_id: ExpertId) -> None:
    """Count one view of a profile. Best effort: a counter outage is logged, never the viewer's error.

    Decided here rather than in the view: every entrypoint that shows a
    profile gets the same rule, and the view keeps its no-try/except shape.
    """
    try:
        view_counter.record_view(expert_id, at=clock.now())
    except PortError:
        logger.warning("A view of expert %s was not counted: the counter is unavailable.", expert_id, exc_info=True)


def expert_trending(
    *, view_counter: ExpertViewCounter, experts: ExpertRepository, clock: Clock, days: int, limit: int
) -> list[TrendingExpert]:
    """The most viewed published experts over the last ``days`` UTC days (today included), most views first.

    Best effort like the counting: with the counter unavailable the list is
    empty (and the outage logged), so a page showing it still renders.
    """
    if not 1 <= days <= MAX_TRENDING_DAYS:
        raise InvalidInput.on_field("days", f"Between 1 and {MAX_TRENDING_DAYS} days.")
    if not 1 <= limit <= MAX_TRENDING_LIMIT:
        raise InvalidInput.on_field("limit", f"Between 1 and {MAX_TRENDING_LIMIT} experts.")
    try:
        # Twice the limit: experts suspended since their views were counted are left out below.
        ranked = view_counter.trending(now=clock.now(), days=days, limit=2 * limit)
    except PortError:
        logger.warning("Trending experts unavailable: the view counter is unavailable.", exc_info=True)
        return []
    profiles = {profile.id: profile for profile in experts.get_many([expert_id for expert_id, _ in ranked])}
    listed = [
        TrendingExpert(profile=profiles[expert_id], views=views)
        for expert_id, views in ranked
        if expert_id in profiles and profiles[expert_id].status is ExpertStatus.PUBLISHED
    ]
    return listed[:limit]
