"""The daily ops reports, for staff: past deliveries, each with fresh links to its archived copies.

Anyone else gets 403 (a staff-only listing, nothing to probe). The archived HTML and
CSV live in the blob store; the links expire after a few minutes, so a link that
leaks from a browser history is soon useless, and the API hands out new ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provider, inject
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api.auth import actor
from api.pagination import PageQuerySerializer, page_request, paginated, render_page
from api.schema import error_responses
from domain.pagination import Page
from domain.reports import ReportRun, ReportRunStatus, parse_report_day
from services.reports import ReportDownloads

TAGS = ["reports"]


class ReportRunSerializer(serializers.Serializer):
    day = serializers.DateField(help_text="The local calendar date the report covers.")
    tz = serializers.CharField(help_text="The time zone the date is local to.")
    status = serializers.ChoiceField(choices=[s.value for s in ReportRunStatus])
    sends = serializers.IntegerField(help_text="1 for the scheduled delivery; each resend adds one.")
    created_at = serializers.DateTimeField()
    sent_at = serializers.DateTimeField(allow_null=True)
    recipients = serializers.ListField(child=serializers.EmailField())


class ReportDetailSerializer(ReportRunSerializer):
    html_url = serializers.URLField(allow_null=True, help_text="The archived HTML report; the link expires.")
    csv_url = serializers.URLField(allow_null=True, help_text="The archived CSV; the link expires.")


def run_data(run: ReportRun) -> dict[str, Any]:
    return {
        "day": run.day,
        "tz": run.tz,
        "status": run.status.value,
        "sends": run.sends,
        "created_at": run.created_at,
        "sent_at": run.sent_at,
        "recipients": list(run.recipients),
    }


class ReportListApi(APIView):
    """Staff: the daily report deliveries, newest date first."""

    QuerySerializer = PageQuerySerializer
    OutputSerializer = paginated(ReportRunSerializer, "ReportRunPage")

    @extend_schema(
        operation_id="report_list",
        tags=TAGS,
        parameters=[QuerySerializer],
        responses={200: OutputSerializer, **error_responses(400, 401, 403)},
    )
    @inject
    def get(self, request: Request, report_list: Callable[..., Page[ReportRun]] = Provider["report_list"]) -> Response:
        params = self.QuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        page = report_list(actor=actor(request), page=page_request(params.validated_data))
        return Response(
            render_page(request, Page([run_data(r) for r in page.items], page.total, page.request), ReportRunSerializer)
        )


class ReportDetailApi(APIView):
    """Staff: one date's delivery, with links (valid a few minutes) to its archived HTML and CSV."""

    OutputSerializer = ReportDetailSerializer

    @extend_schema(
        operation_id="report_get",
        tags=TAGS,
        parameters=[OpenApiParameter("day", OpenApiTypes.DATE, OpenApiParameter.PATH, description="YYYY-MM-DD.")],
        request=None,
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    @inject
    def get(
        self, request: Request, day: str, report_get: Callable[..., ReportDownloads] = Provider["report_get"]
    ) -> Response:
        found = report_get(actor=actor(request), day=parse_report_day(day))
        data = {**run_data(found.run), "html_url": found.html_url, "csv_url": found.csv_url}
        return Response(self.OutputSerializer(data).data)
