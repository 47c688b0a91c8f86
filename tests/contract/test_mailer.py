"""The Mailer contract, run against every adapter: the in-memory fake, and the Django adapter
on Django's locmem email backend (with its SentEmail record in the test database). Then what
the Django adapter adds: the MIME structure mail clients need, a Message-ID that is the same
for every attempt of a key, any EMAIL_BACKEND (console here), and driver errors as PortError.
The claim's lease, takeover and concurrency: tests/integration/test_mail_sent_record.py.
"""

from __future__ import annotations

import email
import hashlib
import io
import smtplib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

import pytest
from django.core import mail
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend

from adapters.django_mail.mailer import DjangoMailer
from adapters.memory.mail import InMemoryMailer
from domain.errors import PortError
from domain.mail import Attachment, EmailMessage, InlineImage
from domain.ports import Mailer

# What was delivered, as (to, subject, text, html), oldest first.
Delivered = Callable[[], list[tuple[str, str, str, str]]]
# The files of the last delivery: (attachments, inline images), each as (name or Content-ID, type, content).
Parts = Callable[[], tuple[list[tuple[str, str, bytes]], list[tuple[str, str, bytes]]]]
# Takes the mail server down (True) or brings it back (False).
Outage = Callable[[bool], None]

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))  # binary, every byte value
CSV = "day,expert,bookings\n2026-11-21,Zoë,3\n".encode()  # a text attachment, not ASCII


def message(key: str = "booking_requested:b1:u1", to: str = "ada@example.com") -> EmailMessage:
    return EmailMessage(
        to=to, subject="New booking request", text="Hello Ada", html="<p>Hello Ada</p>", idempotency_key=key
    )


def report_message(key: str = "daily_report:2026-11-21:ops") -> EmailMessage:
    return EmailMessage(
        to="ops@example.com",
        subject="Daily report",
        text="See the attached CSV.",
        html='<p>Bookings</p><img src="cid:chart" alt="chart">',
        idempotency_key=key,
        attachments=(Attachment(filename="report.csv", content_type="text/csv", content=CSV),),
        inline_images=(InlineImage(content_id="chart", content_type="image/png", content=PNG),),
    )


class MailerContract:
    """Subclasses provide ``mailer`` (a fresh Mailer), ``delivered``, ``parts`` and ``outage``."""

    def test_send_delivers_the_message(self, mailer: Mailer, delivered: Delivered) -> None:
        mailer.send(message())

        assert delivered() == [("ada@example.com", "New booking request", "Hello Ada", "<p>Hello Ada</p>")]

    def test_the_same_key_twice_delivers_once(self, mailer: Mailer, delivered: Delivered) -> None:
        mailer.send(message("k1"))
        mailer.send(message("k1"))

        assert len(delivered()) == 1

    def test_different_keys_deliver_both(self, mailer: Mailer, delivered: Delivered) -> None:
        mailer.send(message("k1"))
        mailer.send(message("k2", to="bob@example.com"))

        assert [to for to, *_ in delivered()] == ["ada@example.com", "bob@example.com"]

    def test_a_failed_send_raises_port_error_and_the_retry_delivers_once(
        self, mailer: Mailer, delivered: Delivered, outage: Outage
    ) -> None:
        outage(True)
        with pytest.raises(PortError):
            mailer.send(message("k1"))
        assert delivered() == []

        outage(False)
        mailer.send(message("k1"))
        mailer.send(message("k1"))
        assert len(delivered()) == 1

    def test_prune_forgets_old_deliveries_so_their_keys_deliver_again(
        self, mailer: Mailer, delivered: Delivered
    ) -> None:
        mailer.send(message("k1"))

        assert mailer.prune(before=datetime.now(UTC) - timedelta(days=1)) == 0
        mailer.send(message("k1"))
        assert len(delivered()) == 1  # still remembered

        assert mailer.prune(before=datetime.now(UTC) + timedelta(seconds=1)) == 1
        mailer.send(message("k1"))
        assert len(delivered()) == 2  # forgotten: delivered again

    def test_unicode_survives(self, mailer: Mailer, delivered: Delivered) -> None:
        mailer.send(
            EmailMessage(to="zoe@example.com", subject="Zoë ✓", text="Grüße", html="<p>Grüße</p>", idempotency_key="ü")
        )

        assert delivered() == [("zoe@example.com", "Zoë ✓", "Grüße", "<p>Grüße</p>")]

    def test_attachments_and_inline_images_arrive_byte_for_byte(self, mailer: Mailer, parts: Parts) -> None:
        mailer.send(report_message())

        assert parts() == ([("report.csv", "text/csv", CSV)], [("chart", "image/png", PNG)])

    def test_a_plain_message_has_no_files(self, mailer: Mailer, parts: Parts) -> None:
        mailer.send(message())

        assert parts() == ([], [])


class TestInMemoryMailer(MailerContract):
    @pytest.fixture
    def mailer(self) -> InMemoryMailer:
        return InMemoryMailer()

    @pytest.fixture
    def delivered(self, mailer: InMemoryMailer) -> Delivered:
        return lambda: [(m.to, m.subject, m.text, m.html) for m in mailer.sent]

    @pytest.fixture
    def parts(self, mailer: InMemoryMailer) -> Parts:
        def last() -> tuple[list[tuple[str, str, bytes]], list[tuple[str, str, bytes]]]:
            sent = mailer.sent[-1]
            return (
                [(a.filename, a.content_type, a.content) for a in sent.attachments],
                [(i.content_id, i.content_type, i.content) for i in sent.inline_images],
            )

        return last

    @pytest.fixture
    def outage(self, mailer: InMemoryMailer) -> Outage:
        return lambda down: setattr(mailer, "down", down)


