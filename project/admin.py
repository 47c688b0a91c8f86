"""Django admin: the back office for staff.

Who may use it: active accounts with the staff role (and superusers). Django's
per-model permissions are not used: ExpertHub has one back-office role, and
superusers above it. Privileges are the superusers' alone: only a superuser
edits, deletes or sets the password of a privileged account (staff or
superuser), grants staff or superuser rights, groups or permissions, or opens
the admins of other apps (groups, JWT blacklist, login lockouts).

What may be edited here: accounts, and review comments (moderation). Expert
profiles and bookings are read-only, because changing them behind the use
cases' back would break what those keep true (the search index, frozen
prices, no overlapping accepted bookings, rating aggregates). Status changes
of profiles are admin actions that call the use cases from the container, so
they obey the same rules as the API.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import ExpressionWrapper, F, FloatField, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from adapters.orm.models import (
    ROLE_CHOICES,
    BookingRow,
    ExpertProfileRow,
    OutboxEvent,
    ReportRunRow,
    ReviewRow,
    SentEmail,
    User,
)
from domain.errors import DomainError, InvalidInput
from domain.ids import ExpertId, UserId
from domain.money import Money
from domain.users import normalise_email
from project.container import container

admin.site.site_header = "ExpertHub back office"
admin.site.site_title = "ExpertHub admin"
admin.site.index_title = "Marketplace"


def is_back_office(request: HttpRequest) -> bool:
    user: Any = request.user
    return bool(user.is_active and (user.is_superuser or (user.is_staff and user.role == "staff")))


def is_superuser(request: HttpRequest) -> bool:
    user: Any = request.user
    return bool(user.is_active and user.is_superuser)


def is_privileged(account: User) -> bool:
    """An account whose powers exceed a client's or an expert's: the API's staff role counts too."""
    return bool(account.is_superuser or account.is_staff or account.role == "staff")


def may_manage(request: HttpRequest, account: User) -> bool:
    """Superusers manage every account; staff manage their own and those of clients and experts."""
    return is_superuser(request) or account.pk == request.user.pk or not is_privileged(account)


