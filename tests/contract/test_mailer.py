"""The Mailer contract, run against every adapter: the in-memory fake, and the Django adapter
on Django's locmem email backend. Then what the Django adapter adds: a real message with an
HTML alternative through any EMAIL_BACKEND (console here), and driver errors as PortError.
"""

from __future__ import annotations

import io
import smtplib
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.core.cache.backends.locmem import LocMemCache
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend

from adapters.django_mail.mailer import DjangoMailer
from adapters.memory.mail import InMemoryMailer
from domain.errors import PortError
from domain.mail import EmailMessage
from domain.ports import Mailer

# What was delivered, as (to, subject, text, html), oldest first.
Delivered = Callable[[], list[tuple[str, str, str, str]]]


def message(key: str = "booking_requested:b1:u1", to: str = "ada@example.com") -> EmailMessage:
    return EmailMessage(
        to=to, subject="New booking request", text="Hello Ada", html="<p>Hello Ada</p>", idempotency_key=key
    )


class MailerContract:
    """Subclasses provide ``mailer`` (a fresh Mailer) and ``delivered``."""

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

    def test_unicode_survives(self, mailer: Mailer, delivered: Delivered) -> None:
        mailer.send(
            EmailMessage(to="zoe@example.com", subject="Zoë ✓", text="Grüße", html="<p>Grüße</p>", idempotency_key="ü")
        )

        assert delivered() == [("zoe@example.com", "Zoë ✓", "Grüße", "<p>Grüße</p>")]


class TestInMemoryMailer(MailerContract):
    @pytest.fixture
    def mailer(self) -> InMemoryMailer:
        return InMemoryMailer()

    @pytest.fixture
    def delivered(self, mailer: InMemoryMailer) -> Delivered:
        return lambda: [(m.to, m.subject, m.text, m.html) for m in mailer.sent]


def fresh_cache() -> LocMemCache:
    return LocMemCache(f"mailer-{uuid.uuid4().hex}", {})


class TestDjangoLocmemMailer(MailerContract):
    @pytest.fixture
    def mailer(self) -> DjangoMailer:
        mail.outbox = []
        return DjangoMailer(
            connection=get_connection("django.core.mail.backends.locmem.EmailBackend"), cache=fresh_cache()
        )

    @pytest.fixture
    def delivered(self) -> Delivered:
        return lambda: [(m.to[0], m.subject, m.body, _html(m)) for m in mail.outbox]

    def test_the_message_is_multipart_from_the_default_sender(self, mailer: DjangoMailer) -> None:
        mailer.send(message())

        [sent] = mail.outbox
        assert sent.alternatives[0][1] == "text/html"
        assert sent.from_email == "ExpertHub <no-reply@experthub.local>"

    def test_the_default_connection_is_the_email_backend_setting(self) -> None:
        mail.outbox = []
        DjangoMailer(cache=fresh_cache()).send(message())  # tests/settings.py: locmem

        assert len(mail.outbox) == 1

    def test_a_failed_send_is_not_marked_so_the_retry_delivers(self) -> None:
        backend = FlakyBackend()
        mailer = DjangoMailer(connection=backend, cache=fresh_cache())
        backend.error = smtplib.SMTPServerDisconnected("gone")

        with pytest.raises(PortError):
            mailer.send(message())

        backend.error = None
        mailer.send(message())
        mailer.send(message())
        assert backend.delivered == 1

    @pytest.mark.parametrize("error", [ConnectionRefusedError(111, "refused"), TimeoutError("timed out")])
    def test_socket_errors_are_port_errors(self, error: Exception) -> None:
        backend = FlakyBackend()
        backend.error = error

        with pytest.raises(PortError) as caught:
            DjangoMailer(connection=backend, cache=fresh_cache()).send(message())
        assert caught.value.__cause__ is error

    def test_an_unreadable_sent_store_fails_before_sending(self) -> None:
        backend = FlakyBackend()

        with pytest.raises(PortError):
            DjangoMailer(connection=backend, cache=BrokenCache()).send(message())
        assert backend.delivered == 0

    def test_marks_are_shared_by_mailers_on_one_cache(self) -> None:
        backend, cache = FlakyBackend(), fresh_cache()

        DjangoMailer(connection=backend, cache=cache).send(message())
        DjangoMailer(connection=backend, cache=cache).send(message())  # another worker, the same Redis

        assert backend.delivered == 1


def test_django_mailer_prints_through_the_console_backend() -> None:
    stream = io.StringIO()
    connection = get_connection("django.core.mail.backends.console.EmailBackend", stream=stream)

    DjangoMailer(connection=connection, cache=fresh_cache()).send(message())

    output = stream.getvalue()
    assert "Subject: New booking request" in output
    assert "To: ada@example.com" in output
    assert "Content-Type: text/html" in output
    assert "Hello Ada" in output


def _html(sent: Any) -> str:
    [(content, mimetype)] = sent.alternatives
    assert mimetype == "text/html"
    return str(content)


class FlakyBackend(BaseEmailBackend):
    """Counts deliveries; raises ``error`` while it is set, as an SMTP connection would."""

    def __init__(self) -> None:
        super().__init__()
        self.error: Exception | None = None
        self.delivered = 0

    def send_messages(self, email_messages: Any) -> int:
        if self.error is not None:
            raise self.error
        self.delivered += len(email_messages)
        return len(email_messages)


class BrokenCache(LocMemCache):
    def __init__(self) -> None:
        super().__init__("broken", {})

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("down")
