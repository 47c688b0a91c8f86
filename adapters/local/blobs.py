"""A blob store on the local filesystem whose signed URLs work like S3's.

Uploads are presigned POSTs: the ticket's form ``fields`` carry the key, a
base64 JSON policy (key, expiry, size limit, allowed content types) and its
HMAC-SHA256 signature; the upload view (adapters/local/views.py) enforces
the policy while it streams the file. Downloads are signed, expiring URLs
served by the download view.

The store and the views share the signing (BlobSigner) and file layout
(BlobFiles) defined here, so the views need only settings.SECRET_KEY and
settings.BLOB_ROOT, never the adapter instance. Django-free: the in-memory
store reuses the key rules and refusal codes.

Layout under ``root``: objects/<key> (the bytes), meta/<key>.json
(content type and size), tmp/ (uploads in progress, renamed into place),
used/<key> (an empty marker: a form has uploaded to this key, and no form
ever will again).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO
from urllib.parse import quote, urlencode

from domain.blobs import BlobInfo, UploadTicket
from domain.errors import InvalidInput, NotFound, PortError

MAX_KEY_LENGTH = 512
_KEY = re.compile(r"[A-Za-z0-9._\-/]+")

# Why an upload or download was refused; the in-memory store uses the same codes.
REFUSED_SIGNATURE = "signature_invalid"
REFUSED_EXPIRED = "expired"
REFUSED_TOO_LARGE = "too_large"
REFUSED_CONTENT_TYPE = "content_type_not_allowed"
REFUSED_MALFORMED = "malformed"
REFUSED_NOT_FOUND = "not_found"
REFUSED_USED = "already_used"


class BlobRefused(Exception):
    """The store refuses an upload or download (what S3 answers with 400 or 403)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def blob_key_check(key: str) -> str:
    """The key itself if it is a safe relative path; InvalidInput otherwise.

    Letters, digits and ``. _ - /``; no absolute path, no empty, ``.`` or ``..``
    segment: a key can never name anything outside the store's root.
    """
    segments = key.split("/")
    if (
        not 0 < len(key) <= MAX_KEY_LENGTH
        or not _KEY.fullmatch(key)
        or any(segment in ("", ".", "..") for segment in segments)
    ):
        raise InvalidInput.on_field("key", "Invalid blob key: use letters, digits, . _ - and / between names.")
    return key


def utc_now() -> datetime:
    return datetime.now(UTC)


def expiry_epoch(now: datetime, expires_in: int) -> int:
    """The Unix second at which something valid for ``expires_in`` seconds from ``now`` expires."""
    return int((now + timedelta(seconds=expires_in)).timestamp())


def check_not_expired(expires: int, *, now: float) -> None:
    """Raise BlobRefused(expired) once ``now`` (a Unix time) has reached ``expires``."""
    if now >= expires:
        raise BlobRefused(REFUSED_EXPIRED, "The signature has expired.")


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    """The conditions a presigned upload must meet."""

    key: str
    expires: int
    max_bytes: int
    content_types: tuple[str, ...]


