"""The BlobStore port on any S3-protocol endpoint (AWS S3, MinIO, DigitalOcean Spaces).

Uploads are presigned POSTs: the browser sends the file straight to the
bucket with the ticket's form fields, and the signed policy among them holds
the conditions S3 itself enforces: this key, a size range, the content type,
an expiry. A POST policy cannot list alternatives, so a ticket for several
content types pins only their common prefix ("image/") and the client sets
the Content-Type field; the confirm step's HEAD check (services/avatars.py)
holds the exact list, as it does on every store. Downloads are presigned GETs.

A presigned POST can be sent again and again until it expires: S3 has no
single-use form. So uploads go to staging keys of their own (services/uploads.py),
are checked from there (read) and copied to their final key (move), which no
form names; a lifecycle rule (setup) sweeps what is left under the staging prefix.

Only single-request client calls, never boto3's threaded transfers: see
adapters/s3/client.py. Driver errors leave as PortError; the one expected
answer, a 404 on HEAD, means "absent".
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from adapters.local.blobs import blob_key_check, utc_now
from domain.blobs import STAGING_PREFIX, BlobInfo, UploadTicket
from domain.errors import NotFound, PortError

# Forms expire in minutes and confirmations follow within the hour: a day is far beyond both.
STAGING_EXPIRY_DAYS = 1


class S3BlobStore:
    """Implements BlobStore (and BlobStoreSetup) on one bucket through an injected boto3 S3 client.

    ``clock`` dates the expiries it signs, as LocalBlobStore's does (tests pass
    one in the past); the server checks them against real time.
    """

    def __init__(self, *, client: Any, bucket: str, clock: Callable[[], datetime] = utc_now) -> None:
        self._client = client
        self._bucket = bucket
        self._clock = clock

    def create_upload(self, *, key: str, content_types: Sequence[str], max_bytes: int, expires_in: int) -> UploadTicket:
        """A presigned POST to the bucket whose policy pins key, size (0..max_bytes), content type and expiry."""
        types = tuple(content_types)
        type_field, type_condition = content_type_rules(types)
        expires_at = self._expires_at(expires_in)
        with _port_errors("prepare the upload"):
            post = self._client.generate_presigned_post(
                Bucket=self._bucket,
                Key=blob_key_check(key),  # boto3 adds the {"key": key} condition itself
                Fields=type_field,
                # From 0, as every store accepts an empty upload (the contract); confirm judges the size.
                Conditions=[["content-length-range", 0, max_bytes], type_condition],
                ExpiresIn=_seconds_until(expires_at),
            )
        return UploadTicket(
            key=key,
            url=post["url"],
            fields=post["fields"],
            expires_at=expires_at,
            max_bytes=max_bytes,
            content_types=types,
        )

    def put(self, key: str, content: bytes, *, content_type: str) -> None:
        """PUT Object in one request (reports are small; no multipart, no transfer threads)."""
        blob_key_check(key)
        with _port_errors("store the file"):
            self._client.put_object(Bucket=self._bucket, Key=key, Body=content, ContentType=content_type)

    def ping(self) -> None:
        """HEAD Bucket: the server answers, the bucket exists and these credentials may use it."""
        with _port_errors("reach the bucket"):
            self._client.head_bucket(Bucket=self._bucket)

    def head(self, key: str) -> BlobInfo | None:
        """Size and content type from HEAD Object; None on 404."""
        blob_key_check(key)
        with _port_errors("look up the file"):
            try:
                response = self._client.head_object(Bucket=self._bucket, Key=key)
            except ClientError as e:
                if _http_status(e) == 404:
                    return None
                raise
        return BlobInfo(key=key, size=int(response["ContentLength"]), content_type=str(response.get("ContentType", "")))

    def read(self, key: str, *, max_bytes: int) -> bytes | None:
        """GET Object with a Range of ``max_bytes + 1`` bytes; None on 404."""
        blob_key_check(key)
        with _port_errors("read the file"):
            try:
                response = self._client.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=0-{max_bytes}")
            except ClientError as e:
                if _http_status(e) == 404:
                    return None
                if _error_code(e) == "InvalidRange":  # S3's answer for any range of an empty object
                    return b""
                raise
            with contextlib.closing(response["Body"]) as body:
                data: bytes = body.read(max_bytes + 1)
        return data

    def move(self, *, source: str, target: str) -> None:
        """Copy Object (server side, one request up to 5 GB), then DELETE the source."""
        blob_key_check(target)
        with _port_errors("move the file"):
            try:
                self._client.copy_object(
                    Bucket=self._bucket, Key=target, CopySource={"Bucket": self._bucket, "Key": blob_key_check(source)}
                )
            except ClientError as e:
                if _http_status(e) == 404 or _error_code(e) == "NoSuchKey":
                    raise NotFound("No object under this key.") from e
                raise
            self._client.delete_object(Bucket=self._bucket, Key=source)

    def download_url(self, key: str, *, expires_in: int) -> str:
        """A presigned GET; one already past its expiry is signed to last 0 seconds, which S3 refuses."""
        seconds = max(0, _seconds_until(self._expires_at(expires_in)))
        with _port_errors("sign the download"):
            url: str = self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": blob_key_check(key)}, ExpiresIn=seconds
            )
        return url

    def delete(self, key: str) -> None:
        """DELETE Object; S3 answers 204 for an absent key too."""
        blob_key_check(key)
        with _port_errors("delete the file"):
            self._client.delete_object(Bucket=self._bucket, Key=key)

    def setup(self, *, cors_origins: Sequence[str]) -> list[str]:
        """Create the bucket if it is missing and let browsers on ``cors_origins`` upload and download."""
        with _port_errors("set up the bucket"):
            created = [] if self._bucket_exists() else [self._create_bucket()]
            return [*created, self._set_cors(cors_origins), self._sweep_staging()]

    def _expires_at(self, expires_in: int) -> datetime:
        return (self._clock() + timedelta(seconds=expires_in)).replace(microsecond=0)

    def _bucket_exists(self) -> bool:
        try:
            self._client.head_bucket(Bucket=self._bucket)
        except ClientError as e:
            if _http_status(e) == 404:
                return False
            raise  # 403: it exists but these credentials may not use it
        return True

    def _set_cors(self, origins: Sequence[str]) -> str:
        rules, listed = browser_cors_rules(origins), ", ".join(origins)
        try:
            self._client.put_bucket_cors(Bucket=self._bucket, CORSConfiguration={"CORSRules": rules})
        except ClientError as e:
            # MinIO's community edition has no bucket CORS: it applies MINIO_API_CORS_ALLOW_ORIGIN to every bucket.
            if _error_code(e) != "NotImplemented":
                raise
            return f"Bucket {self._bucket}: the server has no bucket CORS; allow {listed} in its own configuration."
        return f"Bucket {self._bucket}: CORS allows {listed} to upload and download."

    def _sweep_staging(self) -> str:
        """Expire what uploads leave under the staging prefix (never confirmed, or re-sent after)."""
        rule = {
            "ID": "experthub-staging-sweep",
            "Filter": {"Prefix": STAGING_PREFIX},
            "Status": "Enabled",
            "Expiration": {"Days": STAGING_EXPIRY_DAYS},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": STAGING_EXPIRY_DAYS},
        }
        try:
            self._client.put_bucket_lifecycle_configuration(
                Bucket=self._bucket, LifecycleConfiguration={"Rules": [rule]}
            )
        except ClientError as e:
            if _error_code(e) != "NotImplemented":
                raise
            return f"Bucket {self._bucket}: the server has no lifecycle rules; expire {STAGING_PREFIX} yourself."
        return f"Bucket {self._bucket}: objects under {STAGING_PREFIX} expire after {STAGING_EXPIRY_DAYS} day."

    def _create_bucket(self) -> str:
        region = self._client.meta.region_name
        # us-east-1 is the one region S3 refuses as an explicit LocationConstraint.
        location = {"CreateBucketConfiguration": {"LocationConstraint": region}} if region != "us-east-1" else {}
        try:
            self._client.create_bucket(Bucket=self._bucket, **location)
        except ClientError as e:
            if _error_code(e) != "BucketAlreadyOwnedByYou":
                raise
            return f"Bucket {self._bucket} was created meanwhile."
        return f"Created bucket {self._bucket} in {region}."


def content_type_rules(types: tuple[str, ...]) -> tuple[dict[str, str], Any]:
    """The ticket's Content-Type form field and the policy condition on it."""
    if not types:
        raise ValueError("An upload must allow at least one content type.")
    if len(types) == 1:
        return {"Content-Type": types[0]}, {"Content-Type": types[0]}
    return {}, ["starts-with", "$Content-Type", _shared_prefix(types)]


def browser_cors_rules(origins: Sequence[str]) -> list[dict[str, Any]]:
    """What a bucket must allow for browsers on ``origins``: POST the upload form, GET/HEAD the files."""
    return [
        {
            "AllowedOrigins": list(origins),
            "AllowedMethods": ["POST", "GET", "HEAD"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "Location"],
            "MaxAgeSeconds": 3600,
        }
    ]


def _shared_prefix(values: Sequence[str]) -> str:
    # Whatever the lexicographically first and last values share, every value shares.
    first, last = min(values), max(values)
    length = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), len(first))
    return first[:length]


def _seconds_until(moment: datetime) -> int:
    # botocore signs with the real time: turn the store's (maybe test) clock into a duration.
    return math.ceil((moment - datetime.now(UTC)).total_seconds())


def _http_status(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def _port_errors(doing: str) -> Iterator[None]:
    """Driver errors leave as PortError; the driver's own stays chained for the logs."""
    try:
        yield
    except (BotoCoreError, ClientError) as e:
        raise PortError(f"The file store could not {doing}.") from e
