"""`manage.py reindex_search`: rebuild the search index from the expert repository."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provider, inject
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Rebuild the expert search index from the published profiles (after a restore or an index change)."

    @inject
    def handle(
        self, *args: Any, expert_reindex_all: Callable[[], int] = Provider["expert_reindex_all"], **options: Any
    ) -> None:
        started = time.monotonic()
        indexed = expert_reindex_all()
        self.stdout.write(
            self.style.SUCCESS(f"Indexed {indexed} published experts in {time.monotonic() - started:.1f}s.")
        )
