"""Bookings: a client requests a session; the expert accepts or declines; either completes; the client cancels.

Only the two parties see a booking: to anyone else it is a 404, never a 403,
so booking ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from dependency_injector.wiring import Provider, inject
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth import actor
from api.pagination import PageQuerySerializer, page_request, paginated, render_page
from api.schema import error_responses
from api.serializers.bookings import BOOKING_READ_ONLY, BookingSerializer
from api.serializers.common import AwareDateTimeField, StrictInputSerializer, StrictUUIDField
from api.throttles import BOOKING_CREATE, ScopedThrottle
from domain.bookings import DURATION_MAX, DURATION_MIN, DURATION_STEP, TOPIC_MAX, Booking, BookingStatus
from domain.ids import BookingId, ExpertId
from domain.pagination import Page

BookingUseCase = Callable[..., Booking]
TAGS = ["bookings"]


class BookingListApi(APIView):
    """Your bookings as client (default) or as expert, newest start first."""

    class QuerySerializer(PageQuerySerializer):
        status = serializers.ChoiceField(choices=[s.value for s in BookingStatus], required=False)

        def get_fields(self) -> dict[str, serializers.Field]:
            # "as" is a Python keyword, so it cannot be declared as a class attribute.
            fields = super().get_fields()
            fields["as"] = serializers.ChoiceField(
                choices=["client", "expert"], default="client", help_text="Which side of the bookings to list."
            )
            return fields

    OutputSerializer = paginated(BookingSerializer, "BookingPage")

    @extend_schema(
        operation_id="booking_list_mine",
        tags=TAGS,
        parameters=[QuerySerializer],
        responses={200: OutputSerializer, **error_responses(400, 401)},
    )
    @inject
    def get(
        self, request: Request, booking_list_mine: Callable[..., Page[Booking]] = Provider["booking_list_mine"]
    ) -> Response:
        params = self.QuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = booking_list_mine(actor=actor(request), **list_filters(params.validated_data))
        return Response(render_page(request, page, BookingSerializer))


def list_filters(data: dict[str, Any]) -> dict[str, Any]:
    status_value = data.get("status")
    return {
        "as_role": data["as"],
        "status": BookingStatus(status_value) if status_value else None,
        "page": page_request(data),
    }


# The step is the domain's rule (a 400 from the use case); the schema states it as well.
@extend_schema_field({"type": "integer", "minimum": DURATION_MIN, "maximum": DURATION_MAX, "multipleOf": DURATION_STEP})
class DurationField(serializers.IntegerField):
    pass


class BookingCreateApi(APIView):
    """Request a session with a published expert. The price (rate x duration) is computed and frozen now."""

    throttle_classes = [ScopedThrottle]
    throttle_scope = BOOKING_CREATE

    class InputSerializer(StrictInputSerializer):
        read_only_fields = BOOKING_READ_ONLY

        expert_id = StrictUUIDField()
        starts_at = AwareDateTimeField(help_text="ISO 8601 with a UTC offset; in the future.")
        duration_minutes = DurationField(
            min_value=DURATION_MIN, max_value=DURATION_MAX, help_text=f"In {DURATION_STEP}-minute steps."
        )
        topic = serializers.CharField(max_length=TOPIC_MAX)

        class Meta:
            ref_name = "BookingInput"

    OutputSerializer = BookingSerializer

    @extend_schema(
        operation_id="booking_request",
        tags=TAGS,
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 401, 404, 429)},
    )
    @inject
    def post(self, request: Request, booking_request: BookingUseCase = Provider["booking_request"]) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        booking = booking_request(actor=actor(request), **{**data, "expert_id": ExpertId(data["expert_id"])})
        return Response(self.OutputSerializer(booking).data, status=status.HTTP_201_CREATED)


class BookingDetailApi(APIView):
    """One of your bookings."""

    OutputSerializer = BookingSerializer

    @extend_schema(
        operation_id="booking_get", tags=TAGS, responses={200: OutputSerializer, **error_responses(401, 404)}
    )
    @inject
    def get(
        self, request: Request, booking_id: UUID, booking_get: BookingUseCase = Provider["booking_get"]
    ) -> Response:
        booking = booking_get(actor=actor(request), booking_id=BookingId(booking_id))
        return Response(self.OutputSerializer(booking).data)


TRANSITION_ERRORS = error_responses(401, 403, 404, 409)


class BookingAcceptApi(APIView):
    """The expert accepts a requested booking; it may not overlap another accepted one (409)."""

    OutputSerializer = BookingSerializer

    @extend_schema(
        operation_id="booking_accept", tags=TAGS, request=None, responses={200: OutputSerializer, **TRANSITION_ERRORS}
    )
    @inject
    def post(
        self, request: Request, booking_id: UUID, booking_accept: BookingUseCase = Provider["booking_accept"]
    ) -> Response:
        booking = booking_accept(actor=actor(request), booking_id=BookingId(booking_id))
        return Response(self.OutputSerializer(booking).data)


class BookingDeclineApi(APIView):
    """The expert declines a requested booking."""

    OutputSerializer = BookingSerializer

    @extend_schema(
        operation_id="booking_decline", tags=TAGS, request=None, responses={200: OutputSerializer, **TRANSITION_ERRORS}
    )
    @inject
    def post(
        self, request: Request, booking_id: UUID, booking_decline: BookingUseCase = Provider["booking_decline"]
    ) -> Response:
        booking = booking_decline(actor=actor(request), booking_id=BookingId(booking_id))
        return Response(self.OutputSerializer(booking).data)


class BookingCancelApi(APIView):
    """The client cancels, before the start."""

    OutputSerializer = BookingSerializer

    @extend_schema(
        operation_id="booking_cancel", tags=TAGS, request=None, responses={200: OutputSerializer, **TRANSITION_ERRORS}
    )
    @inject
    def post(
        self, request: Request, booking_id: UUID, booking_cancel: BookingUseCase = Provider["booking_cancel"]
    ) -> Response:
        booking = booking_cancel(actor=actor(request), booking_id=BookingId(booking_id))
        return Response(self.OutputSerializer(booking).data)


class BookingCompleteApi(APIView):
    """Either party marks an accepted booking completed, after it has ended."""

    OutputSerializer = BookingSerializer

    @extend_schema(
        operation_id="booking_complete", tags=TAGS, request=None, responses={200: OutputSerializer, **TRANSITION_ERRORS}
    )
    @inject
    def post(
        self, request: Request, booking_id: UUID, booking_complete: BookingUseCase = Provider["booking_complete"]
    ) -> Response:
        booking = booking_complete(actor=actor(request), booking_id=BookingId(booking_id))
        return Response(self.OutputSerializer(booking).data)
