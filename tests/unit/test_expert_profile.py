"""ExpertProfile invariants: publishing readiness, status moves, validation of every field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from domain.errors import InvalidInput, InvalidTransition
from domain.experts import ExpertProfile, ExpertStatus
from domain.ids import ExpertId, UserId
from domain.money import Money
from domain.skills import MAX_SKILLS, normalise_languages, normalise_skill, normalise_skills

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def draft(**values: object) -> ExpertProfile:
    defaults: dict[str, object] = {
        "display_name": "Ada",
        "headline": "Python consultant",
        "skills": ["python"],
        "hourly_rate": Money(9000, "EUR"),
    }
    return ExpertProfile.create(
        id=ExpertId(uuid.uuid4()), owner_id=UserId(uuid.uuid4()), now=NOW, **{**defaults, **values}
    )


def test_publish_needs_headline_skills_and_rate_and_lists_every_gap() -> None:
    profile = draft(skills=[], hourly_rate=Money(0, "EUR"))
    with pytest.raises(InvalidInput) as error:
        profile.publish(now=NOW)
    assert set(error.value.fields) == {"skills", "hourly_rate"}
    assert profile.status is ExpertStatus.DRAFT


def test_status_moves() -> None:
    profile = draft()
    profile.publish(now=NOW)
    assert profile.published_at == NOW
    with pytest.raises(InvalidTransition):
        profile.publish(now=NOW)
    profile.suspend(now=NOW)
    with pytest.raises(InvalidTransition):
        profile.suspend(now=NOW)
    profile.reinstate(now=NOW)
    assert profile.status is ExpertStatus.PUBLISHED
    with pytest.raises(InvalidTransition):
        profile.reinstate(now=NOW)


def test_update_reports_every_bad_field_and_changes_nothing() -> None:
    profile = draft()
    with pytest.raises(InvalidInput) as error:
        profile.update(
            now=NOW, headline=" ", bio="x" * 6000, languages=["english"], timezone="Mars/Base", skills=["ok"]
        )
    assert set(error.value.fields) == {"headline", "bio", "languages", "timezone"}
    assert profile.skills == ("python",)
    assert profile.headline == "Python consultant"


def test_rating_aggregates() -> None:
    profile = draft()
    assert profile.rating_average is None
    for rating in (5, 4, 4):
        profile.record_rating(rating)
    assert (profile.rating_count, profile.rating_average) == (3, 4.33)


@pytest.mark.parametrize(
    ("raw", "tag"),
    [(" Machine Learning ", "machine-learning"), ("C++", "c++"), ("C#", "c#"), ("node_js", "node-js"), ("UX", "ux")],
)
def test_skills_are_normalised(raw: str, tag: str) -> None:
    assert normalise_skill(raw) == tag


@pytest.mark.parametrize("raw", ["", "   ", "-leading", "a" * 41, "emoji🙂"])
def test_bad_skills_are_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        normalise_skill(raw)


def test_skills_are_deduplicated_and_capped() -> None:
    assert normalise_skills(["Python", "python ", "Go"]) == ("python", "go")
    with pytest.raises(InvalidInput):
        normalise_skills([f"skill{n}" for n in range(MAX_SKILLS + 1)])


def test_languages_are_iso_codes() -> None:
    assert normalise_languages(["EN", "de", "en"]) == ("en", "de")
    with pytest.raises(InvalidInput):
        normalise_languages(["eng"])
