"""The API's one JSON error shape, for DRF views and for Django's own error pages.

    {"error": {"code": "<machine code>", "message": "<human>", "fields": {"<field>": ["<msg>", ...]}}}

Domain errors map to a status by class; DRF's exceptions keep their status and
headers (WWW-Authenticate, Retry-After, Allow). Anything else is a bug: it is
logged with its traceback and answered with a bare 500 that leaks nothing.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from domain.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied, PortError

logger = logging.getLogger(__name__)

Fields = dict[str, list[str]]

# First match wins, so a subclass is listed before its base (none overlap today).
DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidInput, status.HTTP_400_BAD_REQUEST),
    (NotFound, status.HTTP_404_NOT_FOUND),
    (PermissionDenied, status.HTTP_403_FORBIDDEN),
    (Conflict, status.HTTP_409_CONFLICT),
    (PortError, status.HTTP_503_SERVICE_UNAVAILABLE),
)
INVALID_MESSAGE = "Some fields are invalid."
LOCKED_OUT_MESSAGE = "Too many failed logins for this account or from this address. Try again later."


def error_body(code: str, message: str, fields: Fields | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception a view lets out becomes one error shape."""
    set_rollback()  # as DRF's own handler does, for ATOMIC_REQUESTS
    if isinstance(exc, DomainError):
        return _domain_response(exc)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        return Response(error_body("invalid", INVALID_MESSAGE, flatten_errors(exc.detail)), status=exc.status_code)
    if isinstance(exc, exceptions.APIException):
        return _api_exception_response(exc)
    logger.exception("Unhandled error in %s", _view_name(context), exc_info=exc)
    return Response(error_body("server_error", "Internal server error."), status=500)


def _domain_response(exc: DomainError) -> Response:
    http_status = next((code for cls, code in DOMAIN_STATUS if isinstance(exc, cls)), status.HTTP_400_BAD_REQUEST)
    return Response(error_body(exc.code, exc.message, exc.fields), status=http_status)


def _api_exception_response(exc: exceptions.APIException) -> Response:
    code, message = _code_and_message(exc)
    response = Response(error_body(code, message), status=exc.status_code)
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    wait = getattr(exc, "wait", None)
    if wait is not None:
        response["Retry-After"] = str(math.ceil(wait))
    return response


def _code_and_message(exc: exceptions.APIException) -> tuple[str, str]:
    # simplejwt's InvalidToken carries {"detail", "code", "messages"} instead of a string.
    detail = exc.detail
    if isinstance(detail, Mapping):
        return str(detail.get("code", exc.default_code)), str(detail.get("detail", exc.default_detail))
    codes = exc.get_codes()
    return (codes if isinstance(codes, str) else str(exc.default_code)), str(detail)


def flatten_errors(detail: Any, prefix: str = "") -> Fields:
    """DRF's nested error detail as flat dotted keys.

    {"hourly_rate": {"amount": ["..."]}} -> {"hourly_rate.amount": ["..."]}
    """
    if isinstance(detail, Mapping):
        fields: Fields = {}
        for key, value in detail.items():
            fields.update(flatten_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return fields
    if isinstance(detail, list) and any(isinstance(item, Mapping | list) for item in detail):
        return _flatten_list(detail, prefix)
    messages = [str(item) for item in detail] if isinstance(detail, list) else [str(detail)]
    return {prefix or api_settings.NON_FIELD_ERRORS_KEY: messages}


def _flatten_list(detail: list[Any], prefix: str) -> Fields:
    # A ListSerializer reports one entry per item ({} for a valid one): keep the item index.
    fields: Fields = {}
    for index, item in enumerate(detail):
        if item:
            fields.update(flatten_errors(item, f"{prefix}.{index}" if prefix else str(index)))
    return fields


def _view_name(context: Mapping[str, Any]) -> str:
    view = context.get("view")
    return type(view).__name__ if view is not None else "unknown view"


# --- Django's own error pages (project.urls handler400/403/404/500) ------------------


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("permission_denied", "You do not have permission to do this."), status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    # Django has already logged the exception (django.request); the client learns nothing of it.
    return JsonResponse(error_body("server_error", "Internal server error."), status=500)


def login_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: object = None
) -> JsonResponse:
    """django-axes's lockout answer (AXES_LOCKOUT_CALLABLE) for the admin's login form."""
    response = JsonResponse(error_body("locked_out", LOCKED_OUT_MESSAGE), status=429)
    response["Retry-After"] = str(lockout_seconds())
    return response


def lockout_seconds() -> int:
    return math.ceil(settings.AXES_COOLOFF_TIME.total_seconds())