class BackOfficeAdmin(admin.ModelAdmin):
    """Read-only for staff: state changes go through the use cases (admin actions); subclasses open what is safe."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_back_office(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_back_office(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- accounts -----------------------------------------------------------------------


class EmailFormMixin:
    """Emails are stored as the domain normalises them; the API looks them up that way."""

    cleaned_data: dict[str, Any]

    def clean_email(self) -> str:
        try:
            return normalise_email(self.cleaned_data["email"])
        except InvalidInput as error:
            raise ValidationError(error.message) from error


class UserCreateForm(EmailFormMixin, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "name", "role")


class UserEditForm(EmailFormMixin, UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


# Read-only for anyone but a superuser, on their own account too.
PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    list_display = ("email", "name", "role", "is_staff", "is_active", "date_joined")
    list_filter = ("role", "is_staff", "is_active", "is_superuser")
    search_fields = ("email", "name")
    ordering = ("-date_joined",)
    filter_horizontal = ("groups", "user_permissions")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("name", "role")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("date_joined", "last_login")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "name", "role", "usable_password", "password1", "password2"),
            },
        ),
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        # A role change would strand an expert profile or its bookings.
        fixed = ("role", "date_joined", "last_login")
        if not is_superuser(request):
            fixed += PRIVILEGE_FIELDS
        return fixed

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is None and not is_superuser(request):
            # The staff role opens the admin and the API's moderation: a superuser's grant.
            form.base_fields["role"].choices = [(value, label) for value, label in ROLE_CHOICES if value != "staff"]
        return form

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if not change:
            obj.is_staff = obj.role == "staff"  # the staff role is what opens the admin
        if not may_manage(request, obj):
            raise PermissionDenied  # the form's read-only fields and role choices should make this unreachable
        super().save_model(request, obj, form, change)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_back_office(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_back_office(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Also guards the password form (user_change_password asks this for the account).
        return is_back_office(request) and (obj is None or may_manage(request, obj))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_back_office(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Accounts with bookings or reviews are protected by the database anyway.
        return is_superuser(request)


# --- expert profiles ------------------------------------------------------------------


RATING_AVERAGE = ExpressionWrapper(F("rating_total") * 1.0 / F("rating_count"), output_field=FloatField())


def money(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


@admin.register(ExpertProfileRow)
class ExpertProfileAdmin(BackOfficeAdmin):
    list_display = ("display_name", "headline", "status", "rate", "rating", "published_at", "owner")
    list_filter = ("status", "rate_currency", ("published_at", admin.DateFieldListFilter))
    search_fields = ("display_name", "headline", "skills", "owner__email")
    list_select_related = ("owner",)
    ordering = ("-updated_at", "id")
    # No "publish": only the owner publishes (services/experts.py, expert_publish). Staff moderate.
    actions = ("suspend", "reinstate")
    fields = (
        ("display_name", "owner"),
        "headline",
        "bio",
        "skills",
        "languages",
        ("rate_amount", "rate_currency"),
        "timezone",
        "avatar_key",
        ("status", "published_at"),
        ("rating_count", "rating_total"),
        ("created_at", "updated_at"),
    )

    @admin.display(description="hourly rate", ordering="rate_amount")
    def rate(self, row: ExpertProfileRow) -> str:
        return money(row.rate_amount, row.rate_currency)

    @admin.display(description="rating", ordering=RATING_AVERAGE)
    def rating(self, row: ExpertProfileRow) -> str:
        return f"{row.rating_average:.2f} ({row.rating_count})" if row.rating_count else "—"

    @admin.action(description="Suspend selected profiles", permissions=["moderate"])
    def suspend(self, request: HttpRequest, queryset: QuerySet[ExpertProfileRow]) -> None:
        actor = UserId(request.user.pk)
        self._apply(
            request,
            queryset,
            "suspended",
            lambda row: container.expert_suspend(actor=actor, expert_id=ExpertId(row.id)),
        )

    @admin.action(description="Reinstate selected profiles", permissions=["moderate"])
    def reinstate(self, request: HttpRequest, queryset: QuerySet[ExpertProfileRow]) -> None:
        actor = UserId(request.user.pk)
        self._apply(
            request,
            queryset,
            "reinstated",
            lambda row: container.expert_reinstate(actor=actor, expert_id=ExpertId(row.id)),
        )

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return is_back_office(request)

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[ExpertProfileRow],
        done: str,
        use_case: Callable[[ExpertProfileRow], object],
    ) -> None:
        """Run the use case per row; a refused row is reported and the others still go ahead."""
        succeeded = 0
        for row in queryset.only("id", "owner_id", "display_name"):
            try:
                use_case(row)
            except DomainError as error:
                self.message_user(request, f"{row.display_name}: {error.message}", messages.ERROR)
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, f"{succeeded} profile(s) {done}.", messages.SUCCESS)


# --- bookings and reviews -------------------------------------------------------------------


@admin.register(BookingRow)
class BookingAdmin(BackOfficeAdmin):
    list_display = ("topic", "status", "starts_at", "duration_minutes", "expert_name", "client", "price")
    list_filter = ("status", ("starts_at", admin.DateFieldListFilter), "price_currency")
    search_fields = ("topic", "client__email", "expert_user__email", "expert__display_name")
    list_select_related = ("expert", "client")
    # Read-only today; should editing ever open up, no <select> of every account.
    raw_id_fields = ("client", "expert", "expert_user")
    date_hierarchy = "starts_at"
    ordering = ("-starts_at", "id")

    @admin.display(description="expert", ordering="expert__display_name")
    def expert_name(self, row: BookingRow) -> str:
        return row.expert.display_name

    @admin.display(description="price", ordering="price_amount")
    def price(self, row: BookingRow) -> str:
        return money(row.price_amount, row.price_currency)


class ReviewForm(forms.ModelForm):
    class Meta:
        model = ReviewRow
        fields = ("comment",)


@admin.register(ReviewRow)
class ReviewAdmin(BackOfficeAdmin):
    """Staff may edit a comment (moderation); the rating feeds the aggregates and stays as written."""

    form = ReviewForm
    list_display = ("expert_name", "rating", "author", "created_at", "short_comment")
    list_filter = ("rating", ("created_at", admin.DateFieldListFilter))
    search_fields = ("comment", "author__email", "expert__display_name")
    list_select_related = ("expert", "author")
    readonly_fields = ("booking", "expert", "author", "rating", "created_at")
    fields = ("booking", "expert", "author", "rating", "created_at", "comment")
    ordering = ("-created_at", "id")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_back_office(request)

    @admin.display(description="expert", ordering="expert__display_name")
    def expert_name(self, row: ReviewRow) -> str:
        return row.expert.display_name

    @admin.display(description="comment")
    def short_comment(self, row: ReviewRow) -> str:
        return row.comment if len(row.comment) <= 80 else f"{row.comment[:79]}…"


# --- daily ops reports ------------------------------------------------------------------

REPORT_LINK_SECONDS = 15 * 60


@admin.register(ReportRunRow)
class ReportRunAdmin(BackOfficeAdmin):
    """Past daily reports: open the archived HTML or CSV (links valid a few minutes), or resend one."""

    list_display = ("day", "tz", "status", "sends", "sent_at", "recipient_list", "html_link", "csv_link")
    list_filter = ("status",)
    date_hierarchy = "day"
    ordering = ("-day",)
    readonly_fields = ("html_link", "csv_link")
    actions = ("resend",)

    @admin.display(description="recipients")
    def recipient_list(self, row: ReportRunRow) -> str:
        return ", ".join(row.recipients)

    @admin.display(description="HTML")
    def html_link(self, row: ReportRunRow) -> str:
        return _blob_link(row.html_key, "Open")

    @admin.display(description="CSV")
    def csv_link(self, row: ReportRunRow) -> str:
        return _blob_link(row.csv_key, "Download")

    @admin.action(description="Send the selected reports again (a new send to today's recipients)")
    def resend(self, request: HttpRequest, queryset: QuerySet[ReportRunRow]) -> None:
        for row in queryset.only("day"):
            try:
                run = container.report_send(day=row.day, resend=True)
            except DomainError as error:
                self.message_user(request, f"{row.day}: {error.message}", messages.ERROR)
            else:
                self.message_user(request, f"{row.day}: sent again (send {run.sends}).", messages.SUCCESS)


def _blob_link(key: str, label: str) -> str:
    if not key:
        return "-"
    try:
        url = container.blobs().download_url(key, expires_in=REPORT_LINK_SECONDS)
    except DomainError:
        return "(blob store unavailable)"
    return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, label)


# --- delivery records (read-only: the mailer and the outbox relay own them) -----------------------


@admin.register(SentEmail)
class SentEmailAdmin(BackOfficeAdmin):
    """Which emails went out and when; a row stuck in "sending" past the lease is a sender that died."""

    list_display = ("subject", "recipient", "status", "claimed_at", "sent_at")
    list_filter = ("status", ("sent_at", admin.DateFieldListFilter))
    search_fields = ("recipient", "subject", "key_hash")
    ordering = ("-claimed_at", "id")


@admin.register(OutboxEvent)
class OutboxEventAdmin(BackOfficeAdmin):
    """Every event, written with the change it announces; unpublished rows that stay mean the
    broker is still down or beat is not running (the relay sends them)."""

    list_display = ("kind", "ids", "created_at", "published_at")
    list_filter = ("kind", ("published_at", admin.EmptyFieldListFilter))
    ordering = ("id",)


# --- other apps' admins: superusers only ------------------------------------------------------


class SuperuserOnly(admin.ModelAdmin):
    """Put before another app's ModelAdmin: whatever Django permissions a staff account holds,
    only a superuser gets in, and then only as far as that admin itself allows."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_superuser(request) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superuser(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_superuser(request) and super().has_delete_permission(request, obj)


def superusers_only(site: admin.AdminSite, ours: tuple[type[admin.ModelAdmin], ...]) -> None:
    """Re-register every model whose admin is not one of ours (groups, the JWT blacklist, django-axes)."""
    for model, model_admin in list(site._registry.items()):
        if not isinstance(model_admin, ours):
            site.unregister(model)
            site.register(
                model, type(f"SuperuserOnly{type(model_admin).__name__}", (SuperuserOnly, type(model_admin)), {})
            )


superusers_only(admin.site, (BackOfficeAdmin, UserAdmin))
