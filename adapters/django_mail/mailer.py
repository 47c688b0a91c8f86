"""Mailer on Django's email framework: EMAIL_BACKEND (from EMAIL_URL) decides where mail goes.

The message: a text body with its HTML twin as a multipart/alternative; inline images
beside the HTML in a multipart/related (each with its Content-ID, so ``cid:`` URLs
resolve in mail clients); attachments as regular parts of the outer multipart/mixed.

Idempotency: a durable record per key (SentEmail, unique on the key's sha256):

1. claim: insert a ``sending`` row in its own short transaction (a savepoint when
   called inside one). The unique key decides between concurrent senders. An
   existing ``sent`` row: already delivered, skip. A ``sending`` row whose sender is
   gone — older than the lease, or claimed by a process of this host that no longer
   exists (a worker child killed mid-send, then the message redelivered here) — is
   taken over (compare-and-swap on ``claimed_at``) and sent. Any other ``sending``
   row: another worker is sending, PortError (the task retries later).
2. send, with a Message-ID derived from the key hash: a receiving system that sees
   the same message twice (the windows below) can tell it is one message.
3. mark ``sent``.

An SMTP or socket error releases the claim and raises PortError, so the retry sends.
Residual windows (at least once, same Message-ID): a sender that dies between the
server accepting the message and step 3 (the takeover after the lease resends), and
an error whose outcome is unknown (a timeout waiting for the server's reply to the
message data: the release lets the retry resend). Called inside a transaction, the
record commits with it: a rollback after the send forgets the delivery.
"""

from __future__ import annotations

import hashlib
import logging
import os
import smtplib
import socket
from datetime import datetime, timedelta
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import SafeMIMEMultipart
from django.core.mail.utils import DNS_NAME
from django.db.models import Q

from adapters.clock import SystemClock
from adapters.orm.models import SentEmail
from adapters.orm.repositories import _driver_errors, _unique
from domain.errors import Conflict, PortError
from domain.mail import EmailMessage, InlineImage
from domain.ports import Clock

logger = logging.getLogger(__name__)

SENDING, SENT = "sending", "sent"
# A live sender holds its claim at most about this many socket timeouts (connect,
# EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, the data itself); a claim older than that
# belongs to a dead sender.
LEASE_TIMEOUTS = 6
DEFAULT_TIMEOUT_SECONDS = 10  # when EMAIL_TIMEOUT is unset (Django's default: no timeout)


