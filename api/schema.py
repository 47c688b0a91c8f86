"""OpenAPI pieces shared by every view: the error shape as a component, and response tables."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input: `fields` names each bad field (nested ones dotted, e.g. `hourly_rate.amount`).",
    401: "Missing, invalid or expired credentials.",
    403: "Authenticated, but not allowed to do this.",
    404: "Not found, or not visible to you.",
    409: "Valid, but clashes with the current state (`code` says how).",
    429: "Too many requests; `Retry-After` says when to retry.",
    503: "A backing service is unavailable.",
}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. `invalid`, `not_found`, `booking_overlap`.")
    message = serializers.CharField(help_text="Human-readable summary.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Messages per input field; empty when the error is not about a field.",
    )


class ErrorSerializer(serializers.Serializer):
    """Every error response, whatever its status."""

    error = ErrorDetailSerializer()


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """The documented error responses of an operation, all in the one error shape."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in statuses}