class BlobSigner:
    """Signs and verifies upload policies and download URLs with one secret."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()

    def sign_policy(self, policy: UploadPolicy) -> dict[str, str]:
        """The form fields of a presigned upload: key, policy (base64 JSON), signature."""
        document = {
            "key": policy.key,
            "expires": policy.expires,
            "max_bytes": policy.max_bytes,
            "content_types": list(policy.content_types),
        }
        encoded = base64.b64encode(json.dumps(document, sort_keys=True).encode()).decode()
        return {"key": policy.key, "policy": encoded, "signature": self._sign("upload", encoded)}

    def verify_policy(self, fields: dict[str, str], *, now: float) -> UploadPolicy:
        """The policy of these form fields if signed by us, unexpired and for their key; else BlobRefused."""
        encoded, key = fields.get("policy", ""), fields.get("key", "")
        if not self._valid("upload", encoded, fields.get("signature", "")):
            raise BlobRefused(REFUSED_SIGNATURE, "The upload policy or its signature is missing or invalid.")
        policy = _decode_policy(encoded)
        if key != policy.key:
            raise BlobRefused(REFUSED_SIGNATURE, "The key does not match the signed policy.")
        check_not_expired(policy.expires, now=now)
        return policy

    def sign_download(self, key: str, expires: int) -> str:
        """The signature of a download of ``key`` valid until ``expires``."""
        return self._sign("download", f"{key}\n{expires}")

    def verify_download(self, key: str, expires: str, signature: str, *, now: float) -> None:
        """Raise BlobRefused unless the signature covers this key and expiry, and it has not passed."""
        if not expires.isdigit() or not self._valid("download", f"{key}\n{expires}", signature):
            raise BlobRefused(REFUSED_SIGNATURE, "The download signature is missing or invalid.")
        check_not_expired(int(expires), now=now)

    def _sign(self, purpose: str, message: str) -> str:
        # The purpose prefix keeps a download signature from passing as an upload one.
        return hmac.new(self._secret, f"{purpose}\n{message}".encode(), hashlib.sha256).hexdigest()

    def _valid(self, purpose: str, message: str, signature: str) -> bool:
        return bool(message) and hmac.compare_digest(self._sign(purpose, message), signature)


def _decode_policy(encoded: str) -> UploadPolicy:
    # Only reached with a valid signature, so a bad document means our own bug or a leaked secret.
    try:
        document = json.loads(base64.b64decode(encoded, validate=True))
        return UploadPolicy(
            key=blob_key_check(str(document["key"])),
            expires=int(document["expires"]),
            max_bytes=int(document["max_bytes"]),
            content_types=tuple(str(t) for t in document["content_types"]),
        )
    except (binascii.Error, ValueError, TypeError, KeyError, InvalidInput) as e:
        raise BlobRefused(REFUSED_SIGNATURE, "The upload policy is malformed.") from e


class BlobFiles:
    """Where objects, their metadata and uploads in progress live under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self._root = Path(root)

    def object_path(self, key: str) -> Path:
        return self._inside(self._root / "objects", blob_key_check(key))

    def meta_path(self, key: str) -> Path:
        return self._inside(self._root / "meta", f"{blob_key_check(key)}.json")

    def claim_form_upload(self, key: str) -> None:
        """Spend the one form upload ``key`` takes; BlobRefused(REFUSED_USED) if it was spent.

        An exclusive create, so of two uploads racing through one form exactly one wins.
        """
        marker = self._inside(self._root / "used", blob_key_check(key))
        marker.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            raise BlobRefused(REFUSED_USED, "This upload form was already used.") from None

    def incoming(self) -> IO[bytes]:
        """A new temporary file on the same filesystem, so it can be renamed into place atomically."""
        tmp = self._root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tempfile.NamedTemporaryFile(dir=tmp, delete=False)  # closed by its caller

    def commit(self, temp_path: str, *, key: str, content_type: str, size: int) -> None:
        """Move a complete upload into place, then its metadata (which is what makes it visible)."""
        data, meta = self.object_path(key), self.meta_path(key)
        data.parent.mkdir(parents=True, exist_ok=True)
        meta.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp_path, data)
        with self.incoming() as sidecar:
            sidecar.write(json.dumps({"content_type": content_type, "size": size}).encode())
        os.replace(sidecar.name, meta)

    def info(self, key: str) -> BlobInfo | None:
        """What the metadata says of ``key``, or None if it is absent."""
        data, meta = self.object_path(key), self.meta_path(key)
        try:
            document = json.loads(meta.read_bytes())
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not data.is_file():
            return None
        return BlobInfo(key=key, size=int(document["size"]), content_type=str(document["content_type"]))

    def move(self, source: str, target: str) -> None:
        """The bytes first, then the metadata that makes them visible under ``target``."""
        if self.info(source) is None:
            raise NotFound("No object under this key.")
        for src, dst in (
            (self.object_path(source), self.object_path(target)),
            (self.meta_path(source), self.meta_path(target)),
        ):
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dst)

    def read(self, key: str, limit: int) -> bytes | None:
        """Up to ``limit`` bytes of the object, or None if it is absent."""
        if self.info(key) is None:
            return None
        try:
            with self.object_path(key).open("rb") as stream:
                return stream.read(limit)
        except FileNotFoundError:  # deleted since info() looked
            return None

    def remove(self, key: str) -> None:
        """Delete the metadata first (the object disappears at once), then the bytes."""
        for path in (self.meta_path(key), self.object_path(key)):
            # NotADirectory: a parent is an object itself ("a" when deleting "a/b"), so this is absent.
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                path.unlink()

    @staticmethod
    def _inside(base: Path, relative: str) -> Path:
        # Defence in depth behind blob_key_check: not even a symlink may lead outside the root.
        path = base / relative
        if not path.resolve().is_relative_to(base.resolve()):
            raise InvalidInput.on_field("key", "Invalid blob key.")
        return path


