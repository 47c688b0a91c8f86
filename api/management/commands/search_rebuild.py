"""`manage.py search_rebuild`: rebuild the search index from the published profiles, with a progress bar.

On Elasticsearch this is the zero-downtime path: a new timestamped index is
bulk-loaded, the alias is swapped onto it in one atomic step, and the old index
is deleted; searches never see a partial index. Run it after a change to the
index definition (search/experts.py) or a restore. Other backends are
reindexed in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provider, inject
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from domain.errors import PortError


class Command(BaseCommand):
    help = (
        "Rebuild the expert search index from the published profiles. Elasticsearch: into a new index, "
        "then an atomic alias swap (no downtime) and the old index deleted. Other backends: in place."
    )

    @inject
    def handle(
        self,
        *args: Any,
        search_rebuild: Callable[..., int] = Provider["search_rebuild"],
        **options: Any,
    ) -> None:
        started = time.monotonic()
        with tqdm(desc="Indexing experts", unit="expert", disable=options["verbosity"] < 1) as bar:
            try:
                indexed = search_rebuild(progress=bar.update)
            except PortError as e:
                raise CommandError(f"Search rebuild failed: {e.message} ({e.__cause__})") from e
        seconds = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(f"Rebuilt the search index: {indexed} published experts in {seconds:.1f}s.")
        )
