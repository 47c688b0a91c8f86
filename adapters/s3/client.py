"""The boto3 S3 client the blob store is given (project/container.py makes one per process).

Only single-request client calls are used anywhere (put_object, get_object,
head_object, copy_object, delete_object, create_bucket, put_bucket_cors,
put_bucket_lifecycle_configuration, generate_presigned_post,
generate_presigned_url): never ``upload_file``,
``download_file``, ``upload_fileobj`` or boto3's TransferManager. Those run
transfers on a thread pool (s3transfer), and "boto3 transfer thread pools
misbehave under gevent" (DESIGN.md, known traps): with gunicorn's gevent
workers their real threads and monkey-patched locks deadlock or stall the
worker. The app never moves file bytes itself anyway: browsers upload and
download straight to and from the bucket through presigned URLs.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

ADDRESSING_STYLES = ("auto", "path", "virtual")


def make_client(
    *,
    endpoint_url: str | None,
    region: str | None,
    access_key_id: str | None,
    secret_access_key: str | None,
    addressing_style: str = "auto",
    timeout: float = 5.0,
) -> Any:
    """An S3 client with SigV4 signing, short timeouts and bounded retries. Connects on first call, not here.

    ``endpoint_url`` None means AWS; credentials None mean boto3's default
    chain (environment, shared config, instance or task role).
    """
    if addressing_style not in ADDRESSING_STYLES:
        raise ValueError(f"S3 addressing style must be one of {ADDRESSING_STYLES}, not {addressing_style!r}")
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": addressing_style},
        connect_timeout=timeout,
        read_timeout=timeout,
        # Three tries in all. (botocore's "max_attempts" here would count retries only: four tries.)
        retries={"total_max_attempts": 3, "mode": "standard"},
        # botocore >= 1.36 adds CRC checksums to every request that allows one;
        # several S3-compatible servers refuse those headers. Only when required.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # A session of its own: boto3's default session is shared module state.
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url or None,
        region_name=region or None,
        aws_access_key_id=access_key_id or None,
        aws_secret_access_key=secret_access_key or None,
        config=config,
    )
