"""The metrics one process records, and who may read /metrics. (This test process runs prometheus_client
in single-process mode; several gunicorn workers: tests/integration/test_metrics_gunicorn.py.)"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.db import DatabaseError, connection
from django.test import Client
from prometheus_client import REGISTRY

from adapters.memory.cache import InMemoryResponseCache
from project.metrics import MeteredResponseCache, MultiProcessFiles, remove_files_of_dead_processes, sql_operation

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def increase(name: str, **labels: str) -> Callable[[], float]:
    """How much the sample grew since this call."""
    before = sample(name, **labels)
    return lambda: sample(name, **labels) - before


# --- HTTP ---------------------------------------------------------------------------------------


def test_a_request_is_counted_and_timed_by_its_route() -> None:
    counted = increase("http_requests_total", route="/api/v1/version/", method="GET", status="200")
    timed = increase("http_request_duration_seconds_count", route="/api/v1/version/", method="GET")

    Client().get("/api/v1/version/")

    assert counted() == 1
    assert timed() == 1


def test_the_route_is_the_pattern_not_the_path() -> None:
    route = "/api/v1/experts/<uuid:expert_id>/"
    counted = increase("http_requests_total", route=route, method="GET", status="404")

    for _ in range(3):
        Client().get(f"/api/v1/experts/{uuid.uuid4()}/")

    assert counted() == 3


def test_unmatched_paths_and_odd_methods_share_one_label_each() -> None:
    unmatched = increase("http_requests_total", route="<unmatched>", method="GET", status="404")
    odd = increase("http_requests_total", route="/api/v1/version/", method="other", status="405")

    Client().get(f"/no/such/{uuid.uuid4()}")
    Client().generic("BREW", "/api/v1/version/")

    assert unmatched() == 1
    assert odd() == 1


def test_probes_and_scrapes_are_not_counted() -> None:
    before = sum(sample("http_requests_total", route=r, method="GET", status="200") for r in ("<unmatched>",))

    Client().get("/healthz")
    Client().get("/metrics")

    assert sum(sample("http_requests_total", route=r, method="GET", status="200") for r in ("<unmatched>",)) == before
    assert sample("http_requests_in_progress") == 0


# --- the database --------------------------------------------------------------------------------


def test_queries_are_counted_by_operation_and_outcome() -> None:
    selects = increase("db_queries_total", alias="default", operation="select", outcome="ok")
    errors = increase("db_queries_total", alias="default", operation="select", outcome="error")

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        with pytest.raises(DatabaseError):
            cursor.execute("SELECT * FROM no_such_table")

    assert selects() == 1
    assert errors() == 1


@pytest.mark.parametrize(
    ("sql", "operation"),
    [
        ("SELECT 1", "select"),
        ("  insert into x values (1)", "insert"),
        ("(SELECT 1) UNION (SELECT 2)", "select"),
        ("SAVEPOINT s1", "savepoint"),
        ("VACUUM", "other"),
        ("", "other"),
    ],
)
def test_the_operation_label_is_the_first_keyword(sql: str, operation: str) -> None:
    assert sql_operation(sql) == operation


# --- the response cache --------------------------------------------------------------------------


def test_the_response_cache_counts_hits_misses_writes_and_invalidations_by_namespace_kind() -> None:
    cache = MeteredResponseCache(InMemoryResponseCache())
    expert = f"expert:{uuid.uuid4()}"
    hits = increase("response_cache_lookups_total", namespace="expert", result="hit")
    misses = increase("response_cache_lookups_total", namespace="expert", result="miss")
    writes = increase("response_cache_writes_total", namespace="expert")
    invalidations = increase("response_cache_invalidations_total", namespace="expert")

    assert cache.get(expert, "public") is None
    cache.set(expert, "public", {"id": 1})
    assert cache.get(expert, "public") == {"id": 1}
    cache.invalidate(expert)
    assert cache.get(expert, "public") is None

    assert (hits(), misses(), writes(), invalidations()) == (1, 2, 1, 1)


# --- Celery --------------------------------------------------------------------------------------


def test_celery_task_outcomes_are_counted() -> None:
    app = Celery(f"metrics-{uuid.uuid4().hex}", set_as_current=False)
    app.conf.task_always_eager = True

    @app.task(name="tests.metrics.ok")
    def ok() -> None:
        pass

    @app.task(name="tests.metrics.broken")
    def broken() -> None:
        raise RuntimeError("boom")

    @app.task(bind=True, name="tests.metrics.flaky", max_retries=1)
    def flaky(self: Any) -> None:
        raise self.retry(countdown=0, exc=RuntimeError("again"))

    successes = increase("celery_tasks_total", task="tests.metrics.ok", outcome="success")
    failures = increase("celery_tasks_total", task="tests.metrics.broken", outcome="failure")
    retries = increase("celery_tasks_total", task="tests.metrics.flaky", outcome="retry")
    retried_then_failed = increase("celery_tasks_total", task="tests.metrics.flaky", outcome="failure")
    timed = increase("celery_task_duration_seconds_count", task="tests.metrics.ok")

    ok.delay()
    ok.delay()
    broken.delay()
    assert flaky.apply().state == "FAILURE"  # one retry (eager: at once), then out of retries

    assert (successes(), failures(), retries(), retried_then_failed()) == (2, 1, 1, 1)
    assert timed() == 2


# --- who may scrape ------------------------------------------------------------------------------


def test_loopback_may_scrape() -> None:
    response = Client().get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"http_requests_total" in response.content


@pytest.mark.parametrize(
    "headers",
    [
        {"REMOTE_ADDR": "203.0.113.9"},
        {"HTTP_X_FORWARDED_FOR": "203.0.113.9"},  # relayed by nginx from the internet, though from loopback
    ],
)
def test_others_may_not_scrape(headers: dict[str, str]) -> None:
    response = Client().get("/metrics", **headers)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_with_a_token_only_the_token_may_scrape(settings: Any) -> None:
    settings.METRICS_TOKEN = "scrape-secret"

    assert Client().get("/metrics").status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    allowed = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret", REMOTE_ADDR="203.0.113.9")
    assert allowed.status_code == 200


# --- several processes ---------------------------------------------------------------------------

_COUNT_IN_ANOTHER_PROCESS = """
from prometheus_client import Counter
Counter("jobs_total", "Jobs.", ["kind"]).labels(kind="x").inc({n})
"""


def test_the_scrape_adds_up_every_process_of_every_directory(tmp_path: Path) -> None:
    """What METRICS_EXTRA_DIRS does: the web's and the worker's processes in one exposition."""
    web, worker = tmp_path / "web", tmp_path / "worker"
    for directory, counts in ((web, (1, 2)), (worker, (4,))):
        directory.mkdir()
        for n in counts:
            environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
            code = _COUNT_IN_ANOTHER_PROCESS.format(n=n)
            subprocess.run([sys.executable, "-c", code], env=environment, check=True, cwd=ROOT)

    samples = {
        (s.name, s.labels.get("kind")): s.value
        for m in MultiProcessFiles([str(web), str(worker)]).collect()
        for s in m.samples
    }

    assert samples[("jobs_total", "x")] == 7


def test_a_file_being_created_by_a_starting_process_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "counter_4242.db").touch()  # created, not yet sized: prometheus_client's window

    assert list(MultiProcessFiles([str(tmp_path)]).collect()) == []


def test_a_starting_worker_removes_the_files_of_dead_processes_only(tmp_path: Path) -> None:
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(finished.stdout), os.getpid()
    for name in (f"counter_{dead}.db", f"gauge_livesum_{dead}.db", f"counter_{alive}.db", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")

    remove_files_of_dead_processes(str(tmp_path))

    assert sorted(p.name for p in tmp_path.iterdir()) == [f"counter_{alive}.db", "notes.txt"]
