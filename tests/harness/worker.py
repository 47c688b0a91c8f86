"""A real Celery worker process for integration tests: `celery -A project worker`, as the Procfile starts it.

The worker runs with the production settings module (project.settings, not
tests.settings), configured only through its environment like a deployed one:
the live test database, a Redis broker database of its own, and the EMAIL_URL
the test gives. The test process plays the web process and publishes the tasks.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import redis
from celery import Celery

from project.cache import redis_url_with_db
from tests.harness.deployment import PLAIN_HTTP_DEPLOYMENT
from tests.harness.servers import ServerUnavailable, wait_until

ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_SECONDS = 30
# Celery's own log line for a task that raised Retry (celery/worker/request.py).
RETRY_LINE = re.compile(r"Task api\.tasks\.notify\[([0-9a-f-]+)\] retry: Retry in (\d+)s")
# kombu's Redis transport: the default queue is a list; a message a worker has taken
# but not yet acknowledged (running, or a retry waiting for its countdown) is in this hash.
QUEUE_KEY = "celery"
UNACKED_KEY = "unacked"


def live_database_url() -> str:
    """DATABASE_URL of the test database this test process uses (pytest-django's, not the default)."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def worker_environment(
    *, broker_url: str, email_url: str, var_dir: Path, cache_url: str = "", **extra: str
) -> dict[str, str]:
    """The environment of a deployed worker: production settings, the live test database."""
    return {
        **os.environ,
        **PLAIN_HTTP_DEPLOYMENT,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DATABASE_URL": live_database_url(),
        "DATABASE_POOL": "none",  # prefork processes, not greenlets
        "CELERY_BROKER_URL": broker_url,
        # Redis cache: the mailer's sent marks are shared by every worker process.
        "REDIS_URL": cache_url,
        "EMAIL_URL": email_url,
        "VAR_DIR": str(var_dir),
        **extra,
    }


@contextlib.contextmanager
def events_published_to(broker_url: str) -> Iterator[None]:
    """The use cases publish their events to this broker, as the web process does (tests.settings: memory)."""
    # Imported here: the fixtures plugin imports this module before Django is set up.
    from adapters.celery.events import CeleryEventPublisher
    from project.container import container

    web_app = Celery("web", broker=broker_url, set_as_current=False)
    with container.events.override(
        CeleryEventPublisher(app=web_app, uow=container.uow(), outbox=container.event_outbox())
    ):
        yield
    web_app.close()


@dataclass
class SessionProcess:
    """A server process of the product (worker, gunicorn, ...) in a session of its own, its
    output in ``log``; subclasses say how to start it."""

    environment: Mapping[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def spawn(self, command: list[str]) -> None:
        with self.log.open("wb") as output:
            # A session of its own: stop() can then end any child the main process left behind.
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=dict(self.environment),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        """SIGTERM (a graceful stop: what is in flight finishes), then SIGKILL whatever is left of the session."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        finally:
            with contextlib.suppress(ProcessLookupError):  # the whole session is gone already
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class CeleryWorker(SessionProcess):
    """One worker: ``pool`` prefork (production) or solo; ``concurrency`` child processes."""

    pool: str = "prefork"
    concurrency: int = 1

    def start(self) -> CeleryWorker:
        command = [sys.executable, "-m", "celery", "-A", "project", "worker", f"--pool={self.pool}"]
        command += [f"--concurrency={self.concurrency}", "--loglevel=INFO"]
        # Beyond the Procfile's line: no other worker to talk to, so skip the cluster chatter.
        command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.spawn(command)
        return self

    def children(self) -> list[int]:
        """The pool's child processes (the ones that run tasks), from /proc."""
        assert self.process is not None
        return [pid for pid, parent in _parents().items() if parent == self.process.pid]

    def retries(self) -> Counter[str]:
        """How many times each notify task (by task id) has been retried so far."""
        return Counter(task_id for task_id, _ in RETRY_LINE.findall(self.output()))


@dataclass
class CeleryBeat(SessionProcess):
    """`celery -A project beat`, as the Procfile starts it."""

    def start(self) -> CeleryBeat:
        self.spawn([sys.executable, "-m", "celery", "-A", "project", "beat", "--loglevel=INFO"])
        return self


@dataclass(frozen=True)
class WorkerRedis:
    """Two databases of one redis-server for a worker: its broker and its cache (the sent-mail marks)."""

    broker_url: str
    cache_url: str

    @classmethod
    def emptied(cls, server_url: str, *, broker_db: int, cache_db: int) -> WorkerRedis:
        """Flushed first: a message a previous test left (a retry, a redelivery) must not run in this one."""
        databases = cls(redis_url_with_db(server_url, broker_db), redis_url_with_db(server_url, cache_db))
        for url in (databases.broker_url, databases.cache_url):
            with redis.Redis.from_url(url) as client:
                client.flushdb()
        return databases

    def broker_drained(self) -> bool:
        with redis.Redis.from_url(self.broker_url) as client:
            return broker_drained(client)

    def wait_until_quiet(self, worker: CeleryWorker, *, quiet: float, timeout: float) -> None:
        """Until the broker has stayed drained for ``quiet`` seconds: no task can run again after that.

        One empty look is not enough: kombu takes a message off the queue (BRPOP)
        and then records it as unacknowledged (HSET), two steps with a moment between.
        """
        drained_since: float | None = None

        def settled() -> bool:
            nonlocal drained_since
            if not self.broker_drained():
                drained_since = None
                return False
            drained_since = drained_since or time.monotonic()
            return time.monotonic() - drained_since >= quiet

        wait_for(settled, timeout=timeout, what=f"a broker drained for {quiet:.0f}s", worker=worker)


def broker_drained(client: redis.Redis) -> bool:
    """No task queued, none taken and not yet acknowledged (with acks_late a message stays
    unacknowledged until its task returned; a retry is a new message, held until its countdown)."""
    return client.llen(QUEUE_KEY) == 0 and client.hlen(UNACKED_KEY) == 0


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, worker: CeleryWorker) -> None:
    """wait_until, failing with the worker's log (and if it died, saying so)."""
    try:
        wait_until(lambda: bool(condition()) or not worker.running(), timeout=timeout, what=what)
    except ServerUnavailable as error:
        raise AssertionError(f"{error}; the worker's log:\n{worker.output()}") from None
    if not worker.running():
        raise AssertionError(f"the worker exited while waiting for {what}; its log:\n{worker.output()}")


def descendants(pid: int) -> set[int]:
    """Every process under ``pid`` now."""
    parents = _parents()
    found: set[int] = set()
    generation = {pid}
    while generation:
        generation = {child for child, parent in parents.items() if parent in generation} - found
        found |= generation
    return found


def alive(pid: int) -> bool:
    """Still running: a zombie has exited, only its parent has yet to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _parents() -> dict[int, int]:
    """pid -> parent pid for every process (/proc/<pid>/stat; children files need CONFIG_PROC_CHILDREN)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # exited meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents
