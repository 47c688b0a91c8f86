"""`manage.py blobstore_setup` against moto's S3 server: the bucket is created once, CORS set every time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from django.core.management import CommandError, call_command

from adapters.local.blobs import LocalBlobStore
from adapters.s3.blobs import S3BlobStore, browser_cors_rules
from adapters.s3.client import make_client
from domain.blobs import STAGING_PREFIX
from project.container import container
from tests.harness.servers import LOOPBACK, MotoServer, free_port

pytestmark = pytest.mark.integration

APP = "https://app.experthub.example"


def s3_client(endpoint_url: str, timeout: float = 5.0) -> Any:
    return make_client(
        endpoint_url=endpoint_url,
        region="us-east-1",
        access_key_id="experthub-test",
        secret_access_key="experthub-test-secret",
        addressing_style="path",
        timeout=timeout,
    )


@pytest.fixture
def s3(moto_server: MotoServer) -> Any:
    return s3_client(moto_server.endpoint_url)


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    """A bucket name nobody has created yet, served by the container's blob store."""
    name = f"setup-{uuid.uuid4().hex[:16]}"
    with container.blobs.override(S3BlobStore(client=s3, bucket=name)):
        yield name


def setup(*args: str) -> str:
    out = StringIO()
    call_command("blobstore_setup", *args, stdout=out)
    return out.getvalue()


def test_it_creates_the_bucket_and_sets_cors(s3: Any, bucket: str) -> None:
    output = setup("--origin", APP)

    assert f"Created bucket {bucket}" in output
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == browser_cors_rules([APP])


def test_it_sweeps_the_staging_prefix(s3: Any, bucket: str) -> None:
    output = setup("--origin", APP)

    [rule] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["Filter"] == {"Prefix": STAGING_PREFIX}
    assert rule["Status"] == "Enabled"
    assert rule["Expiration"] == {"Days": 1}
    assert f"objects under {STAGING_PREFIX} expire after 1 day" in output


def test_a_second_run_keeps_the_bucket_and_replaces_the_rules(s3: Any, bucket: str) -> None:
    setup("--origin", APP)
    s3.put_object(Bucket=bucket, Key="kept.png", Body=b"x")

    output = setup("--origin", APP, "--origin", "https://admin.experthub.example")

    assert "Created" not in output
    assert s3.head_object(Bucket=bucket, Key="kept.png")["ContentLength"] == 1
    [rule] = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert rule["AllowedOrigins"] == [APP, "https://admin.experthub.example"]
    assert sorted(rule["AllowedMethods"]) == ["GET", "HEAD", "POST"]


def test_origins_default_to_cors_allowed_origins(s3: Any, bucket: str, settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = [APP]

    setup()

    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"][0]["AllowedOrigins"] == [APP]


def test_without_origins_it_refuses(bucket: str, settings: Any) -> None:
    settings.CORS_ALLOWED_ORIGINS = []

    with pytest.raises(CommandError, match="CORS_ALLOWED_ORIGINS"):
        setup()


class WithoutBucketCors:
    """The moto client, answering PutBucketCors as MinIO's community edition does."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_bucket_cors(self, **kwargs: Any) -> None:
        error = {"Error": {"Code": "NotImplemented", "Message": "A header you provided implies functionality..."}}
        raise ClientError(error, "PutBucketCors")


def test_a_server_without_bucket_cors_is_told_to_configure_it_itself(s3: Any) -> None:
    name = f"setup-{uuid.uuid4().hex[:16]}"

    with container.blobs.override(S3BlobStore(client=WithoutBucketCors(s3), bucket=name)):
        output = setup("--origin", APP)

    assert f"Created bucket {name}" in output
    assert f"has no bucket CORS; allow {APP}" in output


def test_an_unreachable_endpoint_is_a_command_error() -> None:
    store = S3BlobStore(client=s3_client(f"http://{LOOPBACK}:{free_port()}", timeout=0.5), bucket="experthub")

    with container.blobs.override(store), pytest.raises(CommandError, match="could not set up the bucket"):
        setup("--origin", APP)


def test_a_store_without_a_bucket_needs_no_setup(tmp_path: Path) -> None:
    store = LocalBlobStore(root=str(tmp_path), base_url="http://testserver", secret="s")

    with container.blobs.override(store):
        assert "needs no setup" in setup("--origin", APP)
