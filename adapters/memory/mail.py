"""An in-memory Mailer for unit tests: records what it delivers, once per idempotency key."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from domain.errors import PortError
from domain.mail import EmailMessage
from domain.ports import Clock


class InMemoryMailer:
    """Implements Mailer; ``sent`` holds every delivered message in order, whole
    (attachments and inline images included: tests read them off the message).

    Set ``down`` to make every send fail with PortError, as an unreachable SMTP
    server would: a failed send is not recorded, so a retry delivers it.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.sent: list[EmailMessage] = []
        self.down = False
        self._keys: dict[str, datetime] = {}  # key -> when it was delivered
        self._clock = clock
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        with self._lock:
            if self.down:
                raise PortError("Mail server unavailable.")
            if message.idempotency_key in self._keys:
                return
            self.sent.append(message)
            self._keys[message.idempotency_key] = self._clock.now() if self._clock else datetime.now(UTC)

    def prune(self, *, before: datetime) -> int:
        with self._lock:
            old = [key for key, sent_at in self._keys.items() if sent_at < before]
            for key in old:
                del self._keys[key]
            return len(old)
