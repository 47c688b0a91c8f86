"""Registration, JWT login and refresh (real tokens), and /me/."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.api.conftest import API, PASSWORD, Account, MakeAccount, assert_error, make_profile, row_counts

REGISTER = f"{API}/auth/register/"
TOKEN = f"{API}/auth/token/"
REFRESH = f"{API}/auth/token/refresh/"
ME = f"{API}/me/"
REPORTS = f"{API}/reports/"
FULLWIDTH_NEW = "\uff4e\uff45\uff57@example.com"  # "new" in fullwidth letters
LONG_S_SAM = "\u017fam@example.com"  # "sam" with a long s, which Django's email validator takes for an s


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

    def test_a_compatibility_form_is_stored_as_its_mailbox(self, anon: APIClient) -> None:
        response = anon.post(REGISTER, registration(email=FULLWIDTH_NEW.upper()))

        assert response.status_code == 201, response.content
        assert response.json()["email"] == "new@example.com"

    @pytest.mark.parametrize("typed", [LONG_S_SAM, "\uff33\uff41\uff4d@example.com", " SAM@EXAMPLE.COM"])
    def test_one_mailbox_cannot_back_a_second_account(
        self, anon: APIClient, make_account: MakeAccount, typed: str
    ) -> None:
        make_account(email="sam@example.com")
        before = row_counts()

        assert_error(anon.post(REGISTER, registration(email=typed)), 409, "email_taken", "email")
        assert row_counts() == before

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


def login(api: APIClient, email: str) -> dict[str, str]:
    response = api.post(TOKEN, {"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.content
    tokens: dict[str, str] = response.json()
    return tokens


def bearer(access: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return api


class TestLoginFindsTheMailbox:
    @pytest.mark.parametrize("typed", ["Sam@Example.com", LONG_S_SAM, "\uff53\uff41\uff4d@\uff45xample.com"])
    def test_any_case_or_compatibility_form_logs_in(
        self, anon: APIClient, make_account: MakeAccount, typed: str
    ) -> None:
        account = make_account(email="sam@example.com")

        tokens = login(anon, typed)

        assert bearer(tokens["access"]).get(ME).json()["id"] == str(account.id)


class TestTokensOfChangedAccounts:
    """A token outlives changes to its account; every such token is a 401 in the error shape, never a 500."""

    def test_a_deleted_accounts_refresh_token_is_401(self, anon: APIClient, client_account: Account) -> None:
        tokens = login(anon, client_account.email)
        get_user_model().objects.filter(id=client_account.id).delete()

        assert_error(anon.post(REFRESH, {"refresh": tokens["refresh"]}), 401, "no_active_account")
        assert_error(bearer(tokens["access"]).get(ME), 401, "user_not_found")

    def test_a_deactivated_accounts_tokens_are_401(self, anon: APIClient, client_account: Account) -> None:
        tokens = login(anon, client_account.email)
        get_user_model().objects.filter(id=client_account.id).update(is_active=False)

        assert_error(anon.post(REFRESH, {"refresh": tokens["refresh"]}), 401, "no_active_account")
        assert_error(bearer(tokens["access"]).get(ME), 401, "user_inactive")
        assert_error(anon.post(TOKEN, {"email": client_account.email, "password": PASSWORD}), 401)

    def test_a_used_refresh_token_is_blacklisted(self, anon: APIClient, client_account: Account) -> None:
        tokens = login(anon, client_account.email)
        assert anon.post(REFRESH, {"refresh": tokens["refresh"]}).status_code == 200

        assert_error(anon.post(REFRESH, {"refresh": tokens["refresh"]}), 401, "token_not_valid")

    def test_an_expired_refresh_token_is_401(self, anon: APIClient, client_account: Account) -> None:
        token = RefreshToken.for_user(get_user_model().objects.get(id=client_account.id))
        token.set_exp(lifetime=timedelta(seconds=-1))

        assert_error(anon.post(REFRESH, {"refresh": str(token)}), 401, "token_not_valid")

    def test_a_refresh_token_signed_with_another_key_is_401(self, anon: APIClient, client_account: Account) -> None:
        header, payload, _ = login(anon, client_account.email)["refresh"].split(".")

        assert_error(anon.post(REFRESH, {"refresh": f"{header}.{payload}.forged"}), 401, "token_not_valid")

    def test_a_refresh_token_is_not_a_bearer_token(self, anon: APIClient, client_account: Account) -> None:
        response = bearer(login(anon, client_account.email)["refresh"]).get(ME)

        assert_error(response, 401, "token_not_valid")

    @pytest.mark.parametrize("refresh", [{"a": 1}, ["x"], None, ""])
    def test_a_malformed_refresh_field_is_400(self, anon: APIClient, refresh: Any) -> None:
        assert_error(anon.post(REFRESH, {"refresh": refresh}), 400, "invalid", "refresh")

    def test_a_role_taken_away_is_gone_from_the_next_request(self, anon: APIClient, staff: Account) -> None:
        api = bearer(login(anon, staff.email)["access"])
        assert api.get(REPORTS).status_code == 200

        get_user_model().objects.filter(id=staff.id).update(role="client", is_staff=False)

        assert_error(api.get(REPORTS), 403)


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
