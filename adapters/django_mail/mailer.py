"""Mailer on Django's email framework: EMAIL_BACKEND (from EMAIL_URL) decides where mail goes.

Idempotency: after a successful send the adapter marks the key in Django's
cache (``mail-sent:<sha256 of key>``, kept SENT_MARK_SECONDS), and a send
first checks for the mark. Marking BEFORE sending would be wrong: a send that
then failed would leave the mark and block the retry that should deliver it.

Known gap: a crash (or a cache that cannot be written) between the send and the
mark lets a retry deliver the message a second time; with a process-local cache
the marks are per process too. The outbox / ReportRun work (next session)
closes this with a database record. Until then this is at-least-once, deduplicated
in the common case.
"""

from __future__ import annotations

import hashlib
import logging
import smtplib

from django.core.cache import BaseCache
from django.core.cache import cache as default_cache
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend

from domain.errors import PortError
from domain.mail import EmailMessage

logger = logging.getLogger(__name__)

SENT_MARK_SECONDS = 7 * 24 * 3600  # longer than any retry schedule


class DjangoMailer:
    """Implements Mailer with EmailMultiAlternatives (text body, HTML alternative).

    ``connection`` defaults to the EMAIL_BACKEND one, ``cache`` to Django's
    default cache, ``from_email`` to DEFAULT_FROM_EMAIL.
    """

    def __init__(
        self,
        *,
        connection: BaseEmailBackend | None = None,
        cache: BaseCache | None = None,
        from_email: str | None = None,
    ) -> None:
        self._connection = connection
        self._cache = cache
        self._from_email = from_email

    def send(self, message: EmailMessage) -> None:
        mark = _mark_key(message.idempotency_key)
        if self._already_sent(mark):
            return
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=self._from_email,
            to=[message.to],
            connection=self._connection,
        )
        email.attach_alternative(message.html, "text/html")
        try:
            email.send()
        except (smtplib.SMTPException, OSError) as e:  # socket errors and timeouts are OSError
            raise PortError("The mail server could not be reached; try again later.") from e
        self._mark_sent(mark)

    def _already_sent(self, mark: str) -> bool:
        try:
            return self._store().get(mark) is not None
        except Exception as e:
            # Unsure whether it went out: fail now (retryable) rather than risk a duplicate.
            raise PortError("The sent-mail store could not be read.") from e

    def _mark_sent(self, mark: str) -> None:
        try:
            self._store().set(mark, 1, SENT_MARK_SECONDS)
        except Exception:
            # The mail went out: raising would make the caller retry and send it again.
            logger.exception("Sent an email but could not mark it sent (%s); a retry may duplicate it.", mark)

    def _store(self) -> BaseCache:
        return self._cache if self._cache is not None else default_cache


def _mark_key(idempotency_key: str) -> str:
    # Hashed: keys hold arbitrary text, and memcached rejects long keys and spaces.
    return f"mail-sent:{hashlib.sha256(idempotency_key.encode()).hexdigest()}"
