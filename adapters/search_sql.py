"""SQL filters both database-backed search indexes share (SQLite FTS5 and PostgreSQL).

Both keep their documents in a table aliased ``e`` with the same filter columns.
"""

from __future__ import annotations

from typing import Protocol

from domain.search import SearchQuery


class Where(Protocol):
    def where(self, clause: str, *params: object) -> None: ...


def where_rate_and_rating(found: Where, query: SearchQuery) -> None:
    """The currency, hourly-rate range and minimum-rating filters."""
    if query.currency is not None:
        found.where("e.currency = %s", query.currency)
    if query.min_rate is not None:
        found.where("e.rate_amount >= %s", query.min_rate)
    if query.max_rate is not None:
        found.where("e.rate_amount <= %s", query.max_rate)
    if query.min_rating is not None:
        found.where("e.rating_average >= %s", query.min_rating)  # NULL (unrated) never passes
