"""Avatar upload: the client uploads straight to the blob store with a presigned form, then confirms."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from dependency_injector.wiring import Provider, inject
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth import actor
from api.schema import error_responses
from api.serializers.common import AwareDateTimeField, StrictInputSerializer, StrictUUIDField
from api.serializers.experts import AvatarUrls, ExpertProfileSerializer, profile_data
from domain.blobs import AVATAR_CONTENT_TYPES, AVATAR_MAX_BYTES
from domain.experts import ExpertProfile
from domain.ids import ExpertId, UploadId
from services.uploads import UploadForm

TAGS = ["experts"]


class AvatarUploadStartApi(APIView):
    """Get a presigned form for exactly `size` bytes of `content_type`: POST it as multipart to `url` with
    `fields` plus the `file`, then confirm `upload_id`. A form takes one upload and one confirmation."""

    class InputSerializer(StrictInputSerializer):
        content_type = serializers.ChoiceField(choices=AVATAR_CONTENT_TYPES)
        size = serializers.IntegerField(
            min_value=1, max_value=AVATAR_MAX_BYTES, help_text="Bytes: the file's exact size, checked on confirm."
        )

        class Meta:
            ref_name = "AvatarUploadInput"

    class OutputSerializer(serializers.Serializer):
        upload_id = serializers.UUIDField(help_text="Send it to the confirm endpoint after the upload.")
        key = serializers.CharField(source="ticket.key", help_text="Where the form uploads to (never served).")
        url = serializers.URLField(source="ticket.url", help_text="POST a multipart form here.")
        fields = serializers.DictField(
            source="ticket.fields", child=serializers.CharField(), help_text="Form fields to send before `file`."
        )
        expires_at = AwareDateTimeField(source="ticket.expires_at")
        max_bytes = serializers.IntegerField(source="ticket.max_bytes")
        content_types = serializers.ListField(source="ticket.content_types", child=serializers.CharField())

        class Meta:
            ref_name = "UploadTicket"

    @extend_schema(
        operation_id="avatar_upload_start",
        tags=TAGS,
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    @inject
    def post(
        self,
        request: Request,
        expert_id: UUID,
        avatar_upload_start: Callable[..., UploadForm] = Provider["avatar_upload_start"],
    ) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        form = avatar_upload_start(actor=actor(request), expert_id=ExpertId(expert_id), **serializer.validated_data)
        return Response(self.OutputSerializer(form).data)


class AvatarUploadConfirmApi(APIView):
    """Make the upload your avatar: once, if it is the image declared (size, type, decoded content).

    A file that is not is deleted (400 `upload_rejected`); an upload already confirmed or
    refused, or past its time, answers 409 (`upload_used`, `upload_expired`).
    """

    class InputSerializer(StrictInputSerializer):
        upload_id = StrictUUIDField()

        class Meta:
            ref_name = "AvatarConfirmInput"

    OutputSerializer = ExpertProfileSerializer

    @extend_schema(
        operation_id="avatar_upload_confirm",
        tags=TAGS,
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    @inject
    def post(
        self,
        request: Request,
        expert_id: UUID,
        avatar_upload_confirm: Callable[..., ExpertProfile] = Provider["avatar_upload_confirm"],
        expert_avatar_urls: AvatarUrls = Provider["expert_avatar_urls"],
    ) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        upload_id = UploadId(serializer.validated_data["upload_id"])
        profile = avatar_upload_confirm(actor=actor(request), expert_id=ExpertId(expert_id), upload_id=upload_id)
        return Response(profile_data(profile, avatar_urls=expert_avatar_urls))
