"""The public expert pages with cache-aside: search results and profiles (the ResponseCache port).

What is cached is what the API serves: the JSON-ready data the entrypoint
renders (``render``), never entities, so a hit costs no query and no
serializer. Entries live in the namespaces services/experts.py names, and
those are invalidated after every committed write that changes them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from domain.errors import PortError
from domain.experts import ExpertProfile, ExpertStatus
from domain.ids import ExpertId, UserId
from domain.ports import (
    Clock,
    ExpertRepository,
    ExpertViewCounter,
    ResponseCache,
    SearchIndex,
    SearchLog,
    UserRepository,
)
from domain.search import SearchQuery
from services.experts import SEARCH_PAGES, ExpertSearchPage, expert_get, expert_pages, expert_search
from services.profile_views import expert_record_view

logger = logging.getLogger(__name__)

Rendered = dict[str, Any]
# A published profile renders the same for everyone: one entry per expert.
PUBLIC_PROFILE = "public"


def search_page_key(query: SearchQuery) -> str:
    """The cache key of a search page: the normalised query, page included.

    Queries that must give the same page give the same key: skills (all
    must match) and languages (any may match) in any order, text in any case
    and spacing (every search adapter matches words case-insensitively).
    """
    return json.dumps(
        {
            "q": " ".join(query.text.casefold().split()),
            "skills": sorted(query.skills),
            "languages": sorted(query.languages),
            "min_rate": query.min_rate,
            "max_rate": query.max_rate,
            "currency": query.currency,
            "min_rating": query.min_rating,
            "sort": query.sort.value,
            "page": query.page.number,
            "page_size": query.page.size,
        },
        sort_keys=True,
    )


def expert_search_page(
    *,
    experts: ExpertRepository,
    search: SearchIndex,
    response_cache: ResponseCache,
    search_log: SearchLog,
    clock: Clock,
    query: SearchQuery,
    render: Callable[[ExpertSearchPage], Rendered],
) -> Rendered:
    """One page of search results as rendered, from the cache when it holds it.

    The skills asked for are counted for the daily report, cached answer or not;
    only on the first page, so paging through one search counts it once.
    """
    if query.page.number == 1:
        search_record(search_log=search_log, clock=clock, skills=query.skills)
    key = search_page_key(query)
    page: Rendered | None = response_cache.get(SEARCH_PAGES, key)
    if page is None:
        page = render(expert_search(experts=experts, search=search, query=query))
        response_cache.set(SEARCH_PAGES, key, page)
    return page


def search_record(*, search_log: SearchLog, clock: Clock, skills: Sequence[str]) -> None:
    """Count a search's skills. Best effort: an outage of the log is logged, never the searcher's error."""
    if not skills:
        return
    try:
        search_log.record(skills, at=clock.now())
    except PortError:
        logger.warning("A search for %s was not counted: the search log is unavailable.", skills, exc_info=True)


def expert_profile_page(
    *,
    experts: ExpertRepository,
    users: UserRepository,
    response_cache: ResponseCache,
    view_counter: ExpertViewCounter,
    clock: Clock,
    actor: UserId | None,
    expert_id: ExpertId,
    render: Callable[[ExpertProfile], Rendered],
) -> Rendered:
    """A profile as rendered, counted as a view when it is public.

    Only a published profile is cached (and counted): a draft or suspended
    one is shown to its owner and staff alone, so it is read and rendered
    for each of them and never stored where a stranger's request could hit it.
    """
    namespace = expert_pages(expert_id)
    page: Rendered | None = response_cache.get(namespace, PUBLIC_PROFILE)
    if page is None:
        profile = expert_get(experts=experts, users=users, actor=actor, expert_id=expert_id)
        page = render(profile)
        if profile.status is not ExpertStatus.PUBLISHED:
            return page
        response_cache.set(namespace, PUBLIC_PROFILE, page)
    expert_record_view(view_counter=view_counter, clock=clock, expert_id=expert_id)
    return page
