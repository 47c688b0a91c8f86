"""GET /experts/: public search with every filter, each sort, pages and facets; hostile and bad queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from adapters.memory.store import FixedClock
from domain.experts import ExpertProfile
from domain.money import Money
from domain.users import Role
from project.container import container
from tests.api.conftest import API, NOW, Account, MakeAccount, assert_error, make_booking, make_profile

EXPERTS = f"{API}/experts/"


@dataclass
class Market:
    django: ExpertProfile  # python, django; en+de; 100.00 USD; rated 5
    react: ExpertProfile  # javascript, react; en; 80.00 USD; rated 3
    data: ExpertProfile  # python, machine-learning; fr; 150.00 EUR; unrated


def rate(client: Account, expert: Account, profile: ExpertProfile, rating: int, clock: FixedClock) -> None:
    booking = make_booking(client, profile, starts_at=NOW + timedelta(hours=1))
    container.booking_accept(actor=expert.id, booking_id=booking.id)
    clock.set(NOW + timedelta(hours=3))
    container.booking_complete(actor=client.id, booking_id=booking.id)
    container.review_create(actor=client.id, booking_id=booking.id, rating=rating, comment="")
    clock.set(NOW)


@pytest.fixture
def market(make_account: MakeAccount, client_account: Account, clock: FixedClock) -> Market:
    experts = [make_account(Role.EXPERT) for _ in range(5)]
    django = make_profile(
        experts[0],
        headline="Django backend consultant",
        bio="APIs and databases.",
        skills=["python", "django"],
        languages=["en", "de"],
        hourly_rate=Money(10000, "USD"),
    )
    react = make_profile(
        experts[1],
        headline="React frontend developer",
        bio="Design systems.",
        skills=["javascript", "react"],
        languages=["en"],
        hourly_rate=Money(8000, "USD"),
    )
    data = make_profile(
        experts[2],
        headline="Data scientist",
        bio="Forecasting with Python.",
        skills=["python", "machine-learning"],
        languages=["fr"],
        hourly_rate=Money(15000, "EUR"),
    )
    make_profile(experts[3], publish=False, headline="Django draft", skills=["python", "django"])
    suspended = make_profile(experts[4], headline="Django suspended", skills=["python", "django"])
    staff = make_account(Role.STAFF)
    container.expert_suspend(actor=staff.id, expert_id=suspended.id)
    rate(client_account, experts[0], django, 5, clock)
    rate(client_account, experts[1], react, 3, clock)
    return Market(django=django, react=react, data=data)


def ids(response: object) -> list[str]:
    body = response.json()  # type: ignore[attr-defined]
    return [result["id"] for result in body["results"]]


def test_lists_only_published_experts_with_facets(anon: APIClient, market: Market) -> None:
    response = anon.get(EXPERTS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "page", "page_size", "next", "previous", "results", "facets"}
    assert body["count"] == 3
    assert (body["page"], body["page_size"], body["next"], body["previous"]) == (1, 20, None, None)
    assert set(ids(response)) == {str(market.django.id), str(market.react.id), str(market.data.id)}
    assert body["facets"][0] == {"skill": "python", "count": 2}
    assert {"skill": "react", "count": 1} in body["facets"]


def test_results_are_full_profiles(anon: APIClient, market: Market) -> None:
    result = next(r for r in anon.get(EXPERTS).json()["results"] if r["id"] == str(market.django.id))

    assert result["rating_average"] == 5.0
    assert result["rating_count"] == 1
    assert result["hourly_rate"] == {"amount": 10000, "currency": "USD", "display": "100.00 USD"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=django", ["django"]),
        ("q=DJAN", ["django"]),  # the last word matches as a prefix
        ("q=python", None),
        ("skills=python", None),
        ("skills=python,django", ["django"]),
        ("skills=python&skills=django", ["django"]),
        ("skills=Machine Learning", ["data"]),  # normalised like a profile's skills
        ("languages=fr", ["data"]),
        ("languages=de,fr", None),
        ("languages=DE", ["django"]),
        ("min_rate=9000&max_rate=12000&currency=USD", ["django"]),
        ("currency=EUR", ["data"]),
        ("max_rate=9000", ["react"]),
        ("min_rating=4", ["django"]),
        ("min_rating=3", None),
        ("q=nothing-matches-this", []),
    ],
)
def test_filters(anon: APIClient, market: Market, query: str, expected: list[str] | None) -> None:
    names = {str(getattr(market, name).id): name for name in ("django", "react", "data")}

    response = anon.get(f"{EXPERTS}?{query}")

    assert response.status_code == 200, response.content
    found = sorted(names[i] for i in ids(response))
    defaults = {
        "q=python": ["data", "django"],
        "skills=python": ["data", "django"],
        "languages=de,fr": ["data", "django"],
        "min_rating=3": ["django", "react"],
    }
    assert found == sorted(expected if expected is not None else defaults[query])
    assert response.json()["count"] == len(found)


def test_facets_count_every_match_not_just_the_page(anon: APIClient, market: Market) -> None:
    body = anon.get(f"{EXPERTS}?skills=python&page_size=1").json()

    assert len(body["results"]) == 1
    assert {"skill": "python", "count": 2} in body["facets"]
    assert {"skill": "django", "count": 1} in body["facets"]


@pytest.mark.parametrize(
    ("sort", "order"),
    [
        ("rating", ["django", "react", "data"]),
        ("rate_asc", ["react", "django", "data"]),
        ("rate_desc", ["data", "django", "react"]),
        ("relevance", ["django", "react", "data"]),  # no text: by rating
    ],
)
def test_sorts(anon: APIClient, market: Market, sort: str, order: list[str]) -> None:
    response = anon.get(f"{EXPERTS}?sort={sort}")

    assert ids(response) == [str(getattr(market, name).id) for name in order]


def test_pages_link_to_each_other(anon: APIClient, market: Market) -> None:
    first = anon.get(f"{EXPERTS}?sort=rating&page_size=2").json()
    second = anon.get(first["next"]).json()

    assert (first["count"], len(first["results"]), first["previous"]) == (3, 2, None)
    assert first["next"].startswith("http://testserver/api/v1/experts/?")
    assert "page=2" in first["next"]
    assert "sort=rating" in first["next"]
    assert [r["id"] for r in second["results"]] == [str(market.data.id)]
    assert second["next"] is None
    assert anon.get(second["previous"]).json()["results"] == first["results"]


def test_a_page_past_the_end_is_empty(anon: APIClient, market: Market) -> None:
    body = anon.get(f"{EXPERTS}?page=9").json()

    assert (body["count"], body["results"], body["next"]) == (3, [], None)


HOSTILE_QUERIES = [
    '"',
    "'",
    '"unbalanced',
    "django OR react",
    "django AND",
    "NOT django",
    "NEAR(django react)",
    "headline:django",
    "*",
    "django*",
    "^django",
    "(django",
    "a) OR (1=1",
    "'; DROP TABLE search_expert; --",
    "%",
    "_",
    "\\",
    "{}[]<>",
    "ünïcødé 日本語 🚀",
    "-",
    "+",
    "   ",
    "a" * 200,
]


@pytest.mark.parametrize("q", HOSTILE_QUERIES)
def test_hostile_text_is_just_text(anon: APIClient, market: Market, q: str) -> None:
    response = anon.get(EXPERTS, {"q": q})

    assert response.status_code == 200, response.content
    assert response.json()["count"] <= 3
    assert anon.get(EXPERTS).json()["count"] == 3  # the index survived


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=two", "page"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=1.5", "page_size"),
        ("min_rate=-1", "min_rate"),
        ("min_rate=cheap", "min_rate"),
        ("max_rate=1e3", "max_rate"),
        ("min_rate=500&max_rate=100", "min_rate"),
        ("currency=XYZ", "currency"),
        ("currency=usd", "currency"),
        ("min_rating=6", "min_rating"),
        ("min_rating=-0.5", "min_rating"),
        ("min_rating=nan", "min_rating"),
        ("min_rating=good", "min_rating"),
        ("sort=price", "sort"),
        ("skills=no spaces allowed!", "skills"),
        ("languages=english", "languages"),
        (f"q={'a' * 201}", "q"),
        ("q=%00", "q"),
    ],
)
def test_bad_parameters_are_400(anon: APIClient, market: Market, query: str, field: str) -> None:
    assert_error(anon.get(f"{EXPERTS}?{query}"), 400, "invalid", field)


def test_an_empty_market(anon: APIClient) -> None:
    body = anon.get(EXPERTS).json()

    assert (body["count"], body["results"], body["facets"]) == (0, [], [])
