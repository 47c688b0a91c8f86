"""Limits on what a request may carry, checked before anything reads it (docs/security.md, "Errors").

- The body: at most DATA_UPLOAD_MAX_MEMORY_SIZE bytes, or UPLOAD_MAX_BYTES for a
  multipart form (the local blob store's uploads stream files to disk, and Django
  bounds a form's other fields itself). Django checks its limit only when it reads
  the body itself; DRF's parsers read the stream directly, so without this check a
  JSON body of any size would be read into memory. 413, with the limit, in the one
  JSON error shape.
- A chunked body (no Content-Length: a client talking to gunicorn directly, without
  nginx in front) is read here up to the limit and handed on with its length, since
  Django reads no body without a Content-Length at all.
- NUL characters in the path, the query string or a cookie: PostgreSQL refuses them
  in text, and a driver error is a 500. 400. (In bodies the JSON parser and DRF's
  CharField refuse them: api/parsers.py.)
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from api.errors import error_body, too_large_body

MULTIPART = "multipart/form-data"

logger = logging.getLogger(__name__)


class RequestLimitsMiddleware:
    """Refuses a request over the body limit (413) or with NUL in its path, query or cookies (400)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        refusal = refuse_nul(request) or refuse_body(request)
        return refusal if refusal is not None else self.get_response(request)


def body_limit(request: HttpRequest) -> int:
    multipart = request.content_type == MULTIPART
    return int(settings.UPLOAD_MAX_BYTES if multipart else settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def refuse_body(request: HttpRequest) -> JsonResponse | None:
    limit = body_limit(request)
    declared = request.META.get("CONTENT_LENGTH")
    if declared:
        try:
            length = int(declared)
        except ValueError:
            return _bad_request("The Content-Length header is not a number.")
        return _too_large(limit) if length > limit else None
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        return _buffer_chunked(request, limit)
    return None


def _buffer_chunked(request: HttpRequest, limit: int) -> JsonResponse | None:
    try:
        body = request.environ["wsgi.input"].read(limit + 1)  # the server de-chunks it
    except Exception:  # the server's own error for a malformed chunk, or a client gone: never a 500
        logger.info("Could not read a chunked request body.", exc_info=True)
        return _bad_request("The chunked request body is malformed or incomplete.")
    if len(body) > limit:
        return _too_large(limit)
    # Django's stream for a request without Content-Length reads nothing: give it the body.
    request._stream = LimitedStream(io.BytesIO(body), len(body))  # type: ignore[attr-defined]
    request.META["CONTENT_LENGTH"] = str(len(body))
    return None


def refuse_nul(request: HttpRequest) -> JsonResponse | None:
    texts = [request.path, *request.COOKIES.values()]
    texts += [text for key, values in request.GET.lists() for text in (key, *values)]
    if any("\x00" in text for text in texts):
        return _bad_request("NUL characters are not allowed in the path, query string or cookies.")
    return None


def _too_large(limit: int) -> JsonResponse:
    return JsonResponse(too_large_body(limit), status=413)


def _bad_request(message: str) -> JsonResponse:
    return JsonResponse(error_body("bad_request", message), status=400)
