"""The one error shape: Django's own pages, DRF's exceptions, domain errors, throttling, and the 500 path."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import (
    DisallowedHost,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, InterfaceError, OperationalError, ProgrammingError, connection
from django.http import Http404
from django.test import Client, RequestFactory
from rest_framework import exceptions
from rest_framework.test import APIClient

from api import errors
from domain.errors import (
    BookingOverlap,
    Conflict,
    DomainError,
    DuplicateReview,
    EmailTaken,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    PortError,
    ProfileExists,
)
from domain.experts import ExpertProfile
from tests.api.conftest import API, PASSWORD, Account, assert_error, make_profile


class TestDjangoErrorPages:
    @pytest.mark.parametrize("path", ["/nope", "/api/v1/nope/", "/api/v1/experts/not-a-uuid/", "/api/v2/experts/"])
    def test_an_unknown_url_is_a_json_404(self, anon: APIClient, path: str) -> None:
        assert_error(anon.get(path), 404, "not_found")

    def test_the_handlers_answer_in_the_shape(self) -> None:
        request = RequestFactory().get("/")
        cases = [
            (errors.bad_request(request, Exception()), 400, "bad_request"),
            (errors.permission_denied(request, Exception()), 403, "permission_denied"),
            (errors.page_not_found(request, Exception()), 404, "not_found"),
            (errors.server_error(request), 500, "server_error"),
        ]
        for response, status, code in cases:
            assert response.status_code == status
            assert response["Content-Type"] == "application/json"
            body = json.loads(response.content)
            assert body == {"error": {"code": code, "message": body["error"]["message"], "fields": {}}}


class TestHttpErrors:
    @pytest.mark.parametrize(
        ("method", "path", "allow"),
        [
            ("delete", "/experts/", "GET, POST, HEAD, OPTIONS"),
            ("put", "/experts/", "GET, POST, HEAD, OPTIONS"),
            ("get", "/auth/register/", "POST, OPTIONS"),
            ("get", "/auth/token/", "POST, OPTIONS"),
        ],
    )
    def test_a_wrong_method_is_405_with_allow(
        self, client_account: Account, method: str, path: str, allow: str
    ) -> None:
        response = getattr(client_account.api, method)(f"{API}{path}")

        assert_error(response, 405, "method_not_allowed")
        assert response["Allow"] == allow

    def test_a_wrong_method_on_a_detail_url(self, expert_account: Account, published: ExpertProfile) -> None:
        response = expert_account.api.delete(f"{API}/experts/{published.id}/")

        assert_error(response, 405, "method_not_allowed")
        assert response["Allow"] == "GET, PATCH, HEAD, OPTIONS"

    def test_head_is_answered_like_get(self, anon: APIClient) -> None:
        response = anon.head(f"{API}/experts/")

        assert (response.status_code, response.content) == (200, b"")

    def test_options_describes_a_shared_url(self, anon: APIClient) -> None:
        response = anon.options(f"{API}/experts/")

        assert response.status_code == 200
        assert response["Allow"] == "GET, POST, HEAD, OPTIONS"

    def test_unauthenticated_is_401_with_a_challenge(self, anon: APIClient) -> None:
        response = anon.post(f"{API}/bookings/", {})

        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'

    def test_an_unsupported_media_type_is_415(self, expert_account: Account) -> None:
        response = expert_account.api.post(f"{API}/experts/", "headline", content_type="text/plain")

        assert_error(response, 415, "unsupported_media_type")

    def test_form_bodies_are_validated_like_json(self, expert_account: Account) -> None:
        response = expert_account.api.post(
            f"{API}/experts/", {"headline": "Hi", "status": "published"}, format="multipart"
        )

        assert_error(response, 400, "invalid", "hourly_rate", "status")

    def test_an_unacceptable_accept_header_is_406(self, anon: APIClient) -> None:
        assert_error(anon.get(f"{API}/experts/", HTTP_ACCEPT="application/xml"), 406, "not_acceptable")


@pytest.fixture
def tight_throttles(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"login": "2/min", "register": "2/min", "booking_create": "2/min"},
    }


@pytest.mark.usefixtures("tight_throttles")
class TestThrottling:
    def assert_throttled(self, response: Any) -> None:
        assert_error(response, 429, "throttled")
        assert 0 < int(response["Retry-After"]) <= 60

    def test_login(self, anon: APIClient, client_account: Account) -> None:
        credentials = {"email": client_account.email, "password": PASSWORD}
        assert [anon.post(f"{API}/auth/token/", credentials).status_code for _ in range(2)] == [200, 200]

        self.assert_throttled(anon.post(f"{API}/auth/token/", credentials))

    def test_failed_logins_count_too(self, anon: APIClient, client_account: Account) -> None:
        wrong = {"email": client_account.email, "password": "guess"}
        for _ in range(2):
            anon.post(f"{API}/auth/token/", wrong)

        self.assert_throttled(anon.post(f"{API}/auth/token/", {**wrong, "password": PASSWORD}))

    def test_register(self, anon: APIClient) -> None:
        def register(n: int) -> Any:
            body = {"email": f"u{n}@example.com", "password": PASSWORD, "name": "U", "role": "client"}
            return anon.post(f"{API}/auth/register/", body)

        assert [register(n).status_code for n in range(2)] == [201, 201]
        self.assert_throttled(register(3))

    def test_booking_create(self, client_account: Account, expert_account: Account) -> None:
        profile = make_profile(expert_account)

        def book(day: int) -> Any:
            body = {
                "expert_id": str(profile.id),
                "starts_at": f"2030-02-{day:02d}T10:00:00Z",
                "duration_minutes": 60,
                "topic": "Help",
            }
            return client_account.api.post(f"{API}/bookings/", body)

        assert [book(day).status_code for day in (1, 2)] == [201, 201]
        self.assert_throttled(book(3))

    def test_unthrottled_endpoints_stay_open(self, anon: APIClient) -> None:
        assert {anon.get(f"{API}/experts/").status_code for _ in range(5)} == {200}


class TestExceptionHandler:
    """The mapping itself, one exception at a time."""

    @pytest.mark.parametrize(
        ("error", "status", "code"),
        [
            (InvalidInput("bad"), 400, "invalid"),
            (NotFound("gone"), 404, "not_found"),
            (PermissionDenied("no"), 403, "permission_denied"),
            (Conflict("clash"), 409, "conflict"),
            (InvalidTransition("no move"), 409, "invalid_transition"),
            (BookingOverlap("overlap"), 409, "booking_overlap"),
            (DuplicateReview("again"), 409, "duplicate_review"),
            (EmailTaken("taken"), 409, "email_taken"),
            (ProfileExists("exists"), 409, "profile_exists"),
            (PortError("down"), 503, "service_unavailable"),
            (DomainError("other"), 400, "domain_error"),
        ],
    )
    def test_domain_errors(self, error: DomainError, status: int, code: str) -> None:
        response = errors.exception_handler(error, {})

        assert response.status_code == status
        assert response.data == {"error": {"code": code, "message": error.message, "fields": {}}}

    def test_field_errors_of_the_domain_are_kept(self) -> None:
        response = errors.exception_handler(InvalidInput.on_field("skills", "Bad skill."), {})

        assert response.data["error"]["fields"] == {"skills": ["Bad skill."]}

    @pytest.mark.parametrize(
        ("error", "status", "code"),
        [
            (Http404(), 404, "not_found"),
            (DjangoPermissionDenied(), 403, "permission_denied"),
            (exceptions.ParseError(), 400, "parse_error"),
            (exceptions.NotAuthenticated(), 401, "not_authenticated"),
            (exceptions.MethodNotAllowed("DELETE"), 405, "method_not_allowed"),
            (exceptions.UnsupportedMediaType("text/plain"), 415, "unsupported_media_type"),
            (exceptions.Throttled(wait=2.5), 429, "throttled"),
        ],
    )
    def test_framework_errors(self, error: Exception, status: int, code: str) -> None:
        response = errors.exception_handler(error, {})

        assert (response.status_code, response.data["error"]["code"]) == (status, code)

    def test_throttled_says_when_to_retry(self) -> None:
        assert errors.exception_handler(exceptions.Throttled(wait=2.5), {})["Retry-After"] == "3"

    def test_nested_validation_errors_are_flattened(self) -> None:
        error = exceptions.ValidationError(
            {
                "hourly_rate": {"amount": ["Too big."], "currency": ["Unknown."]},
                "skills": {0: ["Not a string."]},
                "non_field_errors": ["Inconsistent."],
                "items": [{}, {"name": ["Required."]}],
            }
        )

        fields = errors.exception_handler(error, {}).data["error"]["fields"]

        assert fields == {
            "hourly_rate.amount": ["Too big."],
            "hourly_rate.currency": ["Unknown."],
            "skills.0": ["Not a string."],
            "non_field_errors": ["Inconsistent."],
            "items.1.name": ["Required."],
        }

    def test_a_bare_validation_error_is_a_non_field_error(self) -> None:
        fields = errors.exception_handler(exceptions.ValidationError("Nope."), {}).data["error"]["fields"]

        assert fields == {"non_field_errors": ["Nope."]}

    def test_anything_else_is_logged_and_a_bare_500(self, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.ERROR, logger="api.errors"):
            response = errors.exception_handler(RuntimeError("secret database password"), {"view": object()})

        assert response.status_code == 500
        assert response.data == {"error": {"code": "server_error", "message": "Internal server error.", "fields": {}}}
        assert "secret" not in str(response.data)
        [record] = caplog.records
        assert record.exc_info is not None
        assert record.exc_info[0] is RuntimeError


class TestNoHtmlAnywhere:
    """Every error the project's code or configuration answers is JSON, outside DRF too."""

    @pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/healthz/"])
    @pytest.mark.parametrize("method", ["post", "put", "delete", "patch"])
    def test_a_wrong_method_on_a_probe_is_a_json_405(self, path: str, method: str) -> None:
        response = getattr(Client(), method)(path)

        assert_error(response, 405, "method_not_allowed")
        assert response["Allow"] == "GET, HEAD"

    def test_a_csrf_failure_is_a_json_403(self, staff: Account) -> None:
        client = Client(enforce_csrf_checks=True)
        client.force_login(get_user_model().objects.get(pk=staff.id))

        response = client.post("/admin/logout/")

        assert "CSRF" in assert_error(response, 403, "csrf_failed")["message"]

    @pytest.mark.parametrize("host", ["evil.example.com", "bad host", "[::1"])
    def test_a_host_not_allowed_is_a_json_400(self, anon: APIClient, host: str) -> None:
        for path in (f"{API}/experts/", "/admin/", "/nope"):
            assert_error(anon.get(path, HTTP_HOST=host), 400, "bad_request")

    def test_the_probes_answer_whatever_the_host(self, anon: APIClient) -> None:
        assert anon.get("/healthz", HTTP_HOST="10.0.0.7").status_code == 200

    @pytest.mark.parametrize(
        ("error", "status", "code"),
        [
            (RequestDataTooBig("too big"), 413, "request_too_large"),
            (TooManyFieldsSent("too many"), 413, "too_many_fields"),
            (TooManyFilesSent("too many"), 413, "too_many_files"),
            (DisallowedHost("evil"), 400, "bad_request"),
            (SuspiciousOperation("odd"), 400, "bad_request"),
        ],
    )
    def test_suspicious_requests_in_drf_and_django_alike(self, error: Exception, status: int, code: str) -> None:
        drf = errors.exception_handler(error, {})
        django = errors.bad_request(RequestFactory().get("/"), error)

        assert (drf.status_code, drf.data["error"]["code"]) == (status, code)
        assert (django.status_code, json.loads(django.content)["error"]["code"]) == (status, code)

    def test_the_body_limit_is_in_the_message(self, settings: Any) -> None:
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4242

        response = errors.exception_handler(RequestDataTooBig("too big"), {})

        assert "4242" in response.data["error"]["message"]


