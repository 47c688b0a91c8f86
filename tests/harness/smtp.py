"""An SMTP sink on loopback for tests that send real mail: aiosmtpd in a thread of the test process.

It keeps every message it accepts, parsed (``email.message.EmailMessage``) with its
envelope. It can stop (clients then get "connection refused") and start again on
the same port, to play an outage and its end; and it can hold one session at a
chosen SMTP command until the test releases it, so "a worker is in the middle of
sending" is a known point the test waits for rather than a sleep.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Literal

from tests.harness.servers import LOOPBACK, ServerUnavailable, free_port

# aiosmtpd logs every SMTP line at INFO: that would bury a failing test's own output.
logging.getLogger("mail.log").setLevel(logging.WARNING)

# MAIL: before MAIL FROM is answered; RCPT: before RCPT TO is; DATA: the message is in,
# not yet answered (or kept); QUIT: the message was accepted and kept, the client waits for 221.
Stage = Literal["MAIL", "RCPT", "DATA", "QUIT"]
HOLD_POLL_SECONDS = 0.01


@dataclass(frozen=True)
class Received:
    """One accepted message: the envelope (MAIL FROM, RCPT TO) and the parsed message."""

    envelope_from: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def body(self, subtype: Literal["plain", "html"]) -> str:
        """The text/plain or text/html part, decoded ('' if there is none)."""
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content() if part is not None and part.get_content_subtype() == subtype else ""


@dataclass
class Hold:
    """The next session to reach ``stage`` waits there (its client gets no reply) until released."""

    stage: Stage
    reached: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)

    def wait_reached(self, timeout: float) -> None:
        if not self.reached.wait(timeout):
            raise AssertionError(f"no SMTP session reached {self.stage} within {timeout:.0f}s")

    def release(self) -> None:
        self.released.set()


@dataclass
class SmtpSink:
    port: int = field(default_factory=free_port)
    _received: list[Received] = field(default_factory=list)
    _holds: list[Hold] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Any = None

    @property
    def url(self) -> str:
        """EMAIL_URL for Django (django-environ): plain SMTP, no TLS, no login."""
        return f"smtp://{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpSink:
        """Listen on ``port`` (the same one after a stop); ServerUnavailable if it cannot."""
        try:
            from aiosmtpd.controller import Controller
        except ImportError as error:
            raise ServerUnavailable("aiosmtpd is not installed (pip install aiosmtpd)") from error
        # server_hostname: aiosmtpd would otherwise look up the machine's FQDN, which can hang on DNS.
        controller = Controller(_Handler(self), hostname=LOOPBACK, port=self.port, server_hostname="sink.test")
        try:
            controller.start()
        except (OSError, TimeoutError, RuntimeError) as error:
            raise ServerUnavailable(f"the SMTP sink could not listen on {LOOPBACK}:{self.port}: {error}") from error
        self._controller = controller
        return self

    def stop(self) -> None:
        """Close the port: a client now gets 'connection refused'. Held sessions are released first."""
        for hold in self._holds:
            hold.release()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def hold(self, stage: Stage) -> Hold:
        """Hold the next session that reaches ``stage`` (one session only; later ones pass)."""
        hold = Hold(stage)
        with self._lock:
            self._holds.append(hold)
        return hold

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def to(self, address: str) -> list[Received]:
        return [message for message in self.received() if address in message.recipients]

    def _take_hold(self, stage: Stage) -> Hold | None:
        with self._lock:
            hold = next((hold for hold in self._holds if hold.stage == stage and not hold.reached.is_set()), None)
            if hold is not None:
                hold.reached.set()
            return hold

    def _record(self, received: Received) -> None:
        with self._lock:
            self._received.append(received)


class _Handler:
    """aiosmtpd handler hooks (called on the sink's event loop thread)."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        await self._pause("MAIL")
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        await self._pause("RCPT")
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await self._pause("DATA")
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self._sink._record(Received(envelope.mail_from, tuple(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        await self._pause("QUIT")
        return "221 Bye"

    async def _pause(self, stage: Stage) -> None:
        # Polled, not awaited on a thread: the stop() cancellation reaches a sleeping coroutine.
        hold = self._sink._take_hold(stage)
        while hold is not None and not hold.released.is_set():
            await asyncio.sleep(HOLD_POLL_SECONDS)
