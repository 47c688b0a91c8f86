"""DjangoMailer's durable sent record (SentEmail): the claim, its lease, the takeover of a dead
sender's claim, the release on failure, savepoints inside a caller's transaction, and two
workers racing for one key (real parallel transactions: PostgreSQL in the stack run, the
SQLite file otherwise). The shared Mailer contract: tests/contract/test_mailer.py.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import subprocess
import sys
import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from adapters.django_mail.mailer import HOST, DjangoMailer
from adapters.orm.models import SentEmail, User
from domain.errors import PortError
from tests.contract.test_mailer import FlakyBackend, message

LEASE = timedelta(seconds=60)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def claim(key: str, *, age: timedelta, by: str = "another-host:4242") -> SentEmail:
    """A ``sending`` row as another worker leaves it, claimed ``age`` ago by ``by`` (host:pid)."""
    return SentEmail.objects.create(
        key_hash=key_hash(key),
        status="sending",
        recipient="x@example.com",
        subject="s",
        claimed_at=timezone.now() - age,
        claimed_by=by,
    )


def dead_pid() -> int:
    """The pid of a process of this host that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def backend() -> FlakyBackend:
    mail.outbox = []
    return FlakyBackend()


@pytest.fixture
def mailer(backend: FlakyBackend) -> DjangoMailer:
    return DjangoMailer(connection=backend, lease=LEASE)


@pytest.mark.django_db
class TestTheSentRecord:
    def test_a_delivery_is_recorded_sent(self, mailer: DjangoMailer) -> None:
        before = timezone.now()

        mailer.send(message("k1"))

        row = SentEmail.objects.get()
        assert (row.key_hash, row.status) == (key_hash("k1"), "sent")
        assert (row.recipient, row.subject) == ("ada@example.com", "New booking request")
        assert row.sent_at is not None
        assert before <= row.claimed_at <= row.sent_at

    def test_a_claim_younger_than_the_lease_makes_the_send_wait(self, mailer: DjangoMailer) -> None:
        held = claim("k1", age=LEASE - timedelta(seconds=5))

        with pytest.raises(PortError, match="Another worker"):
            mailer.send(message("k1"))

        assert mail.outbox == []
        assert SentEmail.objects.get().claimed_at == held.claimed_at  # still theirs

    def test_a_fresh_claim_of_a_dead_process_of_this_host_is_taken_over_at_once(self, mailer: DjangoMailer) -> None:
        """A worker child killed mid-send, its message redelivered to a new child of the same host."""
        claim("k1", age=timedelta(seconds=1), by=f"{HOST}:{dead_pid()}")

        mailer.send(message("k1"))

        assert len(mail.outbox) == 1
        assert SentEmail.objects.get().claimed_by == f"{HOST}:{os.getpid()}"

    def test_a_fresh_claim_of_a_live_process_of_this_host_is_left_alone(self, mailer: DjangoMailer) -> None:
        claim("k1", age=timedelta(seconds=1), by=f"{HOST}:{os.getppid()}")

        with pytest.raises(PortError, match="Another worker"):
            mailer.send(message("k1"))
        assert mail.outbox == []

    def test_a_claim_older_than_the_lease_is_taken_over_and_sent_once(self, mailer: DjangoMailer) -> None:
        dead = claim("k1", age=LEASE + timedelta(seconds=5))

        mailer.send(message("k1"))
        mailer.send(message("k1"))

        assert len(mail.outbox) == 1
        row = SentEmail.objects.get()
        assert row.status == "sent"
        assert row.claimed_at > dead.claimed_at

    def test_a_failed_send_releases_the_claim(self, mailer: DjangoMailer, backend: FlakyBackend) -> None:
        backend.error = smtplib.SMTPDataError(451, b"try later")

        with pytest.raises(PortError):
            mailer.send(message("k1"))

        assert not SentEmail.objects.exists()

    def test_a_failure_does_not_release_a_claim_taken_over_meanwhile(self, backend: FlakyBackend) -> None:
        """A send slower than the lease lost its claim: its failure must not delete the new owner's."""
        new_owner_claimed_at = timezone.now() + timedelta(seconds=1)

        class SlowThenFailing(FlakyBackend):
            def send_messages(self, email_messages: Any) -> int:
                SentEmail.objects.update(claimed_at=new_owner_claimed_at)
                raise smtplib.SMTPServerDisconnected("gone")

        with pytest.raises(PortError):
            DjangoMailer(connection=SlowThenFailing(), lease=LEASE).send(message("k1"))

        assert SentEmail.objects.get().claimed_at == new_owner_claimed_at

    def test_inside_a_transaction_a_held_claim_leaves_the_transaction_usable(self, mailer: DjangoMailer) -> None:
        """The claim is a savepoint: on PostgreSQL the failed INSERT must not abort the caller's transaction."""
        claim("k2", age=timedelta(0))

        with transaction.atomic():
            mailer.send(message("k1"))
            with pytest.raises(PortError):
                mailer.send(message("k2"))
            mailer.send(message("k1"))
            mailer.send(message("k3", to="bob@example.com"))
            assert User.objects.count() == 0  # the transaction still runs queries

        assert [m.to[0] for m in mail.outbox] == ["ada@example.com", "bob@example.com"]
        assert SentEmail.objects.filter(status="sent").count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_one_key_at_once_deliver_it_once() -> None:
    """Worker A holds the claim while its SMTP send runs; B, arriving meanwhile, must not send.

    A's send waits until B's attempt is over: if B also sent (no claim), both deliver and the
    count says so. Each thread commits through its own connection, as two workers would.
    """
    if connection.vendor == "sqlite":
        assert not connection.is_in_memory_db(), "threads need a database file to share"
    mail.outbox = []
    other_attempt_over = threading.Event()
    start = threading.Barrier(2)
    outcomes: list[str] = []

    class SlowBackend(FlakyBackend):
        def send_messages(self, email_messages: Any) -> int:
            other_attempt_over.wait(timeout=10)
            return super().send_messages(email_messages)

    def worker() -> None:
        try:
            start.wait(timeout=10)
            DjangoMailer(connection=SlowBackend(), lease=LEASE).send(message("k1"))
            outcomes.append("sent")
        except PortError:
            outcomes.append("told to retry")
            other_attempt_over.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["sent", "told to retry"]
    assert len(mail.outbox) == 1
    assert SentEmail.objects.get().status == "sent"
    DjangoMailer(connection=FlakyBackend(), lease=LEASE).send(message("k1"))  # B's retry
    assert len(mail.outbox) == 1