class TestDatabaseUnavailable:
    """The mapping; tests/test_database_outage.py sends requests through a failing connection."""

    @pytest.mark.parametrize(
        "error",
        [
            OperationalError("server closed the connection unexpectedly"),
            InterfaceError("connection already closed"),
            sqlite3.OperationalError("database is locked"),
            # The configured driver's own error, as the gevent pool raises it when no connection frees up.
            connection.Database.OperationalError("no free database connection within 10s (pool of 4 in use)"),
        ],
    )
    def test_is_503_with_retry_after(self, error: Exception, settings: Any) -> None:
        settings.UNAVAILABLE_RETRY_AFTER_SECONDS = 7

        response = errors.exception_handler(error, {})

        assert (response.status_code, response.data["error"]["code"]) == (503, "service_unavailable")
        assert response["Retry-After"] == "7"

    def test_a_port_error_says_when_to_retry_too(self) -> None:
        assert errors.exception_handler(PortError("down"), {})["Retry-After"].isdigit()

    def test_an_error_raised_from_an_outage_is_an_outage(self) -> None:
        error = RuntimeError("wrapped")
        error.__cause__ = OperationalError("could not connect")  # as `raise ... from` sets it

        assert errors.exception_handler(error, {}).status_code == 503

    @pytest.mark.parametrize("error", [ProgrammingError("no such column"), IntegrityError("duplicate key")])
    def test_a_programming_error_stays_a_logged_500(self, error: Exception, caplog: pytest.LogCaptureFixture) -> None:
        with caplog.at_level(logging.ERROR, logger="api.errors"):
            response = errors.exception_handler(error, {"view": object()})

        assert response.status_code == 500
        assert [record.exc_info[0] for record in caplog.records if record.exc_info] == [type(error)]

    def test_djangos_500_handler_answers_503_while_it_handles_an_outage(self) -> None:
        request = RequestFactory().get("/admin/")
        try:
            raise OperationalError("connection refused")
        except OperationalError:
            response = errors.server_error(request)

        assert response.status_code == 503
        assert response["Retry-After"].isdigit()
        assert json.loads(response.content)["error"]["code"] == "service_unavailable"

    def test_djangos_500_handler_answers_500_for_anything_else(self) -> None:
        try:
            raise ProgrammingError("relation does not exist")
        except ProgrammingError:
            response = errors.server_error(RequestFactory().get("/"))

        assert response.status_code == 500