class LocalBlobStore:
    """Implements BlobStore on the filesystem under ``root``; URLs start with ``base_url``.

    ``clock`` dates the signatures it issues (tests pass one in the past);
    the views check expiry against real time, as a remote store would.
    """

    def __init__(self, *, root: str, base_url: str, secret: str, clock: Callable[[], datetime] = utc_now) -> None:
        self._files = BlobFiles(root)
        self._signer = BlobSigner(secret)
        self._base_url = base_url.rstrip("/")
        self._clock = clock

    def create_upload(self, *, key: str, content_types: Sequence[str], max_bytes: int, expires_in: int) -> UploadTicket:
        """A presigned POST to /blobs/upload/ whose policy the upload view enforces."""
        now = self._clock()
        policy = UploadPolicy(
            key=blob_key_check(key),
            expires=expiry_epoch(now, expires_in),
            max_bytes=max_bytes,
            content_types=tuple(content_types),
        )
        return UploadTicket(
            key=key,
            url=f"{self._base_url}/blobs/upload/",
            fields=self._signer.sign_policy(policy),
            expires_at=datetime.fromtimestamp(policy.expires, UTC),
            max_bytes=max_bytes,
            content_types=policy.content_types,
        )

    def put(self, key: str, content: bytes, *, content_type: str) -> None:
        """Write to a temporary file, then move it into place: readers never see half an object."""
        blob_key_check(key)
        try:
            with self._files.incoming() as temp:
                temp.write(content)
            self._files.commit(temp.name, key=key, content_type=content_type, size=len(content))
        except OSError as e:
            raise PortError("The blob store is unavailable.") from e

    def ping(self) -> None:
        """Write and remove a scratch file where uploads land: the root exists (or can be made) and is writable."""
        try:
            with self._files.incoming() as scratch:
                scratch.write(b"ping")
            os.unlink(scratch.name)
        except OSError as e:
            raise PortError("The blob store is unavailable.") from e

    def head(self, key: str) -> BlobInfo | None:
        """Size and content type from the object's metadata file, or None if absent."""
        try:
            return self._files.info(key)
        except (OSError, ValueError, KeyError) as e:
            raise PortError("The blob store is unavailable.") from e

    def read(self, key: str, *, max_bytes: int) -> bytes | None:
        """At most ``max_bytes + 1`` bytes of the object, or None if absent."""
        try:
            return self._files.read(key, max_bytes + 1)
        except (OSError, ValueError, KeyError) as e:
            raise PortError("The blob store is unavailable.") from e

    def move(self, *, source: str, target: str) -> None:
        """Rename the file and its metadata into place (one filesystem: atomic each)."""
        try:
            self._files.move(source, target)
        except OSError as e:
            raise PortError("The blob store is unavailable.") from e

    def download_url(self, key: str, *, expires_in: int) -> str:
        """A signed URL of the download view, valid for ``expires_in`` seconds."""
        blob_key_check(key)
        expires = expiry_epoch(self._clock(), expires_in)
        query = urlencode({"expires": expires, "signature": self._signer.sign_download(key, expires)})
        return f"{self._base_url}/blobs/download/{quote(key)}?{query}"

    def delete(self, key: str) -> None:
        """Remove the object and its metadata; no error if absent."""
        try:
            self._files.remove(key)
        except OSError as e:
            raise PortError("The blob store is unavailable.") from e
