"""While the database is down every request is a 503 in the JSON error shape, with Retry-After.

Here the outage is this thread's connection failing every statement (Django's
``execute_wrapper``, the hook the test client's requests run through), on the
SQLite run and the stack run alike. Real PostgreSQL stopped under real gunicorn:
tests/integration/test_database_outage_gunicorn.py. Outside tests/api, whose
fixture fails any test that sees a 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import InterfaceError, OperationalError, ProgrammingError, connection
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from domain.users import Role
from tests.api.conftest import API, PASSWORD
from tests.factories import store_user

pytestmark = pytest.mark.django_db

Execute = Callable[..., Any]


def refuse(error: Exception) -> Callable[..., Any]:
    def execute(run: Execute, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        raise error

    return execute


@pytest.fixture
def user() -> Any:
    from adapters.orm.repositories import DjangoUserRepository

    stored = store_user(DjangoUserRepository(), role=Role.STAFF)
    return get_user_model().objects.get(pk=stored.id)


@pytest.fixture
def jwt(user: Any) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}", raise_request_exception=False)


@pytest.fixture
def session(user: Any) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.fixture
def anonymous() -> Client:
    return Client(raise_request_exception=False)


@pytest.fixture
def outage() -> Iterator[None]:
    with connection.execute_wrapper(refuse(OperationalError("server closed the connection unexpectedly"))):
        yield


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"] == "application/json"
    assert int(response["Retry-After"]) > 0
    assert json.loads(response.content)["error"]["code"] == "service_unavailable"


SOME_ID = "8f1c6a34-5a8e-4b8e-9d51-0f2f3b6c1e01"
ANONYMOUS_PATHS = [f"{API}/experts/", f"{API}/experts/{SOME_ID}/", f"{API}/experts/{SOME_ID}/reviews/"]
AUTHENTICATED_PATHS = [f"{API}/me/", f"{API}/bookings/", f"{API}/experts/", f"{API}/reports/"]


class TestWhileTheDatabaseIsDown:
    """``outage`` comes last: the clients log in and fetch tokens before it starts."""

    @pytest.mark.parametrize("path", ANONYMOUS_PATHS)
    def test_anonymous_requests(self, anonymous: Client, path: str, outage: None) -> None:
        assert_unavailable(anonymous.get(path))

    @pytest.mark.parametrize("path", AUTHENTICATED_PATHS)
    def test_jwt_requests(self, jwt: Client, path: str, outage: None) -> None:
        assert_unavailable(jwt.get(path))

    @pytest.mark.parametrize("path", [*AUTHENTICATED_PATHS, "/admin/", "/admin/orm/user/"])
    def test_session_requests(self, session: Client, path: str, outage: None) -> None:
        assert_unavailable(session.get(path))

    def test_a_login(self, anonymous: Client, user: Any, outage: None) -> None:
        body = {"email": user.email, "password": PASSWORD}
        assert_unavailable(anonymous.post(f"{API}/auth/token/", body, content_type="application/json"))

    def test_an_admin_login(self, anonymous: Client, user: Any, outage: None) -> None:
        assert_unavailable(anonymous.post("/admin/login/", {"username": user.email, "password": PASSWORD}))

    def test_a_write(self, jwt: Client, outage: None) -> None:
        assert_unavailable(jwt.post(f"{API}/bookings/", {}, content_type="application/json"))

    def test_liveness_stays_ok(self, anonymous: Client, outage: None) -> None:
        assert anonymous.get("/healthz").status_code == 200


def test_a_lost_connection_is_an_outage_too(jwt: Client) -> None:
    with connection.execute_wrapper(refuse(InterfaceError("connection already closed"))):
        assert_unavailable(jwt.get(f"{API}/me/"))


def test_a_programming_error_stays_a_500(jwt: Client) -> None:
    with connection.execute_wrapper(refuse(ProgrammingError("relation does not exist"))):
        response = jwt.get(f"{API}/me/")

    assert response.status_code == 500
    assert json.loads(response.content)["error"]["code"] == "server_error"


def test_the_same_requests_succeed_once_it_is_back(jwt: Client, anonymous: Client) -> None:
    with connection.execute_wrapper(refuse(OperationalError("the database system is starting up"))):
        assert_unavailable(jwt.get(f"{API}/me/"))

    assert jwt.get(f"{API}/me/").status_code == 200
    assert anonymous.get(f"{API}/experts/").status_code == 200
