"""What the search port takes and gives back."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import datetime

from domain.errors import InvalidInput
from domain.ids import ExpertId
from domain.pagination import PageRequest
from domain.skills import normalise_languages, normalise_skills

MAX_QUERY_LENGTH = 200
FACET_LIMIT = 30


class SearchSort(enum.StrEnum):
    RELEVANCE = "relevance"
    RATING = "rating"
    RATE_ASC = "rate_asc"
    RATE_DESC = "rate_desc"


@dataclass(frozen=True, slots=True)
class ExpertDocument:
    """The searchable projection of a published ExpertProfile."""

    expert_id: ExpertId
    headline: str
    bio: str
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    rate_amount: int
    currency: str
    rating_average: float | None
    rating_count: int
    published_at: datetime | None

    @property
    def version(self) -> str:
        """A digest of the whole content: equal versions, equal documents.

        An external index stores it with the document, so reconciling can tell a
        stale document from a current one without fetching either (a profile's
        updated_at would not do: a new review changes the rating, not updated_at).
        """
        values = [getattr(self, f.name) for f in fields(self)]  # immutable already: no deep copy (astuple)
        canonical = json.dumps(values, default=_canonical, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def _canonical(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)  # an ExpertId (UUID)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Free text plus filters. Skills: all must match. Languages: any may match.

    Skills and languages are normalised here (an invalid tag is InvalidInput).
    ``currency`` filters by hourly-rate currency, with or without rate
    bounds; rate bounds are in minor units (mixing currencies when no
    currency is given, as do the rate sorts). ``min_rating`` excludes
    unrated experts. Text with no letters or digits matches everything.
    Ties (and the whole order for an empty text with RELEVANCE) break by
    rating, then rating count, then expert id, so paging is stable.
    """

    text: str = ""
    skills: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    min_rate: int | None = None
    max_rate: int | None = None
    currency: str | None = None
    min_rating: float | None = None
    sort: SearchSort = SearchSort.RELEVANCE
    page: PageRequest = field(default_factory=PageRequest)

    def __post_init__(self) -> None:
        # Frozen: normalise through object.__setattr__ so filters match stored tags.
        object.__setattr__(self, "skills", normalise_skills(self.skills))
        object.__setattr__(self, "languages", normalise_languages(self.languages))
        if len(self.text) > MAX_QUERY_LENGTH:
            raise InvalidInput.on_field("q", f"At most {MAX_QUERY_LENGTH} characters.")
        if self.min_rate is not None and self.max_rate is not None and self.min_rate > self.max_rate:
            raise InvalidInput.on_field("min_rate", "min_rate must not exceed max_rate.")
        if self.min_rating is not None and not 0 <= self.min_rating <= 5:
            raise InvalidInput.on_field("min_rating", "min_rating must be between 0 and 5.")


@dataclass(frozen=True, slots=True)
class SkillFacet:
    skill: str
    count: int


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One page of matching expert ids (best first), the total, and skill facets.

    Facets count every match of the query and filters (not only this page),
    at most FACET_LIMIT of them, by count descending then skill name.
    """

    expert_ids: tuple[ExpertId, ...]
    total: int
    facets: tuple[SkillFacet, ...]
