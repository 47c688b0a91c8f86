"""Prometheus metrics: HTTP requests, database queries, the response cache, Celery tasks; GET /metrics.

Several processes serve the app (gunicorn workers, Celery pool processes), and a
scrape reaches one of them. prometheus_client's multiprocess mode makes every
process write its samples to files in PROMETHEUS_MULTIPROC_DIR, and /metrics
adds up the files of every process, live or dead: each scrape sees the same
totals whichever worker answers it. The library chooses the mode when it is
first imported, from the environment, so the variable must be set before the
process starts: gunicorn.conf.py sets a default (VAR_DIR/metrics/web) and
empties the directory when the master starts; the Celery worker needs it in
its environment (docs/operations.md). Without it each process counts alone
(fine for one process: runserver, tests).

Labels are bounded: a route is the URL pattern that matched (never the raw
path), a method outside the standard ones is "other", a cache namespace is its
kind (``expert`` for ``expert:<id>``), a query is its first SQL keyword.

/metrics answers only an operator (project/access.py, the rule /readyz's details
share): the bearer of METRICS_TOKEN, or without a token a client in
METRICS_ALLOWED_IPS (loopback by default). nginx also denies /metrics to the public.
"""

from __future__ import annotations

import contextlib
import glob
import os
import struct
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from api.errors import permission_denied
from domain.ports import ResponseCache
from project.access import operator_allowed
from project.version import __version__

