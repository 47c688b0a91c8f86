"""ExpertProfile: what a client browses and books. draft -> published <-> suspended."""

from __future__ import annotations

import enum
import functools
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime

from domain.errors import ErrorCollector, InvalidInput, InvalidTransition
from domain.ids import ExpertId, UserId
from domain.money import Money
from domain.skills import normalise_languages, normalise_skills

NAME_MAX = 100
HEADLINE_MAX = 120
BIO_MAX = 5000


class ExpertStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUSPENDED = "suspended"


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA names a profile may use: the ones the system's database lists.

    ZoneInfo alone would also open "posixrules" or "right/UTC", files of the database that
    name no place; the API's schema publishes this list as the field's choices.
    """
    return frozenset(zoneinfo.available_timezones())


def validate_timezone(name: str) -> str:
    if name not in time_zones():
        raise InvalidInput.on_field("timezone", f"Unknown time zone {name!r}.")
    return name


def validate_text(field_name: str, value: str, *, max_length: int, required: bool) -> str:
    text = value.strip()
    if required and not text:
        raise InvalidInput.on_field(field_name, "This field may not be blank.")
    if len(text) > max_length:
        raise InvalidInput.on_field(field_name, f"At most {max_length} characters.")
    return text


@dataclass(slots=True)
class ExpertProfile:
    id: ExpertId
    owner_id: UserId
    display_name: str
    headline: str
    bio: str
    skills: tuple[str, ...]
    hourly_rate: Money
    languages: tuple[str, ...]
    timezone: str
    created_at: datetime
    updated_at: datetime
    status: ExpertStatus = ExpertStatus.DRAFT
    avatar_key: str | None = None
    rating_count: int = 0
    rating_total: int = field(default=0)
    published_at: datetime | None = None

    @classmethod
    def create(cls, *, id: ExpertId, owner_id: UserId, now: datetime, **values: object) -> ExpertProfile:
        profile = cls(
            id=id,
            owner_id=owner_id,
            display_name="",
            headline="",
            bio="",
            skills=(),
            hourly_rate=Money.zero("USD"),
            languages=(),
            timezone="UTC",
            created_at=now,
            updated_at=now,
        )
        profile.update(now=now, **values)  # type: ignore[arg-type]
        return profile

    def update(
        self,
        *,
        now: datetime,
        display_name: str | None = None,
        headline: str | None = None,
        bio: str | None = None,
        skills: list[str] | tuple[str, ...] | None = None,
        hourly_rate: Money | None = None,
        languages: list[str] | tuple[str, ...] | None = None,
        timezone: str | None = None,
    ) -> None:
        """Change the owner-editable fields; None leaves a field as it is.

        Every invalid field is reported at once; on error nothing changes.
        """
        errors = ErrorCollector()
        changes: dict[str, object] = {}
        with errors.check():
            if display_name is not None:
                changes["display_name"] = validate_text(
                    "display_name", display_name, max_length=NAME_MAX, required=True
                )
        with errors.check():
            if headline is not None:
                changes["headline"] = validate_text("headline", headline, max_length=HEADLINE_MAX, required=True)
        with errors.check():
            if bio is not None:
                changes["bio"] = validate_text("bio", bio, max_length=BIO_MAX, required=False)
        with errors.check():
            if skills is not None:
                changes["skills"] = normalise_skills(skills)
        with errors.check():
            if languages is not None:
                changes["languages"] = normalise_languages(languages)
        with errors.check():
            if timezone is not None:
                changes["timezone"] = validate_timezone(timezone)
        if hourly_rate is not None:
            changes["hourly_rate"] = hourly_rate
        errors.raise_if_any()
        for name, value in changes.items():
            setattr(self, name, value)
        self.updated_at = now

    def publish(self, *, now: datetime) -> None:
        """draft -> published, once the profile is bookable."""
        if self.status is not ExpertStatus.DRAFT:
            raise InvalidTransition(f"Cannot publish a {self.status} profile.")
        problems: dict[str, list[str]] = {}
        if not self.headline:
            problems["headline"] = ["A published profile needs a headline."]
        if not self.skills:
            problems["skills"] = ["A published profile needs at least one skill."]
        if self.hourly_rate.amount <= 0:
            problems["hourly_rate"] = ["A published profile needs an hourly rate above zero."]
        if problems:
            raise InvalidInput("The profile is not ready to publish.", fields=problems)
        self.status = ExpertStatus.PUBLISHED
        self.published_at = self.published_at or now
        self.updated_at = now

    def suspend(self, *, now: datetime) -> None:
        """published -> suspended (staff only; the service checks the actor)."""
        if self.status is not ExpertStatus.PUBLISHED:
            raise InvalidTransition(f"Cannot suspend a {self.status} profile.")
        self.status = ExpertStatus.SUSPENDED
        self.updated_at = now

    def reinstate(self, *, now: datetime) -> None:
        """suspended -> published (staff only)."""
        if self.status is not ExpertStatus.SUSPENDED:
            raise InvalidTransition(f"Cannot reinstate a {self.status} profile.")
        self.status = ExpertStatus.PUBLISHED
        self.updated_at = now

    def record_rating(self, rating: int) -> None:
        """Fold one review's rating into the aggregates."""
        self.rating_count += 1
        self.rating_total += rating

    @property
    def rating_average(self) -> float | None:
        if not self.rating_count:
            return None
        return round(self.rating_total / self.rating_count, 2)

    @property
    def is_bookable(self) -> bool:
        return self.status is ExpertStatus.PUBLISHED
