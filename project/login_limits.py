"""Whom a login attempt counts against: the callables django-axes is configured with (AXES_* in settings).

Every login (the admin's form and the API's JWT endpoint alike) goes through
django.contrib.auth.authenticate, which is where django-axes counts failures.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from domain.users import email_key


def client_address(request: HttpRequest) -> str:
    """REMOTE_ADDR alone: the edge middleware has already put the real client there when the
    peer is a trusted proxy; anything in X-Forwarded-For is the client's own say-so."""
    return str(request.META.get("REMOTE_ADDR") or "")


def login_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The account tried, as emails are stored (domain.users.email_key), so that spelling an
    address differently does not start a fresh count. The admin posts ``username``, the API ``email``."""
    given = dict(credentials or {})
    data: Any = getattr(request, "data", None) or request.POST
    value = given.get("email") or given.get("username") or data.get("email") or data.get("username")
    # django-axes keeps it in a 255-character column: an enormous "email" must not fail the insert.
    return email_key(value)[:255] if isinstance(value, str) else None
