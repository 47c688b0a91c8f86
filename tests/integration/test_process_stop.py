"""Every process stops on SIGTERM within its grace period, leaves nothing behind, and loses no task.

Each process is started from its Procfile line through `/bin/sh -c`, in a session of
its own, as honcho and a PaaS start it (production settings, the live test database, a
Redis broker, the emails to an SMTP sink). Two ways to stop it:

- ``group``: SIGTERM to every process of the session at once (honcho, Heroku, piku);
- ``main``: SIGTERM to the main process only (systemd's KillMode=mixed).

Either way every process of the session must be gone within GRACE_SECONDS (a PaaS
sends SIGKILL after about 10 s). A worker stopped mid-task, or whose child was
SIGKILLed mid-task, hands the task back: the next worker delivers the email once.
`make serve` stopped with Ctrl-C or SIGTERM leaves no process of its tree.
docs/security.md ("Processes and outages") lists what these tests show.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from tests.harness.servers import LOOPBACK, free_port, wait_until
from tests.harness.smtp import SmtpSink
from tests.harness.worker import (
    ROOT,
    CeleryWorker,
    SessionProcess,
    WorkerRedis,
    alive,
    descendants,
    events_published_to,
    wait_for,
    worker_environment,
)
from tests.integration.test_celery_mail_delivery import EXPERT, published_expert, request_booking, subjects
from tests.test_project_files import procfile

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# A PaaS sends SIGKILL this long after SIGTERM (Heroku waits 30 s, piku and honcho less).
GRACE_SECONDS = 10
START_SECONDS = 90
EMAIL_TIMEOUT_SECONDS = 3
BIN = Path(sys.executable).parent
# What each Procfile process prints once it serves.
READY: dict[str, Callable[[str, int], bool]] = {
    "web": lambda output, port: live(port),
    "worker": lambda output, port: "ready." in output,
    "beat": lambda output, port: "beat: Acquired lock" in output,
}


def live(port: int) -> bool:
    """A gunicorn worker answers /healthz: the master listens before its workers have booted."""
    try:
        client = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
        client.request("GET", "/healthz")
        return client.getresponse().status == 200
    except OSError:
        return False


class ProcfileProcess(SessionProcess):
    """One Procfile line run by /bin/sh in a session of its own, as honcho runs it."""

    def start(self, name: str) -> ProcfileProcess:
        self.spawn(["/bin/sh", "-c", procfile()[name]])
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def members(self) -> set[int]:
        """Every live process of its session (the session's id is the first process's pid)."""
        return {pid for pid in session_members(self.pid) if alive(pid)}


def session_members(session: int) -> set[int]:
    found = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        with suppress(OSError):
            if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[3]) == session:
                found.add(int(entry))
    return found


def stop(process: ProcfileProcess, how: str) -> float:
    """SIGTERM as honcho/a PaaS (``group``) or systemd (``main``) sends it; seconds until the session is empty."""
    assert process.members(), process.output()
    started = time.monotonic()
    if how == "group":
        os.killpg(process.pid, signal.SIGTERM)
    else:
        os.kill(process.pid, signal.SIGTERM)
    with suppress(Exception):
        wait_until(lambda: not process.members(), timeout=3 * GRACE_SECONDS, what="every process gone")
    return time.monotonic() - started


@pytest.fixture
def environment(worker_redis: WorkerRedis, smtp_sink: SmtpSink, tmp_path: Path) -> dict[str, str]:
    return worker_environment(
        broker_url=worker_redis.broker_url,
        cache_url=worker_redis.cache_url,
        email_url=smtp_sink.url,
        var_dir=tmp_path / "var",
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",  # gunicorn and celery of this virtualenv
        PORT=str(free_port()),
        WEB_HOST=LOOPBACK,
        WEB_CONCURRENCY="1",
        CELERY_CONCURRENCY="1",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        CELERY_BEAT_KEY_PREFIX=f"test-stop-{free_port()}",
        # A child blocked in an SMTP exchange exits on SIGTERM only after closing the mail
        # connection with a QUIT the held server never answers: EMAIL_TIMEOUT_SECONDS later.
        EMAIL_TIMEOUT_SECONDS=str(EMAIL_TIMEOUT_SECONDS),
    )


@pytest.fixture
def web_events(worker_redis: WorkerRedis) -> Iterator[None]:
    with events_published_to(worker_redis.broker_url):
        yield


def started(name: str, environment: dict[str, str], log: Path) -> ProcfileProcess:
    process = ProcfileProcess(environment, log).start(name)
    port = int(environment["PORT"])
    wait_until(lambda: READY[name](process.output(), port) or not process.running(), timeout=START_SECONDS, what=name)
    assert process.running(), process.output()
    return process


@pytest.mark.parametrize("how", ["group", "main"])
@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_each_procfile_process_stops_on_sigterm_within_the_grace_period(
    name: str, how: str, environment: dict[str, str], tmp_path: Path
) -> None:
    process = started(name, environment, tmp_path / f"{name}.log")
    try:
        elapsed = stop(process, how)
        print(f"\n  {name} ({how} SIGTERM): every process gone in {elapsed:.1f}s")
        assert not process.members(), process.output()
        assert elapsed < GRACE_SECONDS, process.output()
    finally:
        process.stop()


def hold_a_notification(smtp_sink: SmtpSink) -> Callable[[], None]:
    """A booking's notify task running, its SMTP session held before RCPT is answered; returns the release."""
    hold = smtp_sink.hold("RCPT")
    request_booking(expert_id=published_expert(), client_name="Bob", topic="Stopped mid-task")
    hold.wait_reached(timeout=60)
    return hold.release


