from __future__ import annotations

from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The REST API. Its modules are wired to the container by project.apps.ProjectConfig."""

    name = "api"
    label = "api"
    verbose_name = "ExpertHub API"
