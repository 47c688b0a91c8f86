"""URL map: /api/v1 (api), the OpenAPI schema and docs, the admin, and the local blob endpoint.

/healthz, /readyz and /metrics are answered by ProjectEndpointsMiddleware
before URL resolution (whatever the Host header); they are listed here too,
so they resolve and reverse like any other page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponseBase
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.errors import page_not_found
from project import health, metrics


def switchable(*names: str, view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """``view`` while every setting named is on; else the 404 of any unknown path (it is not public)."""

    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if all(getattr(settings, name) for name in names):
            return view(request, *args, **kwargs)
        return page_not_found(request)

    return answer


urlpatterns = [
    path("api/v1/", include("api.urls")),
    path("api/schema/", switchable("API_SCHEMA_ENABLED", view=SpectacularAPIView.as_view()), name="schema"),
    # The split view serves its start-up script from this URL too: no inline script for the CSP to allow.
    path(
        "api/docs/",
        switchable(
            "API_DOCS_ENABLED", "API_SCHEMA_ENABLED", view=SpectacularSwaggerSplitView.as_view(url_name="schema")
        ),
        name="docs",
    ),
    path("admin/", admin.site.urls),
    # Receives presigned uploads and serves signed downloads when BLOB_BACKEND=local.
    path("blobs/", include("adapters.local.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
]

# Django's own error pages, in the API's one JSON error shape.
handler400 = "api.errors.bad_request"
handler403 = "api.errors.permission_denied"
handler404 = "api.errors.page_not_found"
handler500 = "api.errors.server_error"