def delivered_once_by_a_new_worker(
    environment: dict[str, str], worker_redis: WorkerRedis, smtp_sink: SmtpSink, log: Path
) -> None:
    worker = CeleryWorker(environment, log).start()
    try:
        wait_for(lambda: smtp_sink.to(EXPERT), timeout=60, what="the handed-back email", worker=worker)
        worker_redis.wait_until_quiet(worker, quiet=2.0, timeout=60)
    finally:
        worker.stop()
    assert subjects(smtp_sink) == {"New booking request from Bob": 1}


@pytest.mark.usefixtures("web_events")
def test_a_worker_stopped_mid_task_exits_in_time_and_hands_the_task_back(
    environment: dict[str, str], worker_redis: WorkerRedis, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    worker = started("worker", environment, tmp_path / "worker.log")
    release = hold_a_notification(smtp_sink)
    try:
        elapsed = stop(worker, "group")
    finally:
        release()
        worker.stop()
    print(f"\n  worker stopped mid-task: every process gone in {elapsed:.1f}s")
    assert elapsed < GRACE_SECONDS, worker.output()
    assert not smtp_sink.to(EXPERT)

    delivered_once_by_a_new_worker(environment, worker_redis, smtp_sink, tmp_path / "worker-2.log")


@pytest.mark.usefixtures("web_events")
def test_a_worker_whose_child_was_killed_mid_task_exits_in_time_and_the_task_is_done_once(
    environment: dict[str, str], worker_redis: WorkerRedis, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    worker = started("worker", environment, tmp_path / "worker.log")
    release = hold_a_notification(smtp_sink)
    try:
        # The Procfile execs celery: the session's first process is the master, its child the pool's one.
        [child] = descendants(worker.pid)
        os.kill(child, signal.SIGKILL)
        release()
        elapsed = stop(worker, "main")
    finally:
        worker.stop()
    print(f"\n  worker whose child was killed: every process gone in {elapsed:.1f}s")
    assert elapsed < GRACE_SECONDS, worker.output()

    delivered_once_by_a_new_worker(environment, worker_redis, smtp_sink, tmp_path / "worker-2.log")


def make_serve(environment: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            ["make", "--no-print-directory", "serve", f"PORT={environment['PORT']}"],
            cwd=ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal of its own: Ctrl-C reaches make and honcho
        )


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_stopping_make_serve_leaves_no_process_behind(how: str, environment: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    make = make_serve(environment, log)
    try:
        wait_until(
            lambda: (
                all(line in log.read_text() for line in ("ready.", "beat: Acquired lock")) or make.poll() is not None
            ),
            timeout=START_SECONDS,
            what="web, worker and beat",
        )
        assert make.poll() is None, log.read_text()
        tree = descendants(make.pid)
        sessions = {make.pid, *tree}
        started_at = time.monotonic()
        if how == "ctrl-c":
            os.killpg(make.pid, signal.SIGINT)  # the terminal sends it to the foreground group
        else:
            make.terminate()
        make.wait(timeout=60)

        def left() -> set[int]:
            return {pid for pid in tree | {p for s in sessions for p in session_members(s)} if alive(pid)}

        with suppress(Exception):
            wait_until(lambda: not left(), timeout=60, what="every process gone")
        elapsed = time.monotonic() - started_at
    finally:
        with suppress(ProcessLookupError):
            os.killpg(make.pid, signal.SIGKILL)
    print(f"\n  make serve ({how}): {len(tree)} processes, all gone in {elapsed:.1f}s")
    assert len(tree) > 5, log.read_text()  # make, honcho, the three servers and their children
    assert not left(), log.read_text()
    # honcho SIGKILLs what is left 5 s after its SIGTERM; twice the grace period for a loaded machine.
    assert elapsed < 2 * GRACE_SECONDS, log.read_text()
