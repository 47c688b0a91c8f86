"""Registration, JWT login and refresh (real tokens), and /me/."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import API, PASSWORD, Account, assert_error, make_profile, row_counts

REGISTER = f"{API}/auth/register/"
TOKEN = f"{API}/auth/token/"
REFRESH = f"{API}/auth/token/refresh/"
ME = f"{API}/me/"


def registration(**changes: Any) -> dict[str, Any]:
    return {"email": "New.Person@Example.com", "password": PASSWORD, "name": "New Person", "role": "client", **changes}


class TestRegister:
    @pytest.mark.parametrize("role", ["client", "expert"])
    def test_creates_the_account(self, anon: APIClient, role: str) -> None:
        response = anon.post(REGISTER, registration(role=role))

        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == {"id", "email", "name", "role", "signed_up_at", "expert_profile_id"}
        assert body["expert_profile_id"] is None
        assert body["email"] == "new.person@example.com"
        assert body["role"] == role
        assert body["signed_up_at"].endswith("Z") or body["signed_up_at"].endswith("+00:00")

    def test_a_taken_email_is_a_conflict(self, anon: APIClient, client_account: Account) -> None:
        response = anon.post(REGISTER, registration(email=client_account.email.upper()))

        assert_error(response, 409, "email_taken", "email")

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"password": "123"}, "password"),  # short and numeric
            ({"password": "password"}, "password"),  # too common
            ({"password": "new.person@example.com"}, "password"),  # too like the email
            ({"password": ""}, "password"),
            ({"email": "not-an-email"}, "email"),
            ({"email": ["a@example.com"]}, "email"),
            ({"name": ""}, "name"),
            ({"name": "x" * 101}, "name"),
            ({"role": "staff"}, "role"),  # staff accounts are made by operators
            ({"role": "admin"}, "role"),
            ({"is_staff": True}, "is_staff"),
            ({"id": "00000000-0000-0000-0000-000000000001"}, "id"),
        ],
    )
    def test_bad_input_creates_nothing(self, anon: APIClient, changes: dict[str, Any], field: str) -> None:
        before = row_counts()

        response = anon.post(REGISTER, registration(**changes))

        assert_error(response, 400, "invalid", field)
        assert row_counts() == before

    @pytest.mark.parametrize("missing", ["email", "password", "name", "role"])
    def test_missing_fields(self, anon: APIClient, missing: str) -> None:
        body = registration()
        del body[missing]

        assert_error(anon.post(REGISTER, body), 400, "invalid", missing)

    def test_read_only_fields_are_named_as_such(self, anon: APIClient) -> None:
        error = assert_error(anon.post(REGISTER, registration(signed_up_at="2020-01-01T00:00:00Z")), 400)

        assert error["fields"]["signed_up_at"] == ["This field is read-only."]


class TestTokens:
    def test_register_login_call_refresh_with_real_tokens(self, anon: APIClient) -> None:
        anon.post(REGISTER, registration(role="expert"))

        tokens = anon.post(TOKEN, {"email": " NEW.person@example.com ", "password": PASSWORD})
        assert tokens.status_code == 200, tokens.content
        assert set(tokens.json()) == {"access", "refresh"}

        bearer = APIClient()
        bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access']}")
        me = bearer.get(ME)
        assert me.status_code == 200
        assert me.json()["email"] == "new.person@example.com"

        refreshed = anon.post(REFRESH, {"refresh": tokens.json()["refresh"]})
        assert refreshed.status_code == 200, refreshed.content
        bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed.json()['access']}")
        assert bearer.get(ME).status_code == 200

    def test_a_wrong_password_is_401(self, anon: APIClient, client_account: Account) -> None:
        response = anon.post(TOKEN, {"email": client_account.email, "password": "wrong-password"})

        assert_error(response, 401, "no_active_account")

    @pytest.mark.parametrize("body", [{}, {"email": "a@example.com"}, {"password": "x"}])
    def test_missing_credentials_are_400(self, anon: APIClient, body: dict[str, str]) -> None:
        assert_error(anon.post(TOKEN, body), 400, "invalid")

    def test_a_garbage_refresh_token_is_401(self, anon: APIClient) -> None:
        assert_error(anon.post(REFRESH, {"refresh": "not-a-token"}), 401, "token_not_valid")

    def test_an_access_token_cannot_refresh(self, anon: APIClient, client_account: Account) -> None:
        access = anon.post(TOKEN, {"email": client_account.email, "password": PASSWORD}).json()["access"]

        assert_error(anon.post(REFRESH, {"refresh": access}), 401, "token_not_valid")

    def test_a_garbage_bearer_token_is_401_with_a_challenge(self) -> None:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")

        response = api.get(ME)

        assert_error(response, 401, "token_not_valid")
        assert response["WWW-Authenticate"].startswith("Bearer")


class TestMe:
    def test_a_client(self, client_account: Account) -> None:
        body = client_account.api.get(ME).json()

        assert body == {
            "id": str(client_account.id),
            "email": client_account.email,
            "name": "Clara Client",
            "role": "client",
            "signed_up_at": body["signed_up_at"],
            "expert_profile_id": None,
        }

    def test_an_expert_without_then_with_a_profile(self, expert_account: Account) -> None:
        assert expert_account.api.get(ME).json()["expert_profile_id"] is None

        profile = make_profile(expert_account, publish=False)

        assert expert_account.api.get(ME).json()["expert_profile_id"] == str(profile.id)

    def test_staff(self, staff: Account) -> None:
        assert staff.api.get(ME).json()["role"] == "staff"

    def test_anonymous_is_401(self, anon: APIClient) -> None:
        response = anon.get(ME)

        assert_error(response, 401, "not_authenticated")
        assert response["WWW-Authenticate"].startswith("Bearer")
