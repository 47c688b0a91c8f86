"""The local blob store's endpoints, mounted at /blobs/ (the URLs LocalBlobStore signs)."""

from __future__ import annotations

from django.urls import path

from adapters.local import views

app_name = "blobs"

urlpatterns = [
    path("upload/", views.blob_upload, name="upload"),
    path("download/<path:key>", views.blob_download, name="download"),
]
