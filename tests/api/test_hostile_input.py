"""Whatever the input, a 4xx in the one JSON error shape: never a 500, never HTML.

Each class of input the fuzzer found (a page past every store's range, deep
nesting, a body over the limit) and its neighbours (huge integers, NUL, lone
surrogates, invalid UTF-8, dates out of range, enormous strings) is sent to
every endpoint that takes it. The autouse ``_no_server_errors`` fixture fails a
test on any 5xx as well.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from api.parsers import MAX_JSON_DEPTH
from domain.experts import ExpertProfile
from domain.pagination import MAX_PAGE_NUMBER
from project.request_limits import RequestLimitsMiddleware
from tests.api.conftest import API, Account, assert_error, make_booking

HUGE = 10**30
INT64_OVERFLOW = 2**63

# Every list endpoint, and who may call it (filled in by the fixture below).
LISTS = ["/experts/", "/bookings/", "/reports/", "/experts/{expert}/reviews/"]


@pytest.fixture
def lists(staff: Account, published: ExpertProfile) -> list[str]:
    return [path.format(expert=published.id) for path in LISTS]


def assert_json_4xx(response: Any) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json", response.content[:300]
    body = json.loads(response.content)
    assert set(body["error"]) == {"code", "message", "fields"}
    return body


class TestPagination:
    @pytest.mark.parametrize("page", [str(MAX_PAGE_NUMBER + 1), str(INT64_OVERFLOW), str(HUGE), "9" * 5000, "-1", "0"])
    def test_a_page_out_of_range_is_400_on_every_list(self, staff: Account, lists: list[str], page: str) -> None:
        for path in lists:
            assert_error(staff.api.get(f"{API}{path}", {"page": page}), 400, "invalid", "page")

    @pytest.mark.parametrize("size", ["0", "101", str(HUGE), "1e3", "nan"])
    def test_a_page_size_out_of_range_is_400(self, staff: Account, lists: list[str], size: str) -> None:
        for path in lists:
            assert_error(staff.api.get(f"{API}{path}", {"page_size": size}), 400, "invalid", "page_size")

    def test_the_last_page_allowed_answers_empty(self, staff: Account, lists: list[str]) -> None:
        for path in lists:
            response = staff.api.get(f"{API}{path}", {"page": MAX_PAGE_NUMBER, "page_size": 100})
            assert (response.status_code, response.json()["results"]) == (200, [])


class TestJsonBodies:
    def post_json(self, api: APIClient, path: str, raw: str | bytes) -> Any:
        return api.generic("POST", f"{API}{path}", raw, content_type="application/json")

    @pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1000, 100_000])
    def test_deep_nesting_is_400(self, client_account: Account, depth: int) -> None:
        for raw in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
            assert_error(self.post_json(client_account.api, "/bookings/", raw), 400, "parse_error")

    @pytest.mark.parametrize(
        "text",
        ["nul\u0000inside", "lone \ud800 surrogate", "\udfff"],
        ids=["nul", "high-surrogate", "low-surrogate"],
    )
    def test_unstorable_strings_are_400_as_values_and_keys(self, expert_account: Account, text: str) -> None:
        for body in ({"headline": text}, {text: "x"}, {"skills": [text]}, {"hourly_rate": {"currency": text}}):
            raw = json.dumps(body)  # ensure_ascii: the surrogate travels as a \\u escape
            assert_error(self.post_json(expert_account.api, "/experts/", raw), 400, "parse_error")

    @pytest.mark.parametrize(
        "raw", [b'{"topic": "\xff\xfe"}', b"\xc3\x28", b'{"a": "\xed\xa0\x80"}'], ids=["ff", "c3", "cesu"]
    )
    def test_invalid_utf8_is_400(self, client_account: Account, raw: bytes) -> None:
        assert_error(self.post_json(client_account.api, "/bookings/", raw), 400, "parse_error")

    @pytest.mark.parametrize("number", [str(HUGE), str(INT64_OVERFLOW), "1e400", "-1e400", "9" * 5000])
    def test_huge_numbers_in_bodies_are_400(
        self, client_account: Account, expert_account: Account, published: ExpertProfile, number: str
    ) -> None:
        cases = [
            (client_account, "/bookings/", f'{{"expert_id": "{published.id}", "duration_minutes": {number}}}'),
            (expert_account, "/experts/me/", "{}"),  # a GET path, so only the next two carry the number
            (expert_account, f"/experts/{published.id}/", f'{{"hourly_rate": {{"amount": {number}}}}}'),
            (expert_account, f"/experts/{published.id}/avatar/upload/", f'{{"size": {number}}}'),
        ]
        for account, path, raw in cases:
            method = "PATCH" if path == f"/experts/{published.id}/" else "POST"
            response = account.api.generic(method, f"{API}{path}", raw, content_type="application/json")
            assert_json_4xx(response)

    def test_enormous_strings_are_400_per_field(self, expert_account: Account) -> None:
        huge = "x" * 1_000_000
        body = {
            "headline": huge,
            "bio": huge,
            "display_name": huge,
            "timezone": huge,
            "skills": [huge],
            "languages": [huge],
            "hourly_rate": {"amount": 100, "currency": huge},
        }
        response = expert_account.api.post(f"{API}/experts/", body)
        assert_json_4xx(response)

    def test_enormous_credentials_are_4xx(self, anon: APIClient) -> None:
        huge = "x" * 1_000_000
        for path, body in [
            ("/auth/token/", {"email": f"{huge}@example.com", "password": huge}),
            ("/auth/register/", {"email": f"{huge}@example.com", "password": huge, "name": "A", "role": "client"}),
            ("/auth/token/refresh/", {"refresh": huge}),
        ]:
            assert_json_4xx(anon.post(f"{API}{path}", body))


class TestDates:
    @pytest.mark.parametrize(
        "moment",
        [
            "9999-12-31T23:59:59Z",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00+14:00",
            "0001-01-01T00:00:00Z",
            "2030-13-45T99:99:99Z",
            "+275760-09-13T00:00:00Z",
        ],
    )
    def test_a_start_out_of_range_is_400(self, client_account: Account, published: ExpertProfile, moment: str) -> None:
        body = {"expert_id": str(published.id), "starts_at": moment, "duration_minutes": 60, "topic": "Help"}
        assert_json_4xx(client_account.api.post(f"{API}/bookings/", body))

    @pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "10000-01-01", "2030-02-30", "x" * 5000, "%00"])
    def test_a_report_day_out_of_range_is_4xx(self, staff: Account, day: str) -> None:
        assert_json_4xx(staff.api.get(f"{API}/reports/{day}/"))


class TestQueryParameters:
    @pytest.mark.parametrize(
        "query",
        [
            f"min_rate={HUGE}",
            f"max_rate={INT64_OVERFLOW}",
            "min_rating=1e400",
            "min_rating=nan",
            "q=" + "x" * 100_000,
            "skills=" + ",".join(f"s{n}" for n in range(5000)),
            "languages=" + "x" * 100_000,
            "currency=%00",
            "sort=%00",
        ],
    )
    def test_search_parameters(self, anon: APIClient, query: str) -> None:
        assert_json_4xx(anon.get(f"{API}/experts/?{query}"))

    @pytest.mark.parametrize("query", ["q=%ED%A0%80", "q=%FF%FE"])
    def test_invalid_utf8_in_the_query_is_read_as_replacement_characters(self, anon: APIClient, query: str) -> None:
        # Django decodes the query string with errors="replace": no lone surrogate reaches a store.
        response = anon.get(f"{API}/experts/?{query}")
        assert (response.status_code, response.json()["results"]) == (200, [])

    @pytest.mark.parametrize("params", [{"days": str(HUGE)}, {"limit": str(INT64_OVERFLOW)}, {"days": "-1"}])
    def test_trending_parameters(self, anon: APIClient, params: dict[str, str]) -> None:
        assert_json_4xx(anon.get(f"{API}/experts/trending/", params))

    @pytest.mark.parametrize("path", ["/experts/", "/bookings/", "/me/", "/nope/"])
    def test_nul_in_the_query_string_or_path_is_400(self, client_account: Account, path: str) -> None:
        assert_error(client_account.api.get(f"{API}{path}?q=a%00b"), 400, "bad_request")
        assert_error(client_account.api.get(f"{API}{path}%00/"), 400, "bad_request")

    def test_nul_in_a_cookie_is_400(self) -> None:
        client = Client()
        client.cookies["sessionid"] = "abcdefgh\x00ijkl"
        assert_error(client.get("/admin/"), 400, "bad_request")

    def test_too_many_query_fields_is_413_with_the_limit(self, anon: APIClient, settings: Any) -> None:
        settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
        response = anon.get(f"{API}/experts/?" + "&".join(f"f{n}=1" for n in range(11)))
        assert "10" in assert_error(response, 413, "too_many_fields")["message"]


class TestBodyLimits:
    """Over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 naming the limit, for JSON, forms and chunked bodies alike."""

    LIMIT = 1000

    @pytest.fixture(autouse=True)
    def _small_limits(self, settings: Any) -> None:
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = self.LIMIT
        settings.UPLOAD_MAX_BYTES = 3 * self.LIMIT

    def assert_too_large(self, response: Any, limit: int) -> None:
        assert response.status_code == 413, response.content[:300]
        assert str(limit) in assert_json_4xx(response)["error"]["message"]

    @pytest.mark.parametrize("path", ["/auth/register/", "/auth/token/", "/bookings/", "/experts/", "/nope/"])
    def test_json(self, client_account: Account, path: str) -> None:
        response = client_account.api.post(f"{API}{path}", {"topic": "x" * self.LIMIT})
        self.assert_too_large(response, self.LIMIT)

    def test_json_at_the_limit_is_read(self, client_account: Account) -> None:
        raw = json.dumps({"topic": "x" * (self.LIMIT - 20)})
        response = client_account.api.generic("POST", f"{API}/bookings/", raw, content_type="application/json")
        assert_error(response, 400, "invalid", "expert_id")

    def test_urlencoded_form(self, client_account: Account) -> None:
        response = client_account.api.post(f"{API}/bookings/", {"topic": "x" * self.LIMIT}, format=None)
        self.assert_too_large(response, self.LIMIT)

    def test_multipart_form(self, client_account: Account) -> None:
        fields = {"topic": "x" * (3 * self.LIMIT), "file": io.BytesIO(b"x")}
        self.assert_too_large(client_account.api.post(f"{API}/bookings/", fields, format="multipart"), 3 * self.LIMIT)

    def test_a_multipart_field_over_djangos_own_limit(self, client_account: Account) -> None:
        fields = {"topic": "x" * (2 * self.LIMIT)}  # under UPLOAD_MAX_BYTES, over Django's per-field limit
        self.assert_too_large(client_account.api.post(f"{API}/bookings/", fields, format="multipart"), self.LIMIT)

    def test_the_admin_login_form(self) -> None:
        client = Client(enforce_csrf_checks=False)
        self.assert_too_large(client.post("/admin/login/", {"username": "x" * self.LIMIT}), self.LIMIT)

    def chunked(self, body: bytes, content_type: str = "application/json") -> WSGIRequest:
        request = RequestFactory().generic("POST", f"{API}/bookings/", b"", content_type=content_type)
        request.META.pop("CONTENT_LENGTH", None)
        request.META["HTTP_TRANSFER_ENCODING"] = "chunked"
        request.environ["wsgi.input"] = io.BytesIO(body)
        return request

    def test_a_chunked_body_over_the_limit(self) -> None:
        response = RequestLimitsMiddleware(lambda request: HttpResponse())(self.chunked(b"x" * (self.LIMIT + 1)))
        self.assert_too_large(response, self.LIMIT)

    def test_a_chunked_body_within_the_limit_is_read_whole(self) -> None:
        seen: list[bytes] = []

        def view(request: Any) -> HttpResponse:
            seen.append(request.body)
            return HttpResponse()

        RequestLimitsMiddleware(view)(self.chunked(b'{"topic": "hello"}'))
        assert seen == [b'{"topic": "hello"}']


class TestBookingInputs:
    def test_nul_and_huge_topic_on_a_real_booking(
        self, client_account: Account, expert_account: Account, published: ExpertProfile
    ) -> None:
        booking = make_booking(client_account, published)
        for action in ("accept", "decline", "cancel", "complete", "review"):
            for body in ({"rating": HUGE, "comment": "\x00"}, {"rating": 5, "comment": "x" * 100_000}):
                response = client_account.api.post(f"{API}/bookings/{booking.id}/{action}/", body)
                assert response.status_code < 500, (action, response.content[:200])
