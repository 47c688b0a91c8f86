"""The domain error hierarchy.

Every business rule raises one of these. The API maps each class to one HTTP
status in one JSON error shape; anything that is not a DomainError is a bug.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class DomainError(Exception):
    """Base of every error a service or entity raises on purpose."""

    code = "domain_error"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, list[str]] = fields or {}

    @classmethod
    def on_field(cls, field: str, message: str) -> DomainError:
        """An error about one input field (rendered under ``fields``)."""
        return cls(message, fields={field: [message]})


class InvalidInput(DomainError):
    """The request breaks a rule about its own values (400)."""

    code = "invalid"


class NotFound(DomainError):
    """The thing does not exist, or the actor may not know it exists (404)."""

    code = "not_found"


class PermissionDenied(DomainError):
    """The actor is known but may not do this (403)."""

    code = "permission_denied"


class Conflict(DomainError):
    """The request is valid but clashes with the current state (409)."""

    code = "conflict"


class InvalidTransition(Conflict):
    """A state machine was asked for a move it does not allow."""

    code = "invalid_transition"


class BookingOverlap(Conflict):
    """The expert already has an accepted booking at that time."""

    code = "booking_overlap"


class DuplicateReview(Conflict):
    """The booking already has its one review."""

    code = "duplicate_review"


class EmailTaken(Conflict):
    """An account with this email exists."""

    code = "email_taken"


class UploadRejected(InvalidInput):
    """The uploaded file is not what was declared (size, type) or not a whole image; it was deleted (400)."""

    code = "upload_rejected"


class UploadUsed(Conflict):
    """The upload was already confirmed (or refused): each upload form is confirmed at most once."""

    code = "upload_used"


class UploadExpired(Conflict):
    """The upload's time to be confirmed has passed."""

    code = "upload_expired"


class ProfileExists(Conflict):
    """The user already owns an expert profile."""

    code = "profile_exists"


class PortError(DomainError):
    """An adapter could not reach or use its backing service (503).

    Adapters translate their driver's exceptions into this
    (``raise PortError(...) from e``) so services never see driver types.
    """

    code = "service_unavailable"


class ErrorCollector:
    """Gathers the field errors of several checks so one response lists them all."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    @contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except InvalidInput as error:
            for name, messages in error.fields.items():
                self.fields.setdefault(name, []).extend(messages)

    def raise_if_any(self, message: str = "Some fields are invalid.") -> None:
        if self.fields:
            raise InvalidInput(message, fields=self.fields)