class DjangoMailer:
    """Implements Mailer with EmailMultiAlternatives and the SentEmail record.

    ``connection`` defaults to the EMAIL_BACKEND one, ``from_email`` to DEFAULT_FROM_EMAIL,
    ``lease`` to LEASE_TIMEOUTS x EMAIL_TIMEOUT, ``clock`` to the system clock.
    """

    def __init__(
        self,
        *,
        connection: BaseEmailBackend | None = None,
        from_email: str | None = None,
        lease: timedelta | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._connection = connection
        self._from_email = from_email
        self._lease = lease or timedelta(seconds=LEASE_TIMEOUTS * (settings.EMAIL_TIMEOUT or DEFAULT_TIMEOUT_SECONDS))
        self._clock = clock or SystemClock()

    def send(self, message: EmailMessage) -> None:
        key_hash = hashlib.sha256(message.idempotency_key.encode()).hexdigest()
        claimed_at = self._claim(key_hash, message)
        if claimed_at is None:
            return  # delivered before
        email = build_email(message, from_email=self._from_email, connection=self._connection)
        email.extra_headers["Message-ID"] = message_id(key_hash, email.from_email)
        try:
            email.send()
        except (smtplib.SMTPException, OSError) as e:  # socket errors and timeouts are OSError
            _release(key_hash, claimed_at)
            raise PortError("The mail server could not be reached; try again later.") from e
        self._mark_sent(key_hash, claimed_at)

    def prune(self, *, before: datetime) -> int:
        """Delete the records of emails sent before ``before``, and of claims that old (senders
        long dead). They hold recipients and subjects, kept no longer than idempotency needs."""
        with _driver_errors():
            old = SentEmail.objects.filter(
                Q(status=SENT, sent_at__lt=before) | Q(status=SENDING, claimed_at__lt=before)
            )
            deleted, _ = old.delete()
        return deleted

    def _claim(self, key_hash: str, message: EmailMessage) -> datetime | None:
        """Our claim's ``claimed_at``, or None if the key was delivered; PortError if another sender holds it."""
        now = self._clock.now()
        rows = SentEmail.objects.filter(key_hash=key_hash)
        try:
            with _driver_errors(), _unique(rows, Conflict("The email is claimed.")):
                SentEmail.objects.create(
                    key_hash=key_hash,
                    status=SENDING,
                    recipient=message.to[:254],
                    subject=message.subject[:255],
                    claimed_at=now,
                    claimed_by=_sender(),
                )
            return now
        except Conflict:
            with _driver_errors():
                return self._take_over(key_hash, now)

    def _take_over(self, key_hash: str, now: datetime) -> datetime | None:
        row = SentEmail.objects.filter(key_hash=key_hash).first()
        if row is not None and row.status == SENT:
            return None
        if row is None or (row.claimed_at > now - self._lease and not sender_is_gone(row.claimed_by)):
            # Being sent (or just released by a failed send): the retry decides.
            raise PortError("Another worker is sending this email; try again later.")
        # Compare-and-swap: of two workers taking over the same dead claim, one wins.
        stale = SentEmail.objects.filter(key_hash=key_hash, status=SENDING, claimed_at=row.claimed_at)
        if not stale.update(claimed_at=now, claimed_by=_sender()):
            raise PortError("Another worker took over this email; try again later.")
        logger.warning(
            "Taking over the email %s claimed at %s by %s: its sender died", key_hash, row.claimed_at, row.claimed_by
        )
        return now

    def _mark_sent(self, key_hash: str, claimed_at: datetime) -> None:
        try:
            with _driver_errors():
                ours = SentEmail.objects.filter(key_hash=key_hash, claimed_at=claimed_at)
                marked = ours.update(status=SENT, sent_at=self._clock.now())
        except PortError:
            # The mail went out: raising would make the caller retry, and after the
            # lease the retry would send it again.
            logger.exception("Sent an email but could not record it (%s); a retry may duplicate it.", key_hash)
            return
        if not marked:
            logger.warning("Sent an email whose claim was taken over (a send longer than the lease): %s", key_hash)


# Who holds a claim: this host and process. A claim of this host whose process is gone
# was left by a sender that died mid-send (a killed worker child): no need to wait out
# the lease. Another host's claim is judged by the lease alone.
HOST = socket.gethostname()


def _sender() -> str:
    # Per call: a forked worker child has a pid of its own.
    return f"{HOST}:{os.getpid()}"


def sender_is_gone(claimed_by: str) -> bool:
    """True when ``claimed_by`` names a process of this host that no longer exists."""
    host, _, pid = claimed_by.rpartition(":")
    if host != HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, under another user
    return False


def _release(key_hash: str, claimed_at: datetime) -> None:
    try:
        with _driver_errors():
            SentEmail.objects.filter(key_hash=key_hash, status=SENDING, claimed_at=claimed_at).delete()
    except PortError:
        logger.exception("Could not release the claim of a failed email (%s); it expires after the lease.", key_hash)


def message_id(key_hash: str, from_email: str) -> str:
    """The same Message-ID for every attempt of one key, in the sender's domain."""
    _, address = parseaddr(from_email)
    domain = address.rpartition("@")[2] or str(DNS_NAME)
    return f"<{key_hash}@{domain}>"


def build_email(
    message: EmailMessage, *, from_email: str | None = None, connection: BaseEmailBackend | None = None
) -> EmailMultiAlternatives:
    """The Django message: text, HTML alternative, inline images (related), attachments (mixed)."""
    email = _RelatedEmail(
        subject=message.subject,
        body=message.text,
        from_email=from_email,
        to=[message.to],
        connection=connection,
    )
    email.attach_alternative(message.html, "text/html")
    email.inline_images = list(message.inline_images)
    for attachment in message.attachments:
        email.attach(attachment.filename, attachment.content, attachment.content_type)
    return email


class _RelatedEmail(EmailMultiAlternatives):
    """EmailMultiAlternatives whose alternative part sits in a multipart/related with the inline images.

    Django 5.2 has no API for related parts; ``_create_alternatives`` is the step of
    its message assembly (``message()``) that builds the alternative, and the one
    place where the images can join it before the attachments wrap everything.
    """

    inline_images: list[InlineImage]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inline_images = []

    def _create_alternatives(self, msg: Any) -> Any:
        alternative = super()._create_alternatives(msg)
        if not self.inline_images:
            return alternative
        related = SafeMIMEMultipart(_subtype="related", encoding=self.encoding or settings.DEFAULT_CHARSET)
        related.attach(alternative)
        for image in self.inline_images:
            related.attach(_image_part(image))
        return related


def _image_part(image: InlineImage) -> MIMEBase:
    part = MIMEImage(image.content, _subtype=image.content_type.partition("/")[2])
    part.add_header("Content-ID", f"<{image.content_id}>")
    part.add_header("Content-Disposition", "inline", filename=image.content_id)
    return part
