"""Outgoing email as the domain sees it: one recipient, a text body and its HTML twin."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import InvalidInput


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

    def __post_init__(self) -> None:
        if not self.to or not self.idempotency_key:
            raise InvalidInput("An email needs a recipient and an idempotency key.")
        # A line break in a header would let text smuggle in headers of its own.
        if any(c in value for value in (self.to, self.subject) for c in "\r\n"):
            raise InvalidInput("Email headers must be one line.")
