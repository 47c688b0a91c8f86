"""OpenAPI pieces shared by every view: the error shape as a component, response tables, and the
generator's adjustments that make the schema say what the server enforces (checked by tests/fuzz)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from api.serializers.common import StrictInputSerializer

ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input: `fields` names each bad field (nested ones dotted, e.g. `hourly_rate.amount`).",
    401: "Missing, invalid or expired credentials.",
    403: "Authenticated, but not allowed to do this.",
    404: "Not found, or not visible to you.",
    406: "None of the media types in `Accept` can be served (the API speaks JSON).",
    409: "Valid, but clashes with the current state (`code` says how).",
    413: "The request body is too large.",
    415: "The request body's media type is not accepted (send `application/json`).",
    429: "Too many requests; `Retry-After` says when to retry.",
    503: "A backing service is unavailable.",
}
# Answers any operation may give, whatever it does: a malformed request, a body over the
# size limit, a throttle, a backing service down, an unservable Accept header.
COMMON_ERRORS = (400, 406, 413, 429, 503)
# A request that carries credentials is checked even by a public operation: a bad token is a 401.
AUTHENTICATED_ERRORS = (401,)
BODY_ERRORS = (415,)
ERROR_REF = "#/components/schemas/Error"


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


class StrictAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema; a StrictInputSerializer's body allows no other properties, as it 400s on them."""

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictInputSerializer):
            schema["additionalProperties"] = False
        return schema


def declare_common_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: the errors any operation can answer, on every operation, in the one shape."""
    for item in result["paths"].values():
        for operation in item.values():
            for status in _common_statuses(operation):
                operation["responses"].setdefault(str(status), _error_response(status))
    return result


def _common_statuses(operation: dict[str, Any]) -> tuple[int, ...]:
    authenticates = any(requirement for requirement in operation.get("security", [{"auth": []}]))
    return (
        COMMON_ERRORS
        + (AUTHENTICATED_ERRORS if authenticates else ())
        + (BODY_ERRORS if "requestBody" in operation else ())
    )


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": ERROR_REF}}},
    }