# --- the metrics ---------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered, by URL pattern, method and status.", ["route", "method", "status"]
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request, by URL pattern and method.", ["route", "method"]
)
HTTP_IN_PROGRESS = Gauge("http_requests_in_progress", "HTTP requests being answered now.", multiprocess_mode="livesum")
DB_QUERIES = Counter(
    "db_queries_total",
    "SQL statements run, by database alias, first keyword and outcome.",
    ["alias", "operation", "outcome"],
)
DB_DURATION = Histogram(
    "db_query_duration_seconds",
    "Time a SQL statement took, by database alias and first keyword.",
    ["alias", "operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
CACHE_LOOKUPS = Counter(
    "response_cache_lookups_total", "Response cache reads, by namespace kind and hit or miss.", ["namespace", "result"]
)
CACHE_WRITES = Counter("response_cache_writes_total", "Response cache writes, by namespace kind.", ["namespace"])
CACHE_INVALIDATIONS = Counter(
    "response_cache_invalidations_total", "Response cache namespaces invalidated, by kind.", ["namespace"]
)
CACHE_DURATION = Histogram(
    "response_cache_duration_seconds",
    "Time a response cache operation took (an outage shows as socket timeouts here).",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
CELERY_TASKS = Counter(
    "celery_tasks_total",
    "Celery task runs finished, by task name and outcome (success, failure, retry).",
    ["task", "outcome"],
)
CELERY_DURATION = Histogram("celery_task_duration_seconds", "Time a Celery task run took, by task name.", ["task"])
PROCESSES = Gauge(
    "app_processes",
    "Live processes serving the app: gunicorn workers, Celery worker processes (the main one and its pool).",
    multiprocess_mode="livesum",
)
APP_INFO = Gauge(
    "app_info", "Always 1; the labels say which release runs.", ["version", "git_sha"], multiprocess_mode="livemax"
)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SQL_OPERATIONS = frozenset(
    {"select", "insert", "update", "delete", "with", "begin", "commit", "rollback", "savepoint", "release", "set"}
)
UNMATCHED = "<unmatched>"
READ_ATTEMPTS = 3


def mark_process_started() -> None:
    """This process counts as live in app_processes and app_info (again after a fork).

    Called where a process starts serving (the WSGI handler loading its middleware,
    a Celery worker starting), never on import: a management command or beat that
    exits without being marked dead must not stay counted as live.
    """
    PROCESSES.set(1)
    APP_INFO.labels(version=__version__, git_sha=settings.GIT_SHA).set(1)


# --- HTTP ----------------------------------------------------------------------------------------


class RequestMetricsMiddleware:
    """Counts and times every request, labelled by the URL pattern it matched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        mark_process_started()  # once per process: when the WSGI handler loads

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        HTTP_IN_PROGRESS.inc()
        try:
            response = self.get_response(request)
        finally:
            HTTP_IN_PROGRESS.dec()
        route, method = route_of(request), method_of(request)
        HTTP_DURATION.labels(route=route, method=method).observe(time.perf_counter() - started)
        HTTP_REQUESTS.labels(route=route, method=method, status=str(response.status_code)).inc()
        return response


def route_of(request: HttpRequest) -> str:
    """The matched URL pattern (``api/v1/experts/<uuid:expert_id>/``), never the raw path."""
    match = getattr(request, "resolver_match", None)
    return f"/{match.route}" if match is not None and match.route else UNMATCHED


def method_of(request: HttpRequest) -> str:
    return request.method if request.method in METHODS else "other"


# --- the database --------------------------------------------------------------------------------


def record_query(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Mapping[str, Any]) -> Any:
    """A Django execute wrapper: counts and times each statement."""
    alias, operation = context["connection"].alias, sql_operation(sql)
    started, outcome = time.perf_counter(), "error"
    try:
        result = execute(sql, params, many, context)
        outcome = "ok"
        return result
    finally:
        DB_DURATION.labels(alias=alias, operation=operation).observe(time.perf_counter() - started)
        DB_QUERIES.labels(alias=alias, operation=operation, outcome=outcome).inc()


def sql_operation(sql: str) -> str:
    first = sql.lstrip(" \t\r\n(").split(None, 1)[0].lower() if sql.strip() else ""
    return first if first in SQL_OPERATIONS else "other"


def _instrument_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    # Every new connection (a wrapper object lives per thread or greenlet and reconnects): wrapped once.
    if record_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(record_query)


# --- the response cache --------------------------------------------------------------------------


class MeteredResponseCache:
    """Implements ResponseCache around another one, counting hits, misses, writes and invalidations."""

    def __init__(self, inner: ResponseCache) -> None:
        self._inner = inner

    def get(self, namespace: str, key: str) -> Any | None:
        with _timed("get"):
            value = self._inner.get(namespace, key)
        CACHE_LOOKUPS.labels(namespace=namespace_kind(namespace), result="miss" if value is None else "hit").inc()
        return value

    def set(self, namespace: str, key: str, value: Any) -> None:
        with _timed("set"):
            self._inner.set(namespace, key, value)
        CACHE_WRITES.labels(namespace=namespace_kind(namespace)).inc()

    def invalidate(self, namespace: str) -> None:
        with _timed("invalidate"):
            self._inner.invalidate(namespace)
        CACHE_INVALIDATIONS.labels(namespace=namespace_kind(namespace)).inc()


def namespace_kind(namespace: str) -> str:
    """``expert:<id>`` -> ``expert``: one label value per kind, not per expert."""
    return namespace.split(":", 1)[0]


class _timed:
    def __init__(self, operation: str) -> None:
        self._operation = operation

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        CACHE_DURATION.labels(operation=self._operation).observe(time.perf_counter() - self._started)


# --- Celery --------------------------------------------------------------------------------------

_task_started: dict[str, float] = {}


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or "unknown")


def _on_task_prerun(sender: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    if task_id is not None:
        _task_started[task_id] = time.perf_counter()


def _on_task_postrun(sender: Any = None, task_id: str | None = None, **kwargs: Any) -> None:
    started = _task_started.pop(task_id, None) if task_id is not None else None
    if started is not None:
        CELERY_DURATION.labels(task=_task_name(sender)).observe(time.perf_counter() - started)


def _outcome_counter(outcome: str) -> Callable[..., None]:
    def count(sender: Any = None, **kwargs: Any) -> None:
        CELERY_TASKS.labels(task=_task_name(sender), outcome=outcome).inc()

    return count


def _on_worker_init(**kwargs: Any) -> None:
    """The Celery worker's main process, before its pool forks: a fresh start for its directory."""
    if settings.PROMETHEUS_MULTIPROC_DIR:
        remove_files_of_dead_processes(settings.PROMETHEUS_MULTIPROC_DIR)
    mark_process_started()


def remove_files_of_dead_processes(directory: str) -> None:
    """A previous run's files (their totals restart, as Prometheus expects); a running process's stay."""
    for path in glob.glob(os.path.join(directory, "*.db")):
        pid = os.path.basename(path)[: -len(".db")].rsplit("_", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _on_worker_process_init(**kwargs: Any) -> None:
    mark_process_started()  # a pool process forked from the worker: live under its own pid


def _on_worker_process_shutdown(pid: int | None = None, **kwargs: Any) -> None:
    _mark_dead(pid or os.getpid())


def _on_worker_shutdown(**kwargs: Any) -> None:
    _mark_dead(os.getpid())


def _mark_dead(pid: int) -> None:
    if settings.PROMETHEUS_MULTIPROC_DIR:
        mark_process_dead(pid, settings.PROMETHEUS_MULTIPROC_DIR)


def install() -> None:
    """Connect the database and Celery signal handlers (ProjectConfig.ready, once per process)."""
    from celery import signals

    connection_created.connect(_instrument_connection, dispatch_uid="experthub.metrics.db")
    signals.task_prerun.connect(_on_task_prerun, weak=False, dispatch_uid="experthub.metrics.prerun")
    signals.task_postrun.connect(_on_task_postrun, weak=False, dispatch_uid="experthub.metrics.postrun")
    for outcome, signal in (
        ("success", signals.task_success),
        ("failure", signals.task_failure),
        ("retry", signals.task_retry),
    ):
        signal.connect(_outcome_counter(outcome), weak=False, dispatch_uid=f"experthub.metrics.{outcome}")
    for signal, handler in (
        (signals.worker_init, _on_worker_init),
        (signals.worker_process_init, _on_worker_process_init),
        (signals.worker_process_shutdown, _on_worker_process_shutdown),
        (signals.worker_shutdown, _on_worker_shutdown),
    ):
        signal.connect(handler, weak=False, dispatch_uid=f"experthub.metrics.{handler.__name__}")


# --- GET /metrics --------------------------------------------------------------------------------


class MultiProcessFiles:
    """A collector of every process's samples in these directories (this host's web and worker processes)."""

    def __init__(self, directories: Iterable[str]) -> None:
        self._directories = [d for d in directories if d]

    def collect(self) -> Iterator[Metric]:
        for attempt in range(READ_ATTEMPTS):
            try:
                return iter(MultiProcessCollector.merge(self._files(), accumulate=True))
            except (struct.error, FileNotFoundError):
                # A process created (empty until it sizes it) or removed a file between the listing and the read.
                if attempt == READ_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _files(self) -> list[str]:
        files = []
        for directory in self._directories:
            for path in glob.glob(os.path.join(directory, "*.db")):
                with contextlib.suppress(FileNotFoundError):
                    if os.path.getsize(path) > 0:  # 0: its process is creating it, nothing is in it yet
                        files.append(path)
        return files


def scrape_registry() -> CollectorRegistry:
    """Every process's samples in multiprocess mode; this process's own otherwise."""
    if not settings.PROMETHEUS_MULTIPROC_DIR:
        return REGISTRY
    registry = CollectorRegistry()
    registry.register(MultiProcessFiles([settings.PROMETHEUS_MULTIPROC_DIR, *settings.METRICS_EXTRA_DIRS]))
    return registry


def metrics(request: HttpRequest) -> HttpResponse | JsonResponse:
    """The Prometheus text exposition, to an allowed scraper only."""
    if not operator_allowed(request):
        return permission_denied(request)
    response = HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
