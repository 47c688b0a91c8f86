"""Login brute-force limits (django-axes): the admin's form and the API's JWT login share one count.

Either one locks: LOGIN_FAILURE_LIMIT failures for one account from any
addresses, or from one address across accounts. A locked login is a 429 in the
one error shape, even with the right password. The client address is REMOTE_ADDR.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from tests.api.conftest import API, PASSWORD, Account, assert_error

LOGIN = f"{API}/auth/token/"


def limit() -> int:
    return int(settings.AXES_FAILURE_LIMIT)


def admin_login(email: str, password: str, address: str = "192.0.2.1", **extra: str) -> Any:
    return Client().post(
        reverse("admin:login"), {"username": email, "password": password}, REMOTE_ADDR=address, **extra
    )


def api_login(email: str, password: str, address: str = "192.0.2.1", **extra: str) -> Any:
    return APIClient().post(LOGIN, {"email": email, "password": password}, REMOTE_ADDR=address, **extra)


def assert_locked(response: Any) -> None:
    assert_error(response, 429, "locked_out")
    assert int(response["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()


def test_failures_for_one_account_from_many_addresses_lock_it(staff: Account) -> None:
    for n in range(limit() - 1):
        assert admin_login(staff.email, "wrong", f"198.51.100.{n}").status_code == 200  # the form again
    assert_locked(admin_login(staff.email, "wrong", "198.51.100.99"))  # the limit-th failure

    assert_locked(admin_login(staff.email, PASSWORD, "203.0.113.5"))  # right password, new address
    assert_locked(api_login(staff.email, PASSWORD, "203.0.113.6"))  # and the API is locked too


def test_failures_from_one_address_across_accounts_lock_the_address(staff: Account, client_account: Account) -> None:
    for n in range(limit()):
        admin_login(f"guess{n}@example.com", "wrong", "192.0.2.50")

    assert_locked(admin_login(staff.email, PASSWORD, "192.0.2.50"))
    assert_locked(api_login(client_account.email, PASSWORD, "192.0.2.50"))
    assert admin_login(staff.email, PASSWORD, "192.0.2.51").status_code == 302  # another address: in


def test_api_failures_lock_the_admin_too(client_account: Account, staff: Account) -> None:
    for _ in range(limit() - 1):
        assert_error(api_login(staff.email, "wrong"), 401)
    assert_locked(api_login(staff.email, "wrong"))

    assert_locked(admin_login(staff.email, PASSWORD, "203.0.113.9"))
    assert api_login(client_account.email, PASSWORD, "203.0.113.9").status_code == 200  # others are unaffected


def test_spelling_the_email_differently_does_not_start_a_fresh_count(staff: Account) -> None:
    spellings = [staff.email.upper(), f"  {staff.email} ", staff.email.title()]
    for n in range(limit()):
        api_login(spellings[n % len(spellings)], "wrong", f"198.51.100.{n}")

    assert_locked(api_login(staff.email, PASSWORD, "203.0.113.1"))


def test_x_forwarded_for_does_not_change_the_address(staff: Account) -> None:
    for n in range(limit()):
        admin_login(f"guess{n}@example.com", "wrong", "192.0.2.60", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    assert_locked(admin_login(staff.email, PASSWORD, "192.0.2.60", HTTP_X_FORWARDED_FOR="203.0.113.200"))


def failures() -> int:
    return int(AccessAttempt.objects.aggregate(total=Sum("failures_since_start"))["total"] or 0)


def test_the_lock_opens_after_the_cool_off_and_trying_on_does_not_extend_it(staff: Account) -> None:
    for _ in range(limit()):
        api_login(staff.email, "wrong")
    for _ in range(3):
        assert_locked(api_login(staff.email, "wrong"))
    assert failures() == limit()  # attempts during the lockout are not counted

    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))

    assert api_login(staff.email, PASSWORD).status_code == 200
