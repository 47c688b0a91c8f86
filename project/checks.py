"""System checks that refuse to start with an adapter combination that cannot work."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register

CHOICES = {
    "REPOSITORY_BACKEND": ("orm", "memory"),
    "SEARCH_BACKEND": ("sqlite", "postgres", "elasticsearch", "memory"),
    "BLOB_BACKEND": ("local", "s3", "memory"),
    "VIEW_COUNTER_BACKEND": ("orm", "redis", "memory"),
    "EVENTS_BACKEND": ("log", "memory"),
}


@register()
def adapter_settings_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    errors = [
        Error(f"{name}={getattr(settings, name)!r} is not one of {', '.join(allowed)}.", id="experthub.E001")
        for name, allowed in CHOICES.items()
        if getattr(settings, name) not in allowed
    ]
    engine = settings.DATABASES["default"]["ENGINE"]
    if settings.SEARCH_BACKEND == "sqlite" and engine != "django.db.backends.sqlite3":
        errors.append(
            Error(
                "SEARCH_BACKEND=sqlite keeps its FTS5 index in the default database, which is not SQLite.",
                hint="Pick a search backend that works with this database.",
                id="experthub.E002",
            )
        )
    return errors
