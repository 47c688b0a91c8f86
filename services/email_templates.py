"""Plain-Python email templates: a subject, a text body and an HTML body per notification.

Rendering is presentation, so it lives beside the use cases, not in the domain.
Every value that comes from a user (names, topics, comments) is escaped with
html.escape in the HTML body; subjects are forced onto one line.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass

SIGNATURE = "The ExpertHub team"


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class Template:
    """``subject`` and ``lines`` are str.format templates over the same values."""

    subject: str
    lines: tuple[str, ...]

    def render(self, values: Mapping[str, object]) -> Rendered:
        escaped = {name: html.escape(str(value)) for name, value in values.items()}
        body = [line.format(**values) for line in self.lines]
        paragraphs = "".join(f"<p>{line.format(**escaped)}</p>" for line in self.lines)
        return Rendered(
            subject=one_line(self.subject.format(**values)),
            text="\n\n".join([*body, SIGNATURE]) + "\n",
            html=f"<html><body>{paragraphs}<p>{html.escape(SIGNATURE)}</p></body></html>",
        )


def one_line(text: str) -> str:
    """Collapse every run of whitespace (line breaks included) into one space."""
    return " ".join(text.split())


BOOKING_DETAILS = "When: {starts_at} ({duration} minutes). Topic: {topic}. Price: {price}."

BOOKING_REQUESTED = Template(
    subject="New booking request from {client}",
    lines=(
        "Hello {expert},",
        "{client} asked to book a session with you.",
        BOOKING_DETAILS,
        "Accept or decline it in ExpertHub.",
    ),
)
BOOKING_ACCEPTED = Template(
    subject="{expert} accepted your booking",
    lines=("Hello {client},", "{expert} accepted your session.", BOOKING_DETAILS),
)
BOOKING_DECLINED = Template(
    subject="{expert} declined your booking",
    lines=("Hello {client},", "{expert} declined your session request.", BOOKING_DETAILS, "You have not been charged."),
)
BOOKING_CANCELLED = Template(
    subject="{client} cancelled a booking",
    lines=("Hello {expert},", "{client} cancelled this session.", BOOKING_DETAILS),
)
REVIEW_RECEIVED = Template(
    subject="New {rating}-star review from {client}",
    lines=("Hello {expert},", "{client} rated your session {rating} out of 5.", "Their comment: {comment}"),
)
