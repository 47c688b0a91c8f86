"""The HTTP side of the local blob store: presigned uploads in, signed downloads out.

Like S3, the signature is the authorisation: no session, no CSRF token.
The views build nothing from the container; they verify with
settings.SECRET_KEY and settings.BLOB_ROOT through the same BlobSigner and
BlobFiles the LocalBlobStore uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from adapters.local.blobs import (
    REFUSED_CONTENT_TYPE,
    REFUSED_EXPIRED,
    REFUSED_MALFORMED,
    REFUSED_NOT_FOUND,
    REFUSED_SIGNATURE,
    REFUSED_TOO_LARGE,
    REFUSED_USED,
    BlobFiles,
    BlobRefused,
    BlobSigner,
    UploadPolicy,
)
from domain.errors import InvalidInput

_FORBIDDEN = {REFUSED_SIGNATURE, REFUSED_EXPIRED, REFUSED_USED}
DOWNLOAD_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


class _PolicyUploadHandler(FileUploadHandler):
    """Streams the one file part to a temp file, enforcing the signed policy as it goes.

    The policy fields come before the file in the form (as S3 requires), so
    the policy is verified when the file part starts, before a byte of it is
    written, and an oversized file is refused the moment it passes the limit.
    """

    def __init__(self, request: HttpRequest, *, files: BlobFiles, signer: BlobSigner) -> None:
        super().__init__(request)
        self._files, self._signer = files, signer
        self.read_fields: Callable[[], dict[str, str]] = dict
        self.policy: UploadPolicy | None = None
        self.size = 0
        self._temp: IO[bytes] | None = None

    def new_file(self, field_name: str, file_name: str, content_type: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, content_type, *args, **kwargs)
        if field_name != "file" or self.policy is not None:
            raise BlobRefused(REFUSED_MALFORMED, "Send exactly one file, in the last field, named 'file'.")
        policy = self._signer.verify_policy(self.read_fields(), now=time.time())
        if content_type not in policy.content_types:
            raise BlobRefused(REFUSED_CONTENT_TYPE, f"Content type {content_type!r} is not allowed here.")
        self.policy, self._temp = policy, self._files.incoming()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        if self.policy is None or self._temp is None:  # Django calls new_file first; never reached
            raise BlobRefused(REFUSED_MALFORMED, "A file chunk arrived before its part started.")
        self.size += len(raw_data)
        if self.size > self.policy.max_bytes:
            raise BlobRefused(REFUSED_TOO_LARGE, f"The file is larger than {self.policy.max_bytes} bytes.")
        self._temp.write(raw_data)

    def file_complete(self, file_size: int) -> None:
        if self._temp is not None:
            self._temp.close()

    def commit(self) -> None:
        """Move the complete upload into place under its key: once per key, ever."""
        if self.policy is None or self._temp is None:
            raise BlobRefused(REFUSED_MALFORMED, "The form has no file (field 'file', with a file name).")
        # Only a complete upload within the policy spends the form: a refused one may be retried.
        self._files.claim_form_upload(self.policy.key)
        self._files.commit(self._temp.name, key=self.policy.key, content_type=self.content_type, size=self.size)
        self._temp = None

    def discard(self) -> None:
        """Remove what an unfinished or refused upload wrote; never a partial object."""
        if self._temp is not None:
            self._temp.close()
            Path(self._temp.name).unlink(missing_ok=True)
            self._temp = None


@csrf_exempt
def blob_upload(request: HttpRequest) -> HttpResponse:
    """Store the file of a presigned POST: 204, 403 (signature, expiry, form already used) or 400 (conditions)."""
    if request.method != "POST":
        return _error(405, "method_not_allowed", "POST a multipart form.")
    handler = _PolicyUploadHandler(request, files=_files(), signer=_signer())
    try:
        _parse(request, handler)
        handler.commit()
    except BlobRefused as refused:
        return _refusal(refused)
    except MultiPartParserError as e:
        return _error(400, REFUSED_MALFORMED, f"The multipart form is malformed: {e}")
    finally:
        handler.discard()
    return HttpResponse(status=204)


def blob_download(request: HttpRequest, key: str) -> HttpResponse:
    """Serve an object to a signed, unexpired URL, with its stored content type."""
    if request.method not in ("GET", "HEAD"):
        return _error(405, "method_not_allowed", "GET the signed URL.")
    try:
        _signer().verify_download(
            key, request.GET.get("expires", ""), request.GET.get("signature", ""), now=time.time()
        )
        return _serve(_files(), key)
    except BlobRefused as refused:
        return _refusal(refused)
    except InvalidInput as e:
        return _error(400, e.code, e.message)


def _parse(request: HttpRequest, handler: _PolicyUploadHandler) -> None:
    if request.content_type != "multipart/form-data":
        raise BlobRefused(REFUSED_MALFORMED, "Send a multipart/form-data body.")
    parser = MultiPartParser(request.META, request, [handler], request.encoding)
    # The handler checks the policy against the fields parsed before the file;
    # Django's parser keeps them in _post (it has no public hook for this).
    handler.read_fields = lambda: parser._post.dict()
    parser.parse()


def _serve(files: BlobFiles, key: str) -> HttpResponse:
    info = files.info(key)
    try:
        stream = files.object_path(key).open("rb") if info else None
    except FileNotFoundError:  # deleted since info() looked
        stream = None
    if info is None or stream is None:
        return _error(404, REFUSED_NOT_FOUND, "No object under this key.")
    response = FileResponse(stream, content_type=info.content_type)
    # User content on the API's origin: never sniffed, never run as a page. An HTML object
    # (the daily report's archive, opened from the admin) renders with its inline styles
    # and data: chart, in a sandbox without scripts, forms or this origin's cookies.
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = DOWNLOAD_POLICY
    response["Cache-Control"] = "private"
    return response


def _refusal(refused: BlobRefused) -> JsonResponse:
    status = 403 if refused.code in _FORBIDDEN else 400
    fields = {} if status == 403 else {"file": [refused.message]}
    return _error(status, refused.code, refused.message, fields)


def _error(status: int, code: str, message: str, fields: dict[str, list[str]] | None = None) -> JsonResponse:
    """The API's one error shape."""
    return JsonResponse({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status)


def _files() -> BlobFiles:
    return BlobFiles(settings.BLOB_ROOT)


def _signer() -> BlobSigner:
    return BlobSigner(settings.SECRET_KEY)
