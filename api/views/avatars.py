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
from api.serializers.common import AwareDateTimeField, StrictInputSerializer
from api.serializers.experts import AvatarUrls, ExpertProfileSerializer, profile_data
from domain.blobs import AVATAR_CONTENT_TYPES, AVATAR_MAX_BYTES, UploadTicket
from domain.experts import ExpertProfile
from domain.ids import ExpertId

TAGS = ["experts"]


class AvatarUploadStartApi(APIView):
    """Get a presigned form: POST it as multipart to `url` with `fields` plus the `file`, then confirm `key`."""

    class InputSerializer(StrictInputSerializer):
        content_type = serializers.ChoiceField(choices=AVATAR_CONTENT_TYPES)
        size = serializers.IntegerField(min_value=1, max_value=AVATAR_MAX_BYTES, help_text="Bytes.")

        class Meta:
            ref_name = "AvatarUploadInput"

    class OutputSerializer(serializers.Serializer):
        key = serializers.CharField(help_text="Send it to the confirm endpoint after the upload.")
        url = serializers.URLField(help_text="POST a multipart form here.")
        fields = serializers.DictField(child=serializers.CharField(), help_text="Form fields to send before `file`.")
        expires_at = AwareDateTimeField()
        max_bytes = serializers.IntegerField()
        content_types = serializers.ListField(child=serializers.CharField())

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
        avatar_upload_start: Callable[..., UploadTicket] = Provider["avatar_upload_start"],
    ) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ticket = avatar_upload_start(actor=actor(request), expert_id=ExpertId(expert_id), **serializer.validated_data)
        return Response(self.OutputSerializer(ticket).data)


class AvatarUploadConfirmApi(APIView):
    """Make the uploaded object your avatar, once the store confirms its size and type."""

    class InputSerializer(StrictInputSerializer):
        key = serializers.CharField(max_length=255)

        class Meta:
            ref_name = "AvatarConfirmInput"

    OutputSerializer = ExpertProfileSerializer

    @extend_schema(
        operation_id="avatar_upload_confirm",
        tags=TAGS,
        request=InputSerializer,
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404)},
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
        key = serializer.validated_data["key"]
        profile = avatar_upload_confirm(actor=actor(request), expert_id=ExpertId(expert_id), key=key)
        return Response(profile_data(profile, avatar_urls=expert_avatar_urls))
