"""Who may do what in the admin: every page of every registered model, as a superuser, a staff member
(not a superuser), a client and an anonymous visitor; and the privilege rules for accounts.

The table RIGHTS is the specification, written out rather than asked of the admin
classes: a model registered without an entry here fails the first test. A forbidden
write is checked in the database after the POST, not only by its status code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from adapters.orm.models import (
    BookingRow,
    ExpertProfileRow,
    OutboxEvent,
    ReportRunRow,
    ReviewRow,
    SentEmail,
    User,
)
from api.management.commands.seed_demo import CLIENT_EMAIL, STAFF_EMAIL
from tests.test_seed_demo import seeded_for_module

pytestmark = pytest.mark.django_db

NOW = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
ROOT_EMAIL = "root@experthub.local"
PASSWORD = "a-long-unusual-passphrase"
ROLES = ("superuser", "staff", "client", "anonymous")


@dataclass(frozen=True)
class Rights:
    view: bool = False
    add: bool = False
    change: bool = False
    delete: bool = False


NONE, VIEW, ALL = Rights(), Rights(view=True), Rights(True, True, True, True)
MODERATE = Rights(view=True, change=True)  # review comments
UNLOCK = Rights(view=True, change=True, delete=True)  # django-axes's records: a superuser deletes one to unlock

# (superuser, staff). Clients and anonymous visitors get nothing anywhere.
RIGHTS: dict[type[Model], tuple[Rights, Rights]] = {
    # Staff manage client and expert accounts (the row used below is a client's); see the privilege tests.
    User: (ALL, Rights(view=True, add=True, change=True)),
    # Written only through the use cases (admin actions), by anyone: derived fields, frozen prices.
    ExpertProfileRow: (VIEW, VIEW),
    BookingRow: (VIEW, VIEW),
    ReviewRow: (MODERATE, MODERATE),
    ReportRunRow: (VIEW, VIEW),
    SentEmail: (VIEW, VIEW),
    OutboxEvent: (VIEW, VIEW),
    # Other apps' admins: superusers only, whatever Django permissions a staff account holds.
    Group: (ALL, NONE),
    OutstandingToken: (VIEW, NONE),
    BlacklistedToken: (ALL, NONE),
    AccessAttempt: (UNLOCK, NONE),
    AccessLog: (UNLOCK, NONE),
    AccessFailureLog: (UNLOCK, NONE),
}


def rights(model: type[Model], role: str) -> Rights:
    return {"superuser": RIGHTS[model][0], "staff": RIGHTS[model][1]}.get(role, NONE)


# --- data ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def marketplace(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    with seeded_for_module(django_db_blocker, experts=4, clients=3):
        yield


def client_user() -> User:
    return User.objects.get(email=CLIENT_EMAIL)


def outstanding_token() -> OutstandingToken:
    return OutstandingToken.objects.create(
        user=client_user(), jti="jti-1", token="token", created_at=NOW, expires_at=NOW + timedelta(days=1)
    )


ACCESS = {"username": "someone@example.com", "ip_address": "192.0.2.1", "user_agent": "ua", "http_accept": "*/*"}
MAKE: dict[type[Model], Callable[[], Model]] = {
    User: client_user,
    Group: lambda: Group.objects.create(name="moderators"),
    OutstandingToken: outstanding_token,
    BlacklistedToken: lambda: BlacklistedToken.objects.create(token=outstanding_token()),
    AccessAttempt: lambda: AccessAttempt.objects.create(
        **ACCESS, path_info="/admin/login/", get_data="", post_data="", failures_since_start=1
    ),
    AccessLog: lambda: AccessLog.objects.create(**ACCESS, path_info="/admin/login/"),
    AccessFailureLog: lambda: AccessFailureLog.objects.create(**ACCESS, path_info="/admin/login/", locked_out=False),
    ReportRunRow: lambda: ReportRunRow.objects.create(
        day=date(2029, 12, 31), tz="UTC", status="sent", created_at=NOW, recipients=["ops@experthub.local"]
    ),
    SentEmail: lambda: SentEmail.objects.create(
        key_hash="a" * 64, status="sent", recipient="a@example.com", subject="Hi", claimed_at=NOW
    ),
    OutboxEvent: lambda: OutboxEvent.objects.create(kind="booking_requested", ids=["x"]),
}


def a_row(model: type[Model]) -> Model:
    make = MAKE.get(model)
    row = make() if make else model._default_manager.order_by("pk").first()
    assert row is not None, model
    return row


def snapshot(row: Model) -> dict[str, object]:
    fresh = type(row)._default_manager.filter(pk=row.pk).first()
    return {f.attname: getattr(fresh, f.attname) for f in row._meta.concrete_fields} if fresh else {}


@pytest.fixture
def superuser(marketplace: None) -> User:
    return User.objects.create_superuser(ROOT_EMAIL, PASSWORD, name="Root")


@pytest.fixture
def as_role(client: Client, superuser: User) -> Callable[[str], Client]:
    def log_in(role: str) -> Client:
        email = {"superuser": ROOT_EMAIL, "staff": STAFF_EMAIL, "client": CLIENT_EMAIL}.get(role)
        if email:
            client.force_login(User.objects.get(email=email))
        return client

    return log_in


def url(model: type[Model], page: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def password_page(account: User) -> str:
    return reverse("admin:auth_user_password_change", args=[account.pk])  # Django's UserAdmin names it so


def refused(role: str) -> int:
    """What the admin answers a request it refuses: a redirect to log in, or 403 for staff."""
    return 403 if role in ("superuser", "staff") else 302


# --- every page of every model ------------------------------------------------------------------


def test_every_registered_model_has_its_rights_written_down() -> None:
    assert set(admin.site._registry) == set(RIGHTS)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", list(RIGHTS), ids=lambda m: m.__name__)
def test_every_page_answers_as_the_rights_say(as_role: Callable[[str], Client], model: type[Model], role: str) -> None:
    row, may = a_row(model), rights(model, role)
    browser = as_role(role)

    def expect(allowed: bool) -> int:
        return 200 if allowed else refused(role)

    pages = {
        "changelist": url(model, "changelist"),
        "add": url(model, "add"),
        "change": url(model, "change", row.pk),
        "delete": url(model, "delete", row.pk),
        "history": url(model, "history", row.pk),
    }
    wanted = {
        "changelist": expect(may.view),
        "add": expect(may.add),
        "change": expect(may.view or may.change),  # read-only when view alone
        "delete": expect(may.delete),
        "history": expect(may.view),
    }
    if model is User:
        pages["password"], wanted["password"] = password_page(row), expect(may.change)  # type: ignore[arg-type]
    assert {page: browser.get(path).status_code for page, path in pages.items()} == wanted


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("model", list(RIGHTS), ids=lambda m: m.__name__)
def test_forbidden_writes_are_refused_and_not_applied(
    as_role: Callable[[str], Client], model: type[Model], role: str
) -> None:
    row, may = a_row(model), rights(model, role)
    browser = as_role(role)
    before, count = snapshot(row), model._default_manager.count()
    # Any body will do: the permission is checked before the form is read.
    body = {field.name: "1" for field in row._meta.concrete_fields if not field.primary_key} | {"_save": "Save"}

    if not may.change:
        assert browser.post(url(model, "change", row.pk), body).status_code == refused(role)
    if not may.delete:
        assert browser.post(url(model, "delete", row.pk), {"post": "yes"}).status_code == refused(role)
    if not may.add:
        assert browser.post(url(model, "add"), body).status_code == refused(role)

    assert snapshot(row) == before
    assert model._default_manager.count() == count


@pytest.mark.parametrize("role", ROLES)
def test_the_site_pages(as_role: Callable[[str], Client], role: str) -> None:
    browser = as_role(role)
    apps = {"orm", "auth", "token_blacklist", "axes"}
    # An app none of whose models a staff member may see does not exist for them.
    wanted_app = {"superuser": dict.fromkeys(apps, 200), "staff": {**dict.fromkeys(apps, 404), "orm": 200}}
    statuses = {app: browser.get(reverse("admin:app_list", args=[app])).status_code for app in apps}

    assert statuses == wanted_app.get(role, dict.fromkeys(apps, 302))
    inside = role in ("superuser", "staff")
    assert browser.get(reverse("admin:index")).status_code == (200 if inside else 302)
    assert browser.get(reverse("admin:password_change")).status_code == (200 if inside else 302)  # one's own
    # Autocomplete lists what the target model's changelist would: accounts to the back office, groups to superusers.
    accounts = {"app_label": "orm", "model_name": "bookingrow", "field_name": "client", "term": "a"}
    groups = {"app_label": "orm", "model_name": "user", "field_name": "groups", "term": "a"}
    assert browser.get(reverse("admin:autocomplete"), accounts).status_code == (200 if inside else 302)
    assert browser.get(reverse("admin:autocomplete"), groups).status_code == {"superuser": 200, "staff": 403}.get(
        role, 302
    )


# --- accounts: privileges are the superusers' ---------------------------------------------------


def account(email: str) -> User:
    return User.objects.get(email=email)


def privileged_accounts(superuser: User) -> list[User]:
    other_staff = User.objects.create_user("other.staff@experthub.local", PASSWORD, name="Other", role="staff")
    other_staff.is_staff = True
    other_staff.save()
    return [superuser, other_staff]


def change_body(target: User, **changes: object) -> dict[str, object]:
    """The change form as submitted, with ``changes`` on top (an omitted checkbox is False)."""
    body: dict[str, object] = {"email": target.email, "name": target.name, "is_active": "on"}
    return body | {key: value for key, value in changes.items() if value is not False}


def test_staff_cannot_edit_a_superuser_or_another_staff_account(
    as_role: Callable[[str], Client], superuser: User
) -> None:
    staff = as_role("staff")
    for target in privileged_accounts(superuser):
        before = snapshot(target)
        page = staff.get(url(User, "change", target.pk))
        assert page.status_code == 200
        assert b'name="email"' not in page.content  # read-only

        takeover = change_body(target, email="attacker@example.com", is_active=False, name="Owned")
        assert staff.post(url(User, "change", target.pk), takeover).status_code == 403
        password = {"password1": "attacker-pass-123456", "password2": "attacker-pass-123456", "usable_password": "true"}
        assert staff.get(password_page(target)).status_code == 403
        assert staff.post(password_page(target), password).status_code == 403
        assert staff.post(url(User, "delete", target.pk), {"post": "yes"}).status_code == 403

        assert snapshot(target) == before
        assert account(target.email).check_password(PASSWORD)


def test_staff_cannot_raise_their_own_privileges(as_role: Callable[[str], Client], superuser: User) -> None:
    staff, me = as_role("staff"), account(STAFF_EMAIL)
    everything = list(Permission.objects.values_list("pk", flat=True))
    group = Group.objects.create(name="everyone")
    grab = change_body(
        me, name="Still Sam", is_staff="on", is_superuser="on", groups=[group.pk], user_permissions=everything
    )

    response = staff.post(url(User, "change", me.pk), grab)

    assert response.status_code == 302  # the rest of the form is saved...
    me.refresh_from_db()
    assert me.name == "Still Sam"
    assert not me.is_superuser  # ...but not the privileges
    assert not me.groups.exists()
    assert not me.user_permissions.exists()


def test_staff_cannot_make_a_client_staff(as_role: Callable[[str], Client]) -> None:
    staff, target = as_role("staff"), account(CLIENT_EMAIL)

    response = staff.post(url(User, "change", target.pk), change_body(target, name="Renamed", is_staff="on"))

    assert response.status_code == 302
    target.refresh_from_db()
    assert target.name == "Renamed"  # staff do manage client accounts
    assert not target.is_staff
    assert not target.is_superuser


def new_account(role: str) -> dict[str, str]:
    return {
        "email": f"new.{role}@experthub.local",
        "name": "New",
        "role": role,
        "usable_password": "true",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }


def test_staff_create_clients_and_experts_but_not_staff(as_role: Callable[[str], Client]) -> None:
    staff = as_role("staff")

    refused_form = staff.post(url(User, "add"), new_account("staff"))
    accepted = staff.post(url(User, "add"), new_account("expert"))

    assert refused_form.status_code == 200
    assert "role" in refused_form.context["adminform"].form.errors
    assert not User.objects.filter(email="new.staff@experthub.local").exists()
    assert accepted.status_code == 302
    assert not account("new.expert@experthub.local").is_staff


def test_a_superuser_creates_staff_and_edits_privileged_accounts(
    as_role: Callable[[str], Client], superuser: User
) -> None:
    root = as_role("superuser")

    assert root.post(url(User, "add"), new_account("staff")).status_code == 302
    assert account("new.staff@experthub.local").is_staff
    target = privileged_accounts(superuser)[1]
    assert root.post(url(User, "change", target.pk), change_body(target, name="Renamed")).status_code == 302
    assert account(target.email).name == "Renamed"
    assert not account(target.email).is_staff  # the superuser unticked it (omitted checkbox)
    password = {"password1": "new-pass-123456789", "password2": "new-pass-123456789", "usable_password": "true"}
    assert root.post(password_page(target), password).status_code == 302
    assert account(target.email).check_password("new-pass-123456789")


def test_a_staff_member_holding_every_django_permission_still_cannot_open_other_apps(
    as_role: Callable[[str], Client],
) -> None:
    me = account(STAFF_EMAIL)
    me.user_permissions.set(Permission.objects.all())  # as if a superuser had granted them
    staff = as_role("staff")

    for model in (Group, OutstandingToken, BlacklistedToken, AccessAttempt, AccessLog, AccessFailureLog):
        assert staff.get(url(model, "changelist")).status_code == 403, model
    assert staff.get(url(User, "delete", account(CLIENT_EMAIL).pk)).status_code == 403


# --- actions ------------------------------------------------------------------------------------


def act(browser: Client, model: type[Model], action: str, row: Model) -> int:
    response = browser.post(url(model, "changelist"), {"action": action, "_selected_action": [str(row.pk)]})
    return int(response.status_code)


@pytest.mark.parametrize("role", ["client", "anonymous"])
def test_outsiders_cannot_run_actions(as_role: Callable[[str], Client], role: str) -> None:
    browser = as_role(role)
    published = ExpertProfileRow.objects.filter(status="published").first()
    report = a_row(ReportRunRow)
    assert published is not None

    assert act(browser, ExpertProfileRow, "suspend", published) == 302
    assert act(browser, ReportRunRow, "resend", report) == 302
    assert act(browser, User, "delete_selected", client_user()) == 302

    published.refresh_from_db()
    assert published.status == "published"
    assert snapshot(report)["sends"] == 1
    assert User.objects.filter(email=CLIENT_EMAIL).exists()


@pytest.mark.parametrize("role", ["superuser", "staff"])
def test_the_back_office_moderates_through_the_actions(as_role: Callable[[str], Client], role: str) -> None:
    published = ExpertProfileRow.objects.filter(status="published").first()
    assert published is not None

    assert act(as_role(role), ExpertProfileRow, "suspend", published) == 302

    published.refresh_from_db()
    assert published.status == "suspended"


def test_staff_cannot_delete_through_the_bulk_action(as_role: Callable[[str], Client]) -> None:
    staff = as_role("staff")
    review = a_row(ReviewRow)

    for model, row in ((User, client_user()), (ReviewRow, review)):
        response = staff.post(url(model, "changelist"), {"action": "delete_selected", "_selected_action": [row.pk]})
        assert response.status_code in (200, 302)
        assert model._default_manager.filter(pk=row.pk).exists()
