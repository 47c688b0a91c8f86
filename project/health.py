"""Liveness (/healthz) and readiness (/readyz) for load balancers and orchestrators.

/healthz answers ``{"status": "ok"}`` whenever the process can run Python: it
touches no database, cache or session, so a dependency outage never gets a
healthy process restarted. /readyz checks every dependency a request may
need, at once, each within READINESS_TIMEOUT_SECONDS:

    {"status": "ok" | "fail",
     "checks": {"<name>": {"ok": bool, "critical": bool, "ms": float, "error": "<class>: <message>"}}}

and answers 503 when a critical check fails (a load balancer then sends the
instance no traffic), 200 otherwise. The checks (internal addresses, error text)
go only to an operator, as /metrics does (project/access.py); anyone else gets
``{"status": ...}`` and the same status code, which is all a probe needs. Checks: ``database`` (SELECT 1 on the
primary), ``database:<alias>`` (each read replica; not critical: the router
falls back to the primary), ``cache``, ``broker``, ``search``, ``blobs``.
READINESS_NONCRITICAL_CHECKS lists the names reported without failing the probe.

ProjectEndpointsMiddleware (project/middleware.py) serves both before any other
middleware, so neither depends on the Host header, a session or CSRF.
Errors name the exception class and its first line, with any password in a
URL blanked: even an operator's copy must reveal no secret.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.http import HttpRequest, JsonResponse

from project.access import operator_allowed
from project.container import container

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], None]  # returns when the dependency answers, raises otherwise
    critical: bool = True


@dataclass(frozen=True)
class Outcome:
    ok: bool
    critical: bool
    ms: float
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": self.ok, "critical": self.critical, "ms": self.ms}
        if self.error is not None:
            body["error"] = self.error
        return body


class CheckFailed(Exception):
    """A dependency answered, but not as a working one would."""


# --- the endpoints -------------------------------------------------------------------------------


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. No dependency is touched."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: every dependency checked concurrently; 503 when a critical one fails."""
    outcomes = run_checks(readiness_checks(), timeout=settings.READINESS_TIMEOUT_SECONDS)
    failed = any(outcome.critical and not outcome.ok for outcome in outcomes.values())
    body: dict[str, Any] = {"status": "fail" if failed else "ok"}
    if operator_allowed(request):
        body["checks"] = {name: o.as_json() for name, o in outcomes.items()}
    response = JsonResponse(body, status=503 if failed else 200)
    response["Cache-Control"] = "no-store"
    if failed:
        # One warning naming the failures, instead of Django's error log (and Sentry event) per probe.
        logger.warning("Not ready: %s", ", ".join(f"{n} ({o.error})" for n, o in outcomes.items() if not o.ok))
        response._has_been_logged = True  # type: ignore[attr-defined]  # Django's own marker
    return response


# --- running checks ------------------------------------------------------------------------------


def run_checks(checks: list[Check], *, timeout: float) -> dict[str, Outcome]:
    """Run every check in a thread of its own (a greenlet under gevent), all within ``timeout`` seconds.

    A check still running at the deadline is reported as failed; its thread is
    left to finish on its own (the drivers' own timeouts bound it) and never
    delays the answer.
    """
    executor = ThreadPoolExecutor(max_workers=max(1, len(checks)), thread_name_prefix="readyz")
    try:
        futures = {check.name: executor.submit(_timed, check) for check in checks}
        wait(futures.values(), timeout=timeout)
        return {check.name: _outcome(check, futures[check.name], timeout) for check in checks}
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def _timed(check: Check) -> tuple[float, BaseException | None]:
    started = time.perf_counter()
    try:
        check.run()
        error = None
    except Exception as e:
        error = e
    finally:
        # This thread's own connections: a check must not leave one open per probe.
        connections.close_all()
    return (time.perf_counter() - started) * 1000, error


def _outcome(check: Check, future: Future[tuple[float, BaseException | None]], timeout: float) -> Outcome:
    critical = check.critical and check.name not in settings.READINESS_NONCRITICAL_CHECKS
    if not future.done():
        return Outcome(False, critical, round(timeout * 1000, 1), f"TimeoutError: no answer within {timeout:g} s")
    ms, error = future.result()
    if error is None:
        return Outcome(True, critical, round(ms, 1))
    return Outcome(False, critical, round(ms, 1), describe(error))


_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def describe(error: BaseException) -> str:
    """``<class>: <first line>``, shortened, with any ``user:password@`` of a URL blanked."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    message = _URL_CREDENTIALS.sub("***@", message)[:200]
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


# --- the checks ----------------------------------------------------------------------------------


def readiness_checks() -> list[Check]:
    """One check per dependency of this deployment, as settings configure it."""
    replicas = [alias for alias in settings.DATABASES if alias != "default"]
    return [
        Check("database", lambda: check_database("default")),
        *(Check(f"database:{alias}", _database_check(alias), critical=False) for alias in replicas),
        Check("cache", check_cache),
        Check("broker", check_broker),
        Check("search", lambda: container.search().ping()),
        Check("blobs", lambda: container.blobs().ping()),
    ]


def _database_check(alias: str) -> Callable[[], None]:
    return lambda: check_database(alias)


def check_database(alias: str) -> None:
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    """Write, read back and delete a key of its own.

    django-redis ignores a Redis outage (IGNORE_EXCEPTIONS: a get is a miss), so an
    unreachable cache shows here as the value not coming back.
    """
    cache = caches["default"]
    key, value = f"readyz:{uuid.uuid4().hex}", uuid.uuid4().hex
    cache.set(key, value, timeout=10)
    try:
        if cache.get(key) != value:
            raise CheckFailed("the cache did not return the value just written (unreachable?)")
    finally:
        cache.delete(key)


def check_broker() -> None:
    """Connect to the Celery broker (and, for the filesystem transport, find its folders writable)."""
    from kombu import Connection

    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    timeout = settings.READINESS_TIMEOUT_SECONDS
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=timeout, transport_options=options) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        if connection.transport_cls == "filesystem":
            _check_folders(options)


def _check_folders(options: dict[str, object]) -> None:
    for name in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = options.get(name)
        if folder is not None and not _writable(Path(str(folder))):
            raise CheckFailed(f"the broker's {name} is missing or not writable")


def _writable(folder: Path) -> bool:
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
