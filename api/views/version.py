"""The running release: version, commit and build time (also sent as X-App-Version on every response)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class VersionApi(APIView):
    """Which release answers: for deploy checks and bug reports. Public, no authentication."""

    permission_classes = [AllowAny]
    authentication_classes: list[type] = []  # no session or token lookup: it reveals nothing per user

    class OutputSerializer(serializers.Serializer[dict[str, str]]):
        version = serializers.CharField(help_text="The release's semantic version (project/version.py).")
        git_sha = serializers.CharField(help_text='The commit it was built from, or "unknown".')
        build_time = serializers.CharField(help_text='When it was built (ISO 8601, UTC), or "unknown".')

    @extend_schema(operation_id="version", responses=OutputSerializer, tags=["meta"])
    def get(self, request: Request) -> Response:
        release = {"version": settings.APP_VERSION, "git_sha": settings.GIT_SHA, "build_time": settings.BUILD_TIME}
        return Response(self.OutputSerializer(release).data)
