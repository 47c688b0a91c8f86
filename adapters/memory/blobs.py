"""An in-memory blob store with fake presigned URLs, for tests.

``put`` stands in for the client's direct upload and enforces the ticket as
a real store would; ``fetch`` stands in for a GET of a download URL. Key
rules and refusal codes are the local store's, so both pass one contract.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from adapters.local.blobs import (
    REFUSED_CONTENT_TYPE,
    REFUSED_MALFORMED,
    REFUSED_NOT_FOUND,
    REFUSED_SIGNATURE,
    REFUSED_TOO_LARGE,
    REFUSED_USED,
    BlobRefused,
    blob_key_check,
    check_not_expired,
    expiry_epoch,
    utc_now,
)
from domain.blobs import BlobInfo, UploadTicket
from domain.errors import NotFound

__all__ = ["BlobRefused", "InMemoryBlobStore"]


@dataclass(frozen=True, slots=True)
class _Blob:
    data: bytes
    content_type: str


class InMemoryBlobStore:
    """Implements BlobStore with dicts; ``clock`` (default: real UTC time) decides expiry."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock
        self.tickets: dict[str, UploadTicket] = {}  # the latest ticket per key, for assertions
        self._blobs: dict[str, _Blob] = {}
        self._uploaded: set[str] = set()  # keys a form has uploaded to: never again, as on the local store
        self._lock = threading.Lock()

    def create_upload(self, *, key: str, content_types: Sequence[str], max_bytes: int, expires_in: int) -> UploadTicket:
        """A ticket with a fake ``memory://upload/<key>`` URL; ``put`` enforces its conditions."""
        blob_key_check(key)
        expires = expiry_epoch(self._clock(), expires_in)
        ticket = UploadTicket(
            key=key,
            url=f"memory://upload/{key}",
            fields={"key": key},
            expires_at=datetime.fromtimestamp(expires, UTC),
            max_bytes=max_bytes,
            content_types=tuple(content_types),
        )
        with self._lock:
            self.tickets[key] = ticket
        return ticket

    def client_upload(self, key: str, data: bytes, content_type: str) -> None:
        """Upload through the latest ticket for ``key``, as a client would; BlobRefused if it breaks it."""
        with self._lock:
            ticket = self.tickets.get(blob_key_check(key))
            if ticket is None:
                raise BlobRefused(REFUSED_SIGNATURE, f"No upload ticket was issued for {key!r}.")
            check_not_expired(int(ticket.expires_at.timestamp()), now=self._clock().timestamp())
            if content_type not in ticket.content_types:
                raise BlobRefused(REFUSED_CONTENT_TYPE, f"Content type {content_type!r} is not allowed here.")
            if len(data) > ticket.max_bytes:
                raise BlobRefused(REFUSED_TOO_LARGE, f"The file is larger than {ticket.max_bytes} bytes.")
            if key in self._uploaded:
                raise BlobRefused(REFUSED_USED, "This upload form was already used.")
            self._uploaded.add(key)
            self._blobs[key] = _Blob(data=bytes(data), content_type=content_type)

    def put(self, key: str, content: bytes, *, content_type: str) -> None:
        """Store an object from the server side (no ticket needed)."""
        with self._lock:
            self._blobs[blob_key_check(key)] = _Blob(data=bytes(content), content_type=content_type)

    def ping(self) -> None:
        """Always ready: the objects are in this process's memory."""

    def head(self, key: str) -> BlobInfo | None:
        """Size and content type of the stored object, or None if absent."""
        blob = self._blobs.get(blob_key_check(key))
        return BlobInfo(key=key, size=len(blob.data), content_type=blob.content_type) if blob else None

    def read(self, key: str, *, max_bytes: int) -> bytes | None:
        """At most ``max_bytes + 1`` bytes of the object, or None if absent."""
        blob = self._blobs.get(blob_key_check(key))
        return blob.data[: max_bytes + 1] if blob else None

    def move(self, *, source: str, target: str) -> None:
        """Re-file the object under ``target``; NotFound if ``source`` is absent."""
        blob_key_check(target)
        with self._lock:
            blob = self._blobs.pop(blob_key_check(source), None)
            if blob is None:
                raise NotFound("No object under this key.")
            self._blobs[target] = blob

    def download_url(self, key: str, *, expires_in: int) -> str:
        """A fake ``memory://download/<key>?expires=<epoch>`` URL that ``fetch`` serves."""
        expires = expiry_epoch(self._clock(), expires_in)
        return f"memory://download/{blob_key_check(key)}?expires={expires}"

    def fetch(self, url: str) -> tuple[bytes, str]:
        """The bytes and content type a GET of a download URL would serve; BlobRefused if it would not."""
        parts = urlsplit(url)
        expires = parse_qs(parts.query).get("expires", [""])[0]
        if parts.scheme != "memory" or parts.netloc != "download" or not expires.isdigit():
            raise BlobRefused(REFUSED_MALFORMED, f"Not a download URL of this store: {url!r}.")
        check_not_expired(int(expires), now=self._clock().timestamp())
        blob = self._blobs.get(blob_key_check(parts.path.removeprefix("/")))
        if blob is None:
            raise BlobRefused(REFUSED_NOT_FOUND, "No object under this key.")
        return blob.data, blob.content_type

    def delete(self, key: str) -> None:
        """Remove the object; no error if absent."""
        with self._lock:
            self._blobs.pop(blob_key_check(key), None)
