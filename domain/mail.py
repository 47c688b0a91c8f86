"""Outgoing email as the domain sees it: one recipient, a text body and its HTML twin,
optionally with file attachments and images the HTML shows inline (``cid:`` URLs)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.errors import InvalidInput

# A Content-ID and a file name travel in MIME headers: keep them to safe characters.
_CONTENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_FILENAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_CONTENT_TYPE = re.compile(r"^[a-z]+/[a-z0-9.+-]+$")


def _check_part(content_type: str, content: bytes) -> None:
    if not _CONTENT_TYPE.match(content_type):
        raise InvalidInput(f"Not a MIME type: {content_type!r}.")
    if not isinstance(content, bytes):
        raise InvalidInput("An email part's content must be bytes.")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to the email (``filename`` as the reader sees it)."""

    filename: str
    content_type: str
    content: bytes

    def __post_init__(self) -> None:
        if not _FILENAME.match(self.filename):
            raise InvalidInput(f"Unsafe attachment file name {self.filename!r}.")
        _check_part(self.content_type, self.content)


@dataclass(frozen=True, slots=True)
class InlineImage:
    """An image the HTML body shows with ``<img src="cid:{content_id}">``."""

    content_id: str
    content_type: str
    content: bytes

    def __post_init__(self) -> None:
        if not _CONTENT_ID.match(self.content_id):
            raise InvalidInput(f"Unsafe Content-ID {self.content_id!r}.")
        if not self.content_type.startswith("image/"):
            raise InvalidInput("An inline image must have an image/* type.")
        _check_part(self.content_type, self.content)


@dataclass(frozen=True, slots=True)
class EmailMessage:
    """One email to one address.

    ``idempotency_key`` names the delivery: a Mailer delivers a given key once,
    however often it is asked (a retried task resends the same message).
    """

    to: str
    subject: str
    text: str
    html: str
    idempotency_key: str
    attachments: tuple[Attachment, ...] = ()
    inline_images: tuple[InlineImage, ...] = ()

    def __post_init__(self) -> None:
        if not self.to or not self.idempotency_key:
            raise InvalidInput("An email needs a recipient and an idempotency key.")
        # A line break in a header would let text smuggle in headers of its own.
        if any(c in value for value in (self.to, self.subject) for c in "\r\n"):
            raise InvalidInput("Email headers must be one line.")
