"""Two real `celery beat` processes and a real worker on a real Redis broker send ONE daily report.

The first beat takes RedBeat's lock in Redis and schedules the report check every
second; the second beat waits for the lock and schedules nothing. Behind the lock,
the database is the backstop: the report run is unique per date, so even the
report task enqueued many times at once, on a worker with two processes, sends
one report. Mail goes to a folder (EMAIL_URL=filemail://), the archive to the
configured blob store (a folder here, S3 in the stack run).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import date
from pathlib import Path

import pytest
from celery import Celery

from adapters.orm.models import ReportRunRow
from tests.harness.servers import RedisServer, ServerUnavailable, wait_until
from tests.harness.worker import ROOT, CeleryWorker, worker_environment

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BROKER_DB = 13  # no other test uses it (the worker tests take 14 and 15, the xdist caches 1, 2, ...)
OPS = "ops-team@example.com"
TO_OPS = re.compile(rf"^To: {re.escape(OPS)}$", re.MULTILINE)


@pytest.fixture
def broker_url(redis_server: RedisServer) -> str:
    url = redis_server.url.rsplit("/", 1)[0] + f"/{BROKER_DB}"
    Celery("flush", broker=url, set_as_current=False).connection_for_write().default_channel.client.flushdb()
    return url


@pytest.fixture
def environment(broker_url: str, tmp_path: Path) -> dict[str, str]:
    """Production settings, the live test database, the report due at once (send time 00:00)."""
    (tmp_path / "mail").mkdir()
    return worker_environment(
        broker_url=broker_url,
        email_url=f"filemail:///{tmp_path / 'mail'}",  # django-environ drops one slash: keep the path absolute
        var_dir=tmp_path / "var",
        CELERY_BEAT_KEY_PREFIX=f"test-beat-{uuid.uuid4().hex[:8]}",
        BLOB_ROOT=str(tmp_path / "blobs"),
        OPS_REPORT_EMAILS=OPS,
        OPS_REPORT_TIME_ZONE="UTC",
        OPS_REPORT_SEND_AT="00:00",
        OPS_REPORT_CHECK_SECONDS="1",
    )


@contextmanager
def beat(environment: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`celery beat` as the Procfile starts it."""
    command = [sys.executable, "-m", "celery", "-A", "project", "beat", "--loglevel=INFO"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            process.send_signal(signal.SIGTERM)  # beat releases its lock
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def worker(environment: dict[str, str], log: Path) -> Iterator[CeleryWorker]:
    """A prefork worker with two processes, so two report tasks can run side by side."""
    running = CeleryWorker(environment, log, concurrency=2).start()
    try:
        yield running
    finally:
        running.stop()


def report_subjects(mail_dir: Path) -> list[str]:
    """Every message to the ops address (only the report goes there)."""
    return [to for path in mail_dir.glob("*.log") for to in TO_OPS.findall(path.read_text())]


def logs(*paths: Path) -> str:
    return "\n".join(f"--- {path.name}\n{path.read_text()}" for path in paths if path.exists())


def test_two_beats_for_the_same_day_deliver_exactly_one_report(environment: dict[str, str], tmp_path: Path) -> None:
    mail_dir = tmp_path / "mail"
    first_log, second_log, worker_log = tmp_path / "beat-1.log", tmp_path / "beat-2.log", tmp_path / "worker.log"
    with ExitStack() as running:
        workers = running.enter_context(worker(environment, worker_log))
        beats = [running.enter_context(beat(environment, log)) for log in (first_log, second_log)]
        try:
            wait_until(lambda: bool(report_subjects(mail_dir)), timeout=90, what="the daily report email")
            # Several more check intervals: a second report would have been sent by now.
            wait_until(lambda: _checks_logged(worker_log) >= 5, timeout=60, what="five more report checks")
        except ServerUnavailable:
            pytest.fail(f"no report:\n{logs(first_log, second_log, worker_log)}")
        assert workers.running(), logs(worker_log)
        assert all(process.poll() is None for process in beats), logs(first_log, second_log)

    assert len(report_subjects(mail_dir)) == 1, logs(first_log, second_log, worker_log)
    lock_holders = [log for log in (first_log, second_log) if "beat: Acquired lock" in log.read_text()]
    assert len(lock_holders) == 1, logs(first_log, second_log)
    assert list(ReportRunRow.objects.values_list("day", "status", "sends")) == [(_yesterday(), "sent", 1)]


def test_without_the_lock_the_database_still_lets_one_report_through(
    environment: dict[str, str], broker_url: str, tmp_path: Path
) -> None:
    """The report task enqueued eight times at once, run by two worker processes side by side."""
    mail_dir = tmp_path / "mail"
    worker_log = tmp_path / "worker.log"
    producer = Celery("producer", broker=broker_url, set_as_current=False)
    with worker(environment, worker_log) as workers:
        for _ in range(8):
            producer.send_task("api.tasks.report_daily")
        try:
            wait_until(lambda: _checks_logged(worker_log) >= 8, timeout=90, what="eight report tasks done")
        except ServerUnavailable:
            pytest.fail(f"the tasks did not all run:\n{logs(worker_log)}")
        assert workers.running(), logs(worker_log)

    assert len(report_subjects(mail_dir)) == 1, logs(worker_log)
    assert ReportRunRow.objects.count() == 1


def _checks_logged(worker_log: Path) -> int:
    """Report tasks that finished (succeeded: sent, or found nothing to send)."""
    text = worker_log.read_text() if worker_log.exists() else ""
    return len(re.findall(r"Task api\.tasks\.report_daily\[[^\]]+\] succeeded", text))


def _yesterday() -> date:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC).date() - timedelta(days=1)
