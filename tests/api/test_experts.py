"""Expert profiles: create, read, edit, publish, suspend, reinstate; and bad input to each."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from adapters.memory.store import FixedClock
from domain.experts import ExpertProfile
from domain.money import Money
from tests.api.conftest import API, NOW, Account, assert_error, make_profile, row_counts

EXPERTS = f"{API}/experts/"
PROFILE_KEYS = {
    "id",
    "display_name",
    "headline",
    "bio",
    "skills",
    "languages",
    "timezone",
    "hourly_rate",
    "status",
    "rating_average",
    "rating_count",
    "avatar_url",
    "published_at",
    "created_at",
    "updated_at",
}


def expert_url(profile: ExpertProfile, action: str = "") -> str:
    return f"{EXPERTS}{profile.id}/{action + '/' if action else ''}"


def new_profile(**changes: Any) -> dict[str, Any]:
    return {
        "headline": "Kubernetes and cloud cost consultant",
        "bio": "I make clusters cheaper.",
        "skills": ["Kubernetes", " Cloud Cost ", "kubernetes"],
        "languages": ["EN", "de"],
        "timezone": "Europe/Berlin",
        "hourly_rate": {"amount": 15050, "currency": "EUR"},
        **changes,
    }


class TestCreate:
    def test_creates_a_draft_from_normalised_input(self, expert_account: Account, clock: FixedClock) -> None:
        response = expert_account.api.post(EXPERTS, new_profile())

        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == PROFILE_KEYS
        assert body["display_name"] == "Erin Expert"  # the account name, by default
        assert body["skills"] == ["kubernetes", "cloud-cost"]
        assert body["languages"] == ["en", "de"]
        assert body["hourly_rate"] == {"amount": 15050, "currency": "EUR", "display": "150.50 EUR"}
        assert body["status"] == "draft"
        assert body["rating_average"] is None
        assert body["rating_count"] == 0
        assert body["avatar_url"] is None
        assert body["published_at"] is None
        assert body["created_at"] == "2030-01-01T09:00:00Z"

    def test_a_display_name_can_be_given(self, expert_account: Account) -> None:
        response = expert_account.api.post(EXPERTS, new_profile(display_name="Dr. Erin"))

        assert response.json()["display_name"] == "Dr. Erin"

    def test_only_one_profile_per_expert(self, expert_account: Account, published: ExpertProfile) -> None:
        before = row_counts()

        assert_error(expert_account.api.post(EXPERTS, new_profile()), 409, "profile_exists")
        assert row_counts() == before

    def test_a_client_has_no_profile(self, client_account: Account) -> None:
        assert_error(client_account.api.post(EXPERTS, new_profile()), 403, "permission_denied")


BAD_PROFILE_INPUT = [
    ({"headline": ""}, "headline"),
    ({"headline": "x" * 121}, "headline"),
    ({"headline": None}, "headline"),
    ({"headline": ["a list"]}, "headline"),
    ({"display_name": ""}, "display_name"),
    ({"display_name": "x" * 101}, "display_name"),
    ({"bio": "x" * 5001}, "bio"),
    ({"skills": "python"}, "skills"),
    ({"skills": ["ok", "no spaces!?"]}, "skills"),
    ({"skills": [f"skill{i}" for i in range(21)]}, "skills"),
    ({"skills": [{"name": "python"}]}, "skills.0"),
    ({"languages": ["english"]}, "languages"),
    ({"languages": [f"{a}{b}" for a in "ab" for b in "abcdef"]}, "languages"),
    ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"hourly_rate": 12000}, "hourly_rate.non_field_errors"),
    ({"hourly_rate": {"amount": 120.5, "currency": "USD"}}, "hourly_rate.amount"),
    ({"hourly_rate": {"amount": "lots", "currency": "USD"}}, "hourly_rate.amount"),
    ({"hourly_rate": {"amount": -1, "currency": "USD"}}, "hourly_rate.amount"),
    ({"hourly_rate": {"amount": 10**13, "currency": "USD"}}, "hourly_rate.amount"),
    ({"hourly_rate": {"amount": 100, "currency": "XYZ"}}, "hourly_rate.currency"),
    ({"hourly_rate": {"amount": 100, "currency": "usd"}}, "hourly_rate.currency"),
    ({"hourly_rate": {"amount": 100}}, "hourly_rate.currency"),
    ({"hourly_rate": {"currency": "USD"}}, "hourly_rate.amount"),
    ({"hourly_rate": {"amount": 100, "currency": "USD", "display": "1.00 USD"}}, "hourly_rate.display"),
    ({"status": "published"}, "status"),
    ({"rating_average": 5.0}, "rating_average"),
    ({"rating_count": 1000}, "rating_count"),
    ({"id": "00000000-0000-0000-0000-000000000001"}, "id"),
    ({"published_at": "2030-01-01T00:00:00Z"}, "published_at"),
    ({"created_at": "2030-01-01T00:00:00Z"}, "created_at"),
    ({"avatar_url": "https://evil.example.com/x.png"}, "avatar_url"),
    ({"owner_id": "00000000-0000-0000-0000-000000000001"}, "owner_id"),
]
READ_ONLY = {"status", "rating_average", "rating_count", "id", "published_at", "created_at", "avatar_url"}


class TestCreateBadInput:
    @pytest.mark.parametrize(("changes", "field"), BAD_PROFILE_INPUT)
    def test_is_refused_and_writes_nothing(self, expert_account: Account, changes: dict[str, Any], field: str) -> None:
        before = row_counts()

        error = assert_error(expert_account.api.post(EXPERTS, new_profile(**changes)), 400, "invalid", field)

        assert row_counts() == before
        if field in READ_ONLY:
            assert error["fields"][field] == ["This field is read-only."]

    @pytest.mark.parametrize("missing", ["headline", "hourly_rate"])
    def test_required_fields(self, expert_account: Account, missing: str) -> None:
        body = new_profile()
        del body[missing]

        assert_error(expert_account.api.post(EXPERTS, body), 400, "invalid", missing)

    def test_every_bad_field_is_reported_at_once(self, expert_account: Account) -> None:
        body = new_profile(skills=["bad skill!"], languages=["english"], timezone="Nowhere/City")

        error = assert_error(expert_account.api.post(EXPERTS, body), 400, "invalid")

        assert set(error["fields"]) == {"skills", "languages", "timezone"}

    @pytest.mark.parametrize("body", ["[]", "null", '"text"', "42"])
    def test_a_body_that_is_not_an_object(self, expert_account: Account, body: str) -> None:
        response = expert_account.api.post(EXPERTS, body, content_type="application/json")

        assert_error(response, 400, "invalid", "non_field_errors")

    def test_malformed_json(self, expert_account: Account) -> None:
        response = expert_account.api.post(EXPERTS, '{"headline": ', content_type="application/json")

        assert_error(response, 400, "parse_error")


class TestRead:
    def test_anyone_reads_a_published_profile(self, anon: APIClient, published: ExpertProfile) -> None:
        response = anon.get(expert_url(published))

        assert response.status_code == 200
        body = response.json()
        assert body["id"] == str(published.id)
        assert body["status"] == "published"
        assert body["published_at"] == "2030-01-01T09:00:00Z"
        assert body["hourly_rate"]["display"] == "120.00 USD"

    def test_a_draft_is_visible_to_its_owner_only(
        self, anon: APIClient, expert_account: Account, client_account: Account
    ) -> None:
        draft = make_profile(expert_account, publish=False)

        assert expert_account.api.get(expert_url(draft)).json()["status"] == "draft"
        assert_error(anon.get(expert_url(draft)), 404, "not_found")
        assert_error(client_account.api.get(expert_url(draft)), 404, "not_found")

    def test_an_unknown_id_is_404(self, anon: APIClient) -> None:
        assert_error(anon.get(f"{EXPERTS}00000000-0000-0000-0000-000000000000/"), 404, "not_found")

    def test_my_profile_in_any_status(self, expert_account: Account) -> None:
        assert_error(expert_account.api.get(f"{EXPERTS}me/"), 404, "not_found")

        draft = make_profile(expert_account, publish=False)

        body = expert_account.api.get(f"{EXPERTS}me/").json()
        assert (body["id"], body["status"]) == (str(draft.id), "draft")


class TestUpdate:
    def test_changes_only_the_given_fields(
        self, expert_account: Account, published: ExpertProfile, clock: FixedClock
    ) -> None:
        clock.advance(hours=1)

        response = expert_account.api.patch(
            expert_url(published),
            {"headline": "  Django performance  ", "hourly_rate": {"amount": 9000, "currency": "GBP"}},
        )

        assert response.status_code == 200, response.content
        body = response.json()
        assert body["headline"] == "Django performance"
        assert body["hourly_rate"]["display"] == "90.00 GBP"
        assert body["skills"] == ["python", "django"]
        assert body["bio"] == "Ten years of Python web backends."
        assert body["updated_at"] == "2030-01-01T10:00:00Z"
        assert body["created_at"] == "2030-01-01T09:00:00Z"

    def test_an_empty_patch_changes_nothing(self, expert_account: Account, published: ExpertProfile) -> None:
        before = expert_account.api.get(expert_url(published)).json()

        response = expert_account.api.patch(expert_url(published), {})

        assert response.status_code == 200
        assert {k: v for k, v in response.json().items() if k != "updated_at"} == {
            k: v for k, v in before.items() if k != "updated_at"
        }

    @pytest.mark.parametrize(("changes", "field"), BAD_PROFILE_INPUT, ids=lambda v: str(v)[:40])
    def test_bad_input_changes_nothing(
        self, expert_account: Account, published: ExpertProfile, changes: dict[str, Any], field: str
    ) -> None:
        before = expert_account.api.get(expert_url(published)).json()

        assert_error(expert_account.api.patch(expert_url(published), changes), 400, "invalid", field)

        assert expert_account.api.get(expert_url(published)).json() == before

    def test_a_derived_field_cannot_be_patched_even_alongside_valid_ones(
        self, expert_account: Account, published: ExpertProfile
    ) -> None:
        before = expert_account.api.get(expert_url(published)).json()

        response = expert_account.api.patch(expert_url(published), {"headline": "New", "status": "suspended"})

        assert assert_error(response, 400, "invalid", "status")["fields"]["status"] == ["This field is read-only."]
        assert expert_account.api.get(expert_url(published)).json() == before

    def test_malformed_json(self, expert_account: Account, published: ExpertProfile) -> None:
        response = expert_account.api.patch(expert_url(published), "{nope", content_type="application/json")

        assert_error(response, 400, "parse_error")


class TestPublish:
    def test_publishes_a_complete_draft(self, expert_account: Account, clock: FixedClock) -> None:
        draft = make_profile(expert_account, publish=False)
        clock.advance(minutes=5)

        response = expert_account.api.post(expert_url(draft, "publish"))

        assert response.status_code == 200
        assert response.json()["status"] == "published"
        assert response.json()["published_at"] == "2030-01-01T09:05:00Z"

    def test_an_incomplete_draft_says_what_is_missing(self, expert_account: Account) -> None:
        draft = make_profile(expert_account, publish=False, skills=[], hourly_rate=Money(0, "USD"))

        error = assert_error(expert_account.api.post(expert_url(draft, "publish")), 400, "invalid")

        assert set(error["fields"]) == {"skills", "hourly_rate"}
        assert expert_account.api.get(expert_url(draft)).json()["status"] == "draft"

    def test_publishing_twice_is_a_conflict(self, expert_account: Account, published: ExpertProfile) -> None:
        assert_error(expert_account.api.post(expert_url(published, "publish")), 409, "invalid_transition")


class TestSuspendAndReinstate:
    def test_staff_suspend_then_reinstate(
        self, staff: Account, anon: APIClient, published: ExpertProfile, clock: FixedClock
    ) -> None:
        suspended = staff.api.post(expert_url(published, "suspend"))

        assert suspended.status_code == 200
        assert suspended.json()["status"] == "suspended"
        assert_error(anon.get(expert_url(published)), 404)
        assert anon.get(EXPERTS).json()["count"] == 0

        clock.advance(days=1)
        reinstated = staff.api.post(expert_url(published, "reinstate"))

        assert reinstated.status_code == 200
        assert reinstated.json()["status"] == "published"
        assert reinstated.json()["published_at"] == "2030-01-01T09:00:00Z"
        assert anon.get(EXPERTS).json()["count"] == 1

    def test_staff_see_a_suspended_profile(self, staff: Account, published: ExpertProfile) -> None:
        staff.api.post(expert_url(published, "suspend"))

        assert staff.api.get(expert_url(published)).json()["status"] == "suspended"

    def test_a_draft_cannot_be_suspended(self, staff: Account, expert_account: Account) -> None:
        draft = make_profile(expert_account, publish=False)

        assert_error(staff.api.post(expert_url(draft, "suspend")), 409, "invalid_transition")

    def test_the_owner_cannot_suspend_or_reinstate(self, expert_account: Account, published: ExpertProfile) -> None:
        assert_error(expert_account.api.post(expert_url(published, "suspend")), 403, "permission_denied")
        assert_error(expert_account.api.post(expert_url(published, "reinstate")), 403, "permission_denied")

    def test_an_unknown_profile_is_404(self, staff: Account) -> None:
        url = f"{EXPERTS}00000000-0000-0000-0000-000000000000/suspend/"

        assert_error(staff.api.post(url), 404, "not_found")


def test_timestamps_are_utc(expert_account: Account, published: ExpertProfile, clock: FixedClock) -> None:
    clock.set(NOW + timedelta(hours=5, minutes=30))

    body = expert_account.api.patch(expert_url(published), {"bio": "Updated."}).json()

    assert body["updated_at"] == "2030-01-01T14:30:00Z"
