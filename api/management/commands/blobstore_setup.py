"""`manage.py blobstore_setup`: create the S3 bucket if it is missing and set its CORS rules for browser uploads.

Idempotent, so it can run on every deploy; it needs credentials allowed to
create the bucket and set its CORS (s3:CreateBucket, s3:PutBucketCORS), which
the web processes do not need. A store with nothing to provision (local,
memory) is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dependency_injector.wiring import Provider, inject
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from domain.errors import PortError
from domain.ports import BlobStoreSetup


class Command(BaseCommand):
    help = "Create the blob store's bucket if it is missing and allow browser uploads from the frontends (CORS)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--origin",
            action="append",
            dest="origins",
            metavar="URL",
            help="A frontend origin allowed to upload (repeatable). Default: CORS_ALLOWED_ORIGINS.",
        )

    @inject
    def handle(self, *args: Any, blobs: Callable[[], object] = Provider["blobs"], **options: Any) -> None:
        store = blobs()
        if not isinstance(store, BlobStoreSetup):
            self.stdout.write(f"{type(store).__name__} (BLOB_BACKEND={settings.BLOB_BACKEND}) needs no setup.")
            return
        origins = options["origins"] or list(settings.CORS_ALLOWED_ORIGINS)
        if not origins:
            raise CommandError("No origin may upload: set CORS_ALLOWED_ORIGINS or pass --origin https://app.example.")
        try:
            steps = store.setup(cors_origins=origins)
        except PortError as e:
            raise CommandError(f"{e.message} Cause: {e.__cause__}") from e
        for step in steps:
            self.stdout.write(self.style.SUCCESS(step))
