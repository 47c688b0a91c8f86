"""Bookings: request, list, read, accept, decline, cancel, complete; reviews; and bad input."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from adapters.memory.store import FixedClock
from domain.bookings import Booking
from domain.experts import ExpertProfile
from project.container import container
from tests.api.conftest import (
    API,
    NOW,
    Account,
    assert_error,
    complete_booking,
    iso,
    make_booking,
    make_profile,
    row_counts,
)

BOOKINGS = f"{API}/bookings/"
BOOKING_KEYS = {
    "id",
    "client_id",
    "expert_id",
    "expert_user_id",
    "starts_at",
    "ends_at",
    "duration_minutes",
    "topic",
    "price",
    "status",
    "created_at",
    "updated_at",
}


def booking_url(booking: Booking, action: str = "") -> str:
    return f"{BOOKINGS}{booking.id}/{action + '/' if action else ''}"


def request_body(profile: ExpertProfile, **changes: Any) -> dict[str, Any]:
    return {
        "expert_id": str(profile.id),
        "starts_at": "2030-01-03T15:00:00+01:00",
        "duration_minutes": 90,
        "topic": "  Scaling our Django monolith  ",
        **changes,
    }


class TestCreate:
    def test_requests_a_booking_priced_by_the_server(
        self, client_account: Account, expert_account: Account, published: ExpertProfile
    ) -> None:
        response = client_account.api.post(BOOKINGS, request_body(published))

        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == BOOKING_KEYS
        assert body["client_id"] == str(client_account.id)
        assert body["expert_id"] == str(published.id)
        assert body["expert_user_id"] == str(expert_account.id)
        assert body["starts_at"] == "2030-01-03T14:00:00Z"  # stored and shown in UTC
        assert body["ends_at"] == "2030-01-03T15:30:00Z"
        assert body["topic"] == "Scaling our Django monolith"
        assert body["price"] == {"amount": 18000, "currency": "USD", "display": "180.00 USD"}
        assert body["status"] == "requested"
        assert body["created_at"] == iso(NOW).replace("+00:00", "Z")

    def test_the_price_is_frozen_when_requested(
        self, client_account: Account, expert_account: Account, published: ExpertProfile
    ) -> None:
        booking = client_account.api.post(BOOKINGS, request_body(published)).json()
        expert_account.api.patch(f"{API}/experts/{published.id}/", {"hourly_rate": {"amount": 1, "currency": "USD"}})

        assert client_account.api.get(f"{BOOKINGS}{booking['id']}/").json()["price"]["amount"] == 18000

    def test_a_draft_or_unknown_expert_is_404(self, client_account: Account, other_expert: Account) -> None:
        draft = make_profile(other_expert, publish=False)
        body = request_body(draft)

        assert_error(client_account.api.post(BOOKINGS, body), 404, "not_found")
        body["expert_id"] = "00000000-0000-0000-0000-000000000000"
        assert_error(client_account.api.post(BOOKINGS, body), 404, "not_found")


BAD_BOOKINGS = [
    ({"starts_at": "2030-01-03T15:00:00"}, "starts_at"),  # naive: no offset
    ({"starts_at": "2030-01-03"}, "starts_at"),
    ({"starts_at": "next tuesday"}, "starts_at"),
    ({"starts_at": 1893600000}, "starts_at"),
    ({"starts_at": "2029-12-31T09:00:00Z"}, "starts_at"),  # in the past
    ({"starts_at": "2030-01-01T09:00:00Z"}, "starts_at"),  # exactly now
    ({"starts_at": "9999-12-31T23:30:00Z"}, "starts_at"),  # the end would overflow
    ({"starts_at": "0001-01-01T00:00:00+01:00"}, "starts_at"),
    ({"duration_minutes": 50}, "duration_minutes"),  # not a 15-minute step
    ({"duration_minutes": 15}, "duration_minutes"),
    ({"duration_minutes": 255}, "duration_minutes"),
    ({"duration_minutes": 0}, "duration_minutes"),
    ({"duration_minutes": -60}, "duration_minutes"),
    ({"duration_minutes": 60.5}, "duration_minutes"),
    ({"duration_minutes": "an hour"}, "duration_minutes"),
    ({"duration_minutes": 10**30}, "duration_minutes"),
    ({"duration_minutes": True}, "duration_minutes"),
    ({"topic": ""}, "topic"),
    ({"topic": "   "}, "topic"),
    ({"topic": "x" * 201}, "topic"),
    ({"topic": None}, "topic"),
    ({"expert_id": "not-a-uuid"}, "expert_id"),
    ({"expert_id": 42}, "expert_id"),
    ({"price": {"amount": 1, "currency": "USD"}}, "price"),
    ({"status": "accepted"}, "status"),
    ({"client_id": "00000000-0000-0000-0000-000000000001"}, "client_id"),
    ({"ends_at": "2030-01-03T18:00:00Z"}, "ends_at"),
    ({"id": "00000000-0000-0000-0000-000000000001"}, "id"),
    ({"discount": 50}, "discount"),
]


class TestCreateBadInput:
    @pytest.mark.parametrize(("changes", "field"), BAD_BOOKINGS, ids=lambda v: str(v)[:40])
    def test_is_refused_and_writes_nothing(
        self, client_account: Account, published: ExpertProfile, changes: dict[str, Any], field: str
    ) -> None:
        before = row_counts()

        assert_error(client_account.api.post(BOOKINGS, request_body(published, **changes)), 400, "invalid", field)

        assert row_counts() == before

    @pytest.mark.parametrize("missing", ["expert_id", "starts_at", "duration_minutes", "topic"])
    def test_missing_fields(self, client_account: Account, published: ExpertProfile, missing: str) -> None:
        body = request_body(published)
        del body[missing]

        assert_error(client_account.api.post(BOOKINGS, body), 400, "invalid", missing)

    def test_self_booking(self, expert_account: Account, published: ExpertProfile) -> None:
        before = row_counts()

        assert_error(expert_account.api.post(BOOKINGS, request_body(published)), 400, "invalid", "expert_id")
        assert row_counts() == before

    def test_every_domain_problem_is_reported_at_once(self, client_account: Account, published: ExpertProfile) -> None:
        body = request_body(published, starts_at="2029-01-01T00:00:00Z", duration_minutes=50)

        error = assert_error(client_account.api.post(BOOKINGS, body), 400, "invalid")

        assert set(error["fields"]) == {"starts_at", "duration_minutes"}

    def test_malformed_json(self, client_account: Account) -> None:
        response = client_account.api.post(BOOKINGS, '{"topic": "x",}', content_type="application/json")

        assert_error(response, 400, "parse_error")


@pytest.fixture
def requested(client_account: Account, published: ExpertProfile) -> Booking:
    return make_booking(client_account, published)


class TestReadAndList:
    def test_both_parties_read_it(self, client_account: Account, expert_account: Account, requested: Booking) -> None:
        for party in (client_account, expert_account):
            response = party.api.get(booking_url(requested))
            assert response.status_code == 200
            assert response.json()["id"] == str(requested.id)

    def test_lists_mine_as_client_or_as_expert(
        self, client_account: Account, expert_account: Account, requested: Booking
    ) -> None:
        mine = client_account.api.get(BOOKINGS).json()
        as_expert = expert_account.api.get(f"{BOOKINGS}?as=expert").json()

        assert [b["id"] for b in mine["results"]] == [str(requested.id)]
        assert set(mine) == {"count", "page", "page_size", "next", "previous", "results"}
        assert [b["id"] for b in as_expert["results"]] == [str(requested.id)]
        assert expert_account.api.get(BOOKINGS).json()["count"] == 0  # the default side is "client"

    def test_filters_by_status_and_pages(
        self, client_account: Account, expert_account: Account, published: ExpertProfile
    ) -> None:
        first = make_booking(client_account, published, starts_at=NOW + timedelta(days=1))
        make_booking(client_account, published, starts_at=NOW + timedelta(days=2))
        make_booking(client_account, published, starts_at=NOW + timedelta(days=3))
        container.booking_decline(actor=expert_account.id, booking_id=first.id)

        declined = client_account.api.get(f"{BOOKINGS}?status=declined").json()
        page = client_account.api.get(f"{BOOKINGS}?status=requested&page_size=1").json()

        assert [b["id"] for b in declined["results"]] == [str(first.id)]
        assert (page["count"], len(page["results"])) == (2, 1)
        assert page["results"][0]["starts_at"] == "2030-01-04T09:00:00Z"  # newest start first
        assert "status=requested" in page["next"]

    @pytest.mark.parametrize(
        ("query", "field"),
        [("as=staff", "as"), ("status=done", "status"), ("page=0", "page"), ("page_size=500", "page_size")],
    )
    def test_bad_list_parameters(self, client_account: Account, query: str, field: str) -> None:
        assert_error(client_account.api.get(f"{BOOKINGS}?{query}"), 400, "invalid", field)


class TestLifecycle:
    def test_accept_then_complete_then_review(
        self,
        client_account: Account,
        expert_account: Account,
        requested: Booking,
        published: ExpertProfile,
        anon: APIClient,
        clock: FixedClock,
    ) -> None:
        accepted = expert_account.api.post(booking_url(requested, "accept"))
        assert (accepted.status_code, accepted.json()["status"]) == (200, "accepted")

        assert_error(client_account.api.post(booking_url(requested, "complete")), 409, "invalid_transition")
        clock.set(requested.ends_at + timedelta(minutes=1))
        completed = client_account.api.post(booking_url(requested, "complete"))
        assert (completed.status_code, completed.json()["status"]) == (200, "completed")

        review = client_account.api.post(booking_url(requested, "review"), {"rating": 4, "comment": " Very helpful. "})
        assert review.status_code == 201, review.content
        assert review.json()["rating"] == 4
        assert review.json()["comment"] == "Very helpful."
        assert review.json()["booking_id"] == str(requested.id)
        assert review.json()["author_id"] == str(client_account.id)

        profile = anon.get(f"{API}/experts/{published.id}/").json()
        assert (profile["rating_average"], profile["rating_count"]) == (4.0, 1)
        reviews = anon.get(f"{API}/experts/{published.id}/reviews/").json()
        assert reviews["count"] == 1
        assert reviews["results"] == [
            {
                "id": review.json()["id"],
                "expert_id": str(published.id),
                "rating": 4,
                "comment": "Very helpful.",
                "created_at": review.json()["created_at"],
            }
        ]

    def test_the_expert_declines(self, expert_account: Account, requested: Booking) -> None:
        response = expert_account.api.post(booking_url(requested, "decline"))

        assert (response.status_code, response.json()["status"]) == (200, "declined")
        assert_error(expert_account.api.post(booking_url(requested, "accept")), 409, "invalid_transition")

    def test_the_client_cancels(self, client_account: Account, requested: Booking) -> None:
        response = client_account.api.post(booking_url(requested, "cancel"))

        assert (response.status_code, response.json()["status"]) == (200, "cancelled")

    def test_cancelling_after_the_start_is_a_conflict(
        self, client_account: Account, requested: Booking, clock: FixedClock
    ) -> None:
        clock.set(requested.starts_at)

        assert_error(client_account.api.post(booking_url(requested, "cancel")), 409, "invalid_transition")

    def test_two_overlapping_accepts_conflict(
        self, client_account: Account, other_client: Account, expert_account: Account, published: ExpertProfile
    ) -> None:
        first = make_booking(client_account, published, starts_at=NOW + timedelta(days=1))
        second = make_booking(other_client, published, starts_at=NOW + timedelta(days=1, minutes=30))
        expert_account.api.post(booking_url(first, "accept"))

        assert_error(expert_account.api.post(booking_url(second, "accept")), 409, "booking_overlap")
        assert expert_account.api.get(booking_url(second)).json()["status"] == "requested"


@pytest.fixture
def completed(client_account: Account, expert_account: Account, requested: Booking, clock: FixedClock) -> Booking:
    return complete_booking(client_account, expert_account, requested, clock)


class TestReview:
    def test_one_review_per_booking(self, client_account: Account, completed: Booking) -> None:
        client_account.api.post(booking_url(completed, "review"), {"rating": 5})

        assert_error(client_account.api.post(booking_url(completed, "review"), {"rating": 1}), 409, "duplicate_review")

    def test_only_a_completed_booking(self, client_account: Account, requested: Booking) -> None:
        assert_error(client_account.api.post(booking_url(requested, "review"), {"rating": 5}), 409, "conflict")

    def test_the_comment_is_optional(self, client_account: Account, completed: Booking) -> None:
        response = client_account.api.post(booking_url(completed, "review"), {"rating": 5})

        assert (response.status_code, response.json()["comment"]) == (201, "")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "rating"),
            ({"rating": 0}, "rating"),
            ({"rating": 6}, "rating"),
            ({"rating": 4.5}, "rating"),
            ({"rating": "five"}, "rating"),
            ({"rating": None}, "rating"),
            ({"rating": 5, "comment": "x" * 2001}, "comment"),
            ({"rating": 5, "comment": ["nice"]}, "comment"),
            ({"rating": 5, "author_id": "00000000-0000-0000-0000-000000000001"}, "author_id"),
            ({"rating": 5, "created_at": "2020-01-01T00:00:00Z"}, "created_at"),
        ],
    )
    def test_bad_input_writes_nothing(
        self, client_account: Account, completed: Booking, body: dict[str, Any], field: str
    ) -> None:
        before = row_counts()

        assert_error(client_account.api.post(booking_url(completed, "review"), body), 400, "invalid", field)

        assert row_counts() == before

    def test_malformed_json(self, client_account: Account, completed: Booking) -> None:
        response = client_account.api.post(
            booking_url(completed, "review"), "rating=5", content_type="application/json"
        )

        assert_error(response, 400, "parse_error")


class TestReviewList:
    def test_pages_newest_first(
        self,
        anon: APIClient,
        client_account: Account,
        expert_account: Account,
        published: ExpertProfile,
        clock: FixedClock,
    ) -> None:
        for day, rating in ((1, 5), (2, 3)):
            booking = make_booking(client_account, published, starts_at=NOW + timedelta(days=day))
            complete_booking(client_account, expert_account, booking, clock)
            container.review_create(actor=client_account.id, booking_id=booking.id, rating=rating)

        body = anon.get(f"{API}/experts/{published.id}/reviews/?page_size=1").json()

        assert (body["count"], body["results"][0]["rating"], body["previous"]) == (2, 3, None)
        assert anon.get(body["next"]).json()["results"][0]["rating"] == 5

    def test_a_draft_has_no_public_reviews(self, anon: APIClient, other_expert: Account) -> None:
        draft = make_profile(other_expert, publish=False)

        assert_error(anon.get(f"{API}/experts/{draft.id}/reviews/"), 404, "not_found")

    @pytest.mark.parametrize("query", ["page=0", "page_size=101", "page=x"])
    def test_bad_paging(self, anon: APIClient, published: ExpertProfile, query: str) -> None:
        assert_error(anon.get(f"{API}/experts/{published.id}/reviews/?{query}"), 400, "invalid")
