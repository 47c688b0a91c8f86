from __future__ import annotations

from django.apps import AppConfig


class OrmConfig(AppConfig):
    name = "adapters.orm"
    label = "orm"
    verbose_name = "Marketplace data"
    default_auto_field = "django.db.models.BigAutoField"
