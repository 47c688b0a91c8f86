"""Reviews: the client reviews a completed booking once; anyone reads an expert's reviews."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from dependency_injector.wiring import Provider, inject
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth import actor
from api.pagination import PageQuerySerializer, page_request, paginated, render_page
from api.schema import error_responses
from api.serializers.common import StrictInputSerializer
from api.serializers.reviews import REVIEW_READ_ONLY, PublicReviewSerializer, ReviewSerializer
from domain.ids import BookingId, ExpertId
from domain.pagination import Page
from domain.reviews import COMMENT_MAX, Review


class ReviewCreateApi(APIView):
    """Review your completed booking (clients only, once). It moves the expert's rating."""

    class InputSerializer(StrictInputSerializer):
        read_only_fields = REVIEW_READ_ONLY

        rating = serializers.IntegerField(min_value=1, max_value=5)
        comment = serializers.CharField(required=False, default="", allow_blank=True, max_length=COMMENT_MAX)

        class Meta:
            ref_name = "ReviewInput"

    OutputSerializer = ReviewSerializer

    @extend_schema(
        operation_id="review_create",
        tags=["bookings"],
        request=InputSerializer,
        responses={201: OutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    @inject
    def post(
        self, request: Request, booking_id: UUID, review_create: Callable[..., Review] = Provider["review_create"]
    ) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        review = review_create(actor=actor(request), booking_id=BookingId(booking_id), **serializer.validated_data)
        return Response(self.OutputSerializer(review).data, status=status.HTTP_201_CREATED)


class ExpertReviewListApi(APIView):
    """A published expert's reviews, newest first."""

    permission_classes = [AllowAny]

    QuerySerializer = PageQuerySerializer
    OutputSerializer = paginated(PublicReviewSerializer, "ReviewPage")

    @extend_schema(
        operation_id="review_list_for_expert",
        tags=["experts"],
        parameters=[QuerySerializer],
        responses={200: OutputSerializer, **error_responses(400, 404)},
    )
    @inject
    def get(
        self,
        request: Request,
        expert_id: UUID,
        review_list_for_expert: Callable[..., Page[Review]] = Provider["review_list_for_expert"],
    ) -> Response:
        params = self.QuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = review_list_for_expert(expert_id=ExpertId(expert_id), page=page_request(params.validated_data))
        return Response(render_page(request, page, PublicReviewSerializer))
