"""The API's one JSON error shape, for DRF views and for Django's own error pages.

    {"error": {"code": "<machine code>", "message": "<human>", "fields": {"<field>": ["<msg>", ...]}}}

Domain errors map to a status by class; DRF's exceptions keep their status and
headers (WWW-Authenticate, Retry-After, Allow). A database that cannot be reached
(down, restarting, its pool exhausted) is 503 with Retry-After wherever it is met:
in a view, in authentication, in a middleware (``server_error`` looks at the
exception being handled). A request Django refuses as too large is 413 with the
limit. Anything else is a bug: it is logged with its traceback and answered with a
bare 500 that leaks nothing. docs/security.md, "Errors".
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError, connections
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
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
UNAVAILABLE_CODE = "service_unavailable"
DATABASE_UNAVAILABLE_MESSAGE = "The database is unavailable; retry later."


def error_body(code: str, message: str, fields: Fields | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


# The one answer to a database outage, from a DRF view and from Django's 500 handler alike.
DATABASE_UNAVAILABLE_BODY = error_body(UNAVAILABLE_CODE, DATABASE_UNAVAILABLE_MESSAGE)


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception a view lets out becomes one error shape."""
    set_rollback()  # as DRF's own handler does, for ATOMIC_REQUESTS
    if isinstance(exc, DomainError):
        return _domain_response(exc)
    if database_unavailable(exc):
        logger.warning("Database unavailable in %s: %s", _view_name(context), exc)
        return Response(DATABASE_UNAVAILABLE_BODY, status=503, headers=retry_later())
    if isinstance(exc, SuspiciousOperation):
        return Response(rejection_body(exc), status=rejection_status(exc))
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
    headers = retry_later() if http_status == status.HTTP_503_SERVICE_UNAVAILABLE else None
    return Response(error_body(exc.code, exc.message, exc.fields), status=http_status, headers=headers)


def retry_later() -> dict[str, str]:
    """The Retry-After header of every 503: a backing service is down, not the request wrong."""
    return {"Retry-After": str(settings.UNAVAILABLE_RETRY_AFTER_SECONDS)}


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc``, or the error it was raised from, says the database cannot be reached.

    Django's OperationalError and InterfaceError (connection refused or lost, a
    statement timeout, SQLite's lock, the gevent pool's wait that ended), and the
    configured drivers' own, should one escape Django's wrapping. IntegrityError,
    ProgrammingError and DataError are not among them: they are bugs, and stay a
    logged 500.
    """
    unavailable = _unavailable_errors()
    while exc is not None:
        if isinstance(exc, unavailable):
            return True
        exc = exc.__cause__
    return False


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    drivers = {connections[alias].Database for alias in connections}
    return (
        OperationalError,
        InterfaceError,
        *(getattr(driver, name) for driver in drivers for name in ("OperationalError", "InterfaceError")),
    )


def rejection_status(exc: SuspiciousOperation) -> int:
    too_large = isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent)
    return status.HTTP_413_REQUEST_ENTITY_TOO_LARGE if too_large else status.HTTP_400_BAD_REQUEST


def rejection_body(exc: SuspiciousOperation) -> dict[str, Any]:
    """A request Django refused before reading it all (SuspiciousOperation), with the limit it broke."""
    if isinstance(exc, RequestDataTooBig):
        return too_large_body(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, TooManyFieldsSent):
        return error_body("too_many_fields", f"At most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields per request.")
    if isinstance(exc, TooManyFilesSent):
        return error_body("too_many_files", f"At most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files per request.")
    return error_body("bad_request", "Bad request.")


def too_large_body(limit: int) -> dict[str, Any]:
    return error_body("request_too_large", f"The request body is larger than the limit of {limit} bytes.")


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
    # Django calls it for every SuspiciousOperation: a bad Host, a body or form over the limits.
    if isinstance(exception, SuspiciousOperation):
        return JsonResponse(rejection_body(exception), status=rejection_status(exception))
    return JsonResponse(error_body("bad_request", "Bad request."), status=400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("permission_denied", "You do not have permission to do this."), status=403)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def server_error(request: HttpRequest) -> JsonResponse:
    # Called while Django handles the exception, so it is still sys.exc_info(): an outage met
    # outside a DRF view (the admin, a session or user lookup in a middleware) is a 503 too.
    # Django logs it either way (django.request); the client learns nothing of it.
    if database_unavailable(sys.exc_info()[1]):
        return JsonResponse(DATABASE_UNAVAILABLE_BODY, status=503, headers=retry_later())
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


def csrf_failure(request: HttpRequest, reason: str = "") -> JsonResponse:
    """CSRF_FAILURE_VIEW: a session-authenticated form post without a valid token (the admin's)."""
    return JsonResponse(error_body("csrf_failed", f"CSRF verification failed: {reason}"), status=403)


def method_not_allowed(allowed: list[str]) -> JsonResponse:
    """405 outside DRF (the probes), with the Allow header DRF's own 405 carries."""
    response = JsonResponse(error_body("method_not_allowed", "Method not allowed."), status=405)
    response["Allow"] = ", ".join(allowed)
    return response


# --- the safety net: error responses made outside this module -----------------------------

# The codes this module gives those statuses; any other status gets its reason phrase as a code.
STATUS_CODES = {401: "not_authenticated", 403: "permission_denied", 500: "server_error", 503: UNAVAILABLE_CODE}
_KEPT_AS_IS = ("application/json", "application/problem+json")


class JsonErrorPagesMiddleware:
    """Near the top of MIDDLEWARE: an error response not in the JSON shape becomes one, same status and headers.

    Django's own class-based views and ``require_POST`` answer a wrong method
    with an empty text/html 405 (the admin's login and logout), and a
    third-party view may do the same. Left alone: DEBUG's technical pages (for
    developers), and DRF's browsable API, which a browser asks for by name
    (Accept: text/html) and whose page shows the JSON error body itself.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.status_code < 400 or settings.DEBUG or response.streaming:
            return response
        if getattr(response, "accepted_renderer", None) is not None:  # rendered by DRF, as the client asked
            return response
        if response.get("Content-Type", "").startswith(_KEPT_AS_IS):
            return response
        return as_json_error(response)


def as_json_error(response: HttpResponseBase) -> JsonResponse:
    code = STATUS_CODES.get(response.status_code) or response.reason_phrase.lower().replace(" ", "_")
    replacement = JsonResponse(error_body(code, f"{response.reason_phrase}."), status=response.status_code)
    for header, value in response.items():
        if header.lower() not in ("content-type", "content-length"):
            replacement[header] = value
    replacement.cookies = response.cookies
    return replacement
