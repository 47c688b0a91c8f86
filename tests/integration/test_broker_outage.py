"""Real worker and beat processes through a real Redis broker outage: stopped, and frozen (SIGSTOP).

The worker (`celery -A project worker`, prefork) and beat (`celery -A project beat`,
RedBeat) run as the Procfile starts them, with the production settings, the live
test database and a redis-server of this test's own; the booking emails go to an
SMTP sink. docs/security.md ("Processes and outages") states what these tests show:

- Redis stopped for longer than any reconnect backoff, then restarted empty on the
  same port: beat and the worker are still running, beat schedules again, and the
  worker runs what it schedules and delivers a notification enqueued after it.
- Beat and the worker started while Redis is down wait for it, then work.
- Redis frozen while a notification task runs, its worker child killed meanwhile so
  the message cannot be given back: after SIGCONT the email goes out exactly once,
  within the visibility timeout (shortened here) plus a restore sweep.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from project.cache import redis_url_with_db
from tests.harness.servers import RedisServer
from tests.harness.smtp import SmtpSink
from tests.harness.worker import (
    CeleryBeat,
    CeleryWorker,
    WorkerRedis,
    events_published_to,
    wait_for,
    worker_environment,
)
from tests.integration.test_celery_mail_delivery import EXPERT, published_expert, request_booking, subjects

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Longer than every reconnect wait: kombu's longest (30 s) between the worker's
# attempts, beat's REDIS_RETRY_SECONDS (5 s); neither process has an attempt limit.
OUTAGE_SECONDS = 45
# Generous for a loaded machine: the worker's next attempt can be 30 s away.
RECOVERY_SECONDS = 120
# Shortened for the test (production: 300 s); the rule still holds for the notify task.
VISIBILITY_TIMEOUT_SECONDS = 20
RESTORE_SWEEP_SECONDS = 10  # unacked_restore_interval (project/settings.py)
FROZEN_SECONDS = 15
SANITY_MARGIN_SECONDS = 60
QUIET_SECONDS = 2.0
SENT_REPORT_CHECK = re.compile(r"Scheduler: Sending due task daily-report")
REPORT_CHECK_DONE = re.compile(r"Task api\.tasks\.report_daily\[[^\]]+\] succeeded")


@pytest.fixture
def broker(own_redis_server: RedisServer) -> WorkerRedis:
    return WorkerRedis(redis_url_with_db(own_redis_server.url, 0), redis_url_with_db(own_redis_server.url, 1))


@pytest.fixture
def environment(broker: WorkerRedis, smtp_sink: SmtpSink, tmp_path: Path) -> dict[str, str]:
    return worker_environment(
        broker_url=broker.broker_url,
        cache_url=broker.cache_url,
        email_url=smtp_sink.url,
        var_dir=tmp_path / "var",
        OPS_REPORT_CHECK_SECONDS="2",  # beat's proof of life: a report check every 2 s
        NOTIFY_RETRY_BACKOFF_MAX_SECONDS="4",
        CELERY_VISIBILITY_TIMEOUT_SECONDS=str(VISIBILITY_TIMEOUT_SECONDS),
    )


@pytest.fixture
def web_events(broker: WorkerRedis) -> Iterator[None]:
    with events_published_to(broker.broker_url):
        yield


@pytest.fixture
def worker(environment: dict[str, str], tmp_path: Path) -> Iterator[CeleryWorker]:
    running = CeleryWorker(environment, log=tmp_path / "worker.log", concurrency=1).start()
    yield running
    running.stop()


@pytest.fixture
def beat(environment: dict[str, str], tmp_path: Path) -> Iterator[CeleryBeat]:
    running = CeleryBeat(environment, log=tmp_path / "beat.log").start()
    yield running
    running.stop()


def count(pattern: re.Pattern[str], process: CeleryWorker | CeleryBeat) -> int:
    return len(pattern.findall(process.output()))


def both_logs(worker: CeleryWorker, beat: CeleryBeat) -> str:
    return f"--- worker\n{worker.output()}\n--- beat\n{beat.output()}"


@pytest.mark.usefixtures("web_events")
def test_beat_and_worker_ride_out_a_stopped_redis_and_resume_by_themselves(
    own_redis_server: RedisServer, smtp_sink: SmtpSink, worker: CeleryWorker, beat: CeleryBeat
) -> None:
    wait_for(lambda: count(REPORT_CHECK_DONE, worker) >= 1, timeout=90, what="a scheduled check run", worker=worker)
    port = own_redis_server.port

    own_redis_server.stop()  # connection refused; restarted below without its data (no persistence)
    deadline = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < deadline:
        assert worker.running(), both_logs(worker, beat)
        assert beat.running(), both_logs(worker, beat)
        time.sleep(1)
    sent, done = count(SENT_REPORT_CHECK, beat), count(REPORT_CHECK_DONE, worker)
    restarted = RedisServer(port=port).start()
    try:
        wait_for(
            lambda: count(SENT_REPORT_CHECK, beat) > sent and count(REPORT_CHECK_DONE, worker) > done,
            timeout=RECOVERY_SECONDS,
            what="beat scheduling and the worker running again",
            worker=worker,
        )
        request_booking(expert_id=published_expert(), client_name="Bob", topic="After the outage")
        wait_for(lambda: smtp_sink.to(EXPERT), timeout=60, what="the email enqueued after the outage", worker=worker)
        assert worker.running(), both_logs(worker, beat)
        assert beat.running(), both_logs(worker, beat)
    finally:
        restarted.stop()
    assert "Redis unreachable" in beat.output()
    # The restarted Redis had forgotten the lock: beat took it again rather than stand by.
    assert beat.output().count("beat: Acquired lock") == 2, beat.output()
    assert subjects(smtp_sink) == {"New booking request from Bob": 1}


def test_beat_and_worker_started_while_redis_is_down_wait_for_it(
    own_redis_server: RedisServer, environment: dict[str, str], tmp_path: Path
) -> None:
    port = own_redis_server.port
    own_redis_server.stop()
    worker = CeleryWorker(environment, log=tmp_path / "worker.log", concurrency=1).start()
    beat = CeleryBeat(environment, log=tmp_path / "beat.log").start()
    restarted: RedisServer | None = None
    try:
        wait_for(
            lambda: "Redis unreachable at start-up" in beat.output() and "Cannot connect" in worker.output(),
            timeout=90,
            what="both processes up, waiting for Redis",
            worker=worker,
        )
        assert beat.running(), both_logs(worker, beat)
        restarted = RedisServer(port=port).start()
        wait_for(
            lambda: count(REPORT_CHECK_DONE, worker) >= 1,
            timeout=RECOVERY_SECONDS,
            what="a check scheduled by beat and run by the worker",
            worker=worker,
        )
        assert beat.running(), both_logs(worker, beat)
    finally:
        worker.stop()
        beat.stop()
        if restarted is not None:
            restarted.stop()


@pytest.mark.usefixtures("web_events")
def test_a_task_caught_by_a_frozen_redis_is_delivered_once_soon_after_it_resumes(
    own_redis_server: RedisServer, smtp_sink: SmtpSink, worker: CeleryWorker, broker: WorkerRedis
) -> None:
    hold = smtp_sink.hold("RCPT")
    request_booking(expert_id=published_expert(), client_name="Bob", topic="Frozen broker")
    hold.wait_reached(timeout=60)

    own_redis_server.hang()
    try:
        # The child dies mid-task while Redis is frozen: the worker cannot give the message back.
        [child] = worker.children()
        os.kill(child, signal.SIGKILL)
        hold.release()
        time.sleep(FROZEN_SECONDS)
        assert worker.running(), worker.output()
    finally:
        own_redis_server.resume()
    resumed = time.monotonic()

    bound = VISIBILITY_TIMEOUT_SECONDS + RESTORE_SWEEP_SECONDS + SANITY_MARGIN_SECONDS
    wait_for(lambda: smtp_sink.to(EXPERT), timeout=bound, what="the email after the freeze", worker=worker)
    print(f"\n  delivered {time.monotonic() - resumed:.1f}s after Redis resumed")
    broker.wait_until_quiet(worker, quiet=QUIET_SECONDS, timeout=bound)
    assert subjects(smtp_sink) == {"New booking request from Bob": 1}
