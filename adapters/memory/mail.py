"""An in-memory Mailer for unit tests: records what it delivers, once per idempotency key."""

from __future__ import annotations

import threading

from domain.errors import PortError
from domain.mail import EmailMessage


class InMemoryMailer:
    """Implements Mailer; ``sent`` holds every delivered message in order, whole
    (attachments and inline images included: tests read them off the message).

    Set ``down`` to make every send fail with PortError, as an unreachable SMTP
    server would: a failed send is not recorded, so a retry delivers it.
    """

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.down = False
        self._keys: set[str] = set()
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        with self._lock:
            if self.down:
                raise PortError("Mail server unavailable.")
            if message.idempotency_key in self._keys:
                return
            self.sent.append(message)
            self._keys.add(message.idempotency_key)