@pytest.mark.django_db
class TestDjangoLocmemMailer(MailerContract):
    @pytest.fixture
    def backend(self) -> FlakyBackend:
        mail.outbox = []
        return FlakyBackend()

    @pytest.fixture
    def mailer(self, backend: FlakyBackend) -> DjangoMailer:
        return DjangoMailer(connection=backend)

    @pytest.fixture
    def delivered(self) -> Delivered:
        return lambda: [(m.to[0], m.subject, m.body, _html(m)) for m in mail.outbox]

    @pytest.fixture
    def parts(self) -> Parts:
        return lambda: _files(mail.outbox[-1].message())

    @pytest.fixture
    def outage(self, backend: FlakyBackend) -> Outage:
        def set_down(down: bool) -> None:
            backend.error = smtplib.SMTPServerDisconnected("gone") if down else None

        return set_down

    def test_the_message_is_multipart_from_the_default_sender(self, mailer: DjangoMailer) -> None:
        mailer.send(message())

        [sent] = mail.outbox
        assert sent.alternatives[0][1] == "text/html"
        assert sent.from_email == "ExpertHub <no-reply@experthub.local>"
        assert _tree(sent.message()) == ["multipart/alternative", "text/plain", "text/html"]

    def test_images_are_related_to_the_html_and_attachments_wrap_both(self, mailer: DjangoMailer) -> None:
        """The layout mail clients show inline images from: mixed[related[alternative, image], file]."""
        mailer.send(report_message())

        mime = mail.outbox[0].message()
        assert _tree(mime) == [
            "multipart/mixed",
            ["multipart/related", ["multipart/alternative", "text/plain", "text/html"], "image/png"],
            "text/csv",
        ]
        related, attachment = mime.get_payload()
        image = related.get_payload()[1]
        assert image["Content-ID"] == "<chart>"
        assert image.get_content_disposition() == "inline"
        assert attachment.get_content_disposition() == "attachment"
        assert attachment.get_filename() == "report.csv"

    def test_the_message_id_is_the_same_for_every_attempt_of_a_key(
        self, mailer: DjangoMailer, backend: FlakyBackend, outage: Outage
    ) -> None:
        """A receiving system can then de-duplicate the rare second delivery."""
        outage(True)
        with pytest.raises(PortError):
            mailer.send(message("k1"))
        outage(False)
        mailer.send(message("k1"))
        mailer.send(message("k2", to="bob@example.com"))

        failed, first, second = backend.message_ids
        assert failed == first
        assert first != second
        assert first == f"<{hashlib.sha256(b'k1').hexdigest()}@experthub.local>"

    def test_the_default_connection_is_the_email_backend_setting(self) -> None:
        mail.outbox = []
        DjangoMailer().send(message())  # tests/settings.py: locmem

        assert len(mail.outbox) == 1

    @pytest.mark.parametrize("error", [ConnectionRefusedError(111, "refused"), TimeoutError("timed out")])
    def test_socket_errors_are_port_errors(self, error: Exception) -> None:
        backend = FlakyBackend()
        backend.error = error

        with pytest.raises(PortError) as caught:
            DjangoMailer(connection=backend).send(message())
        assert caught.value.__cause__ is error

    def test_the_record_is_shared_by_every_mailer_on_the_database(self) -> None:
        backend = FlakyBackend()

        DjangoMailer(connection=backend).send(message())
        DjangoMailer(connection=backend).send(message())  # another worker, the same database

        assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_django_mailer_prints_through_the_console_backend() -> None:
    stream = io.StringIO()
    connection = get_connection("django.core.mail.backends.console.EmailBackend", stream=stream)

    DjangoMailer(connection=connection).send(message())

    output = stream.getvalue()
    assert "Subject: New booking request" in output
    assert "To: ada@example.com" in output
    assert "Content-Type: text/html" in output
    assert "Hello Ada" in output


def _html(sent: Any) -> str:
    [(content, mimetype)] = sent.alternatives
    assert mimetype == "text/html"
    return str(content)


def _tree(part: Message) -> Any:
    """The MIME structure: a part's type, or [multipart type, *its parts' trees]."""
    if not part.is_multipart():
        return part.get_content_type()
    return [part.get_content_type(), *(_tree(child) for child in part.get_payload())]


def _files(sent: Message) -> tuple[list[tuple[str, str, bytes]], list[tuple[str, str, bytes]]]:
    """(attachments, inline images) of a message as a mail client parses it from its bytes."""
    parsed = email.message_from_bytes(sent.as_bytes())
    attachments, images = [], []
    for part in parsed.walk():
        payload = part.get_payload(decode=True)
        if part.get_content_disposition() == "attachment":
            attachments.append((part.get_filename(), part.get_content_type(), payload))
        elif part["Content-ID"]:
            images.append((part["Content-ID"].strip("<>"), part.get_content_type(), payload))
    return attachments, images


class FlakyBackend(BaseEmailBackend):
    """Delivers into Django's locmem outbox; raises ``error`` while it is set, as an SMTP connection would."""

    def __init__(self) -> None:
        super().__init__()
        self.error: Exception | None = None
        self.message_ids: list[str] = []  # of every attempt, failed ones included

    def send_messages(self, email_messages: Any) -> int:
        # Built first, as the real backends do: a message that cannot be built fails here.
        self.message_ids += [message.message()["Message-ID"] for message in email_messages]
        if self.error is not None:
            raise self.error
        mail.outbox.extend(email_messages)
        return len(email_messages)
