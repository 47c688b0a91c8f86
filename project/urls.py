"""URL map: /api/v1 (api), the OpenAPI schema and docs, the admin, and the local blob endpoint.

/healthz, /readyz and /metrics are answered by ProjectEndpointsMiddleware
before URL resolution (whatever the Host header); they are listed here too,
so they resolve and reverse like any other page.
"""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from project import health, metrics

urlpatterns = [
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
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
