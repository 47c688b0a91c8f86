"""`manage.py search_reconcile`: repair the drift between an external search index and the profiles, now.

What the hourly ``api.tasks.search_reconcile`` task does, in this process: ids and
versions are read from the index, the published profiles from the database, and
every missing, stale or orphaned document is rewritten from the profile as it is.
Safe at any time, next to the workers and the beat. On the database-backed
indexes it does nothing and says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provider, inject
from django.core.management.base import BaseCommand, CommandError

from api.tasks import describe_reconcile
from domain.errors import PortError
from services.experts import ReconcileReport


class Command(BaseCommand):
    help = (
        "Compare the search index with the published profiles and repair both directions: missing and "
        "stale documents are indexed, documents of unpublished or deleted profiles removed."
    )

    @inject
    def handle(
        self,
        *args: Any,
        search_reconcile: Callable[..., ReconcileReport] = Provider["search_reconcile"],
        **options: Any,
    ) -> None:
        try:
            report = search_reconcile()
        except PortError as e:
            raise CommandError(f"Search reconcile failed: {e.message} ({e.__cause__})") from e
        self.stdout.write(self.style.SUCCESS(f"Search reconcile: {describe_reconcile(report)}."))
