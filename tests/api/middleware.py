"""A test-only middleware that records every 5xx response, so the suite can fail on any of them."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

SERVER_ERRORS: list[str] = []


class ServerErrorRecorder:
    """Outermost middleware: sees the final response, including Django's own 500 page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if response.status_code >= 500:
            SERVER_ERRORS.append(f"{request.method} {request.get_full_path()} -> {response.status_code}")
        return response
