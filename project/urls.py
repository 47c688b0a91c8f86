"""URL map: /api/v1 (api), the OpenAPI schema and docs, the admin, and the local blob endpoint."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("api/v1/", include("api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("admin/", admin.site.urls),
    # Receives presigned uploads and serves signed downloads when BLOB_BACKEND=local.
    path("blobs/", include("adapters.local.urls")),
]

# Django's own error pages, in the API's one JSON error shape.
handler400 = "api.errors.bad_request"
handler403 = "api.errors.permission_denied"
handler404 = "api.errors.page_not_found"
handler500 = "api.errors.server_error"
