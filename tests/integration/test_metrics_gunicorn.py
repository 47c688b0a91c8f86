"""/metrics under the Procfile's web command: several gevent workers, one set of totals.

Gunicorn runs gunicorn.conf.py as deployed (its on_starting sets and empties the
multiprocess directory, its child_exit marks dead workers). Which worker accepts
a connection is the kernel's choice, so the test chooses instead: it freezes
every worker but one (SIGSTOP) while clients send that worker its share of the
N requests, and again while it scrapes. Every scrape, whichever worker answers
it, must report exactly N, though each worker served only its share. Then a
worker is killed: its counts stay, its live gauges go (mark_process_dead), and
the replacement worker counts as live.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.deployment import PLAIN_HTTP_DEPLOYMENT
from tests.harness.servers import LOOPBACK, free_port, wait_until
from tests.harness.web import gunicorn_serving, only, worker_pids

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
CLIENTS, REQUESTS_EACH = 4, 25  # per worker
REQUESTS = WORKERS * CLIENTS * REQUESTS_EACH
ROUTE = {"route": "/api/v1/version/", "method": "GET", "status": "200"}


@contextmanager
def gunicorn(var_dir: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    port = free_port()
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("GUNICORN_", "PROMETHEUS_", "METRICS_"))},
        **PLAIN_HTTP_DEPLOYMENT,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "VAR_DIR": str(var_dir),  # its own SQLite database, and the default metrics directory under it
        "DATABASE_URL": f"sqlite:///{var_dir / 'web.sqlite3'}",
        "REDIS_URL": "",
        # The embedded adapters, whatever a stack run (python -m tests.harness) put in the environment.
        "SEARCH_BACKEND": "sqlite",
        "BLOB_BACKEND": "local",
        "VIEW_COUNTER_BACKEND": "orm",
        "WEB_CONCURRENCY": str(WORKERS),
        "PORT": str(port),
        "WEB_HOST": LOOPBACK,
    }
    with gunicorn_serving(environment, port) as process:
        yield process, port


def get(port: int, path: str, connection: http.client.HTTPConnection | None = None) -> tuple[int, str]:
    client = connection or http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    client.request("GET", path)
    response = client.getresponse()
    body = response.read().decode()
    if connection is None:
        client.close()
    return response.status, body


def send_requests(port: int, clients: int = CLIENTS) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(LOOPBACK, port, timeout=30)  # keep-alive: one worker per client
        for _ in range(REQUESTS_EACH):
            status, _ = get(port, "/api/v1/version/", connection)
            with lock:
                statuses.append(status)
        connection.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of one scrape (a new connection each time, so any worker may answer)."""
    status, text = get(port, "/metrics")
    assert status == 200, text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def own_count(metrics_dir: Path, pid: int) -> float:
    """The requests one worker counted, from its own file alone."""
    families = MultiProcessCollector.merge([str(metrics_dir / f"counter_{pid}.db")], accumulate=True)
    return sum(s.value for f in families for s in f.samples if s.name == "http_requests_total" and s.labels == ROUTE)


def test_every_scrape_reports_the_totals_of_every_worker_and_a_dead_worker_stays_counted(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "var" / "metrics" / "web"
    metrics_dir.mkdir(parents=True)
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from a previous run")

    with gunicorn(tmp_path / "var") as (master, port):
        assert not (metrics_dir / "counter_999999.db").exists()  # emptied at start
        wait_until(lambda: value(scrape(port), "app_processes") == WORKERS, timeout=30, what="every worker to boot")
        workers = worker_pids(master)
        for worker in workers:
            with only(master, worker):
                assert send_requests(port) == [200] * (REQUESTS // WORKERS)
        assert {own_count(metrics_dir, pid) for pid in workers} == {REQUESTS // WORKERS}

        for worker in workers:
            with only(master, worker):
                for _ in range(3):
                    samples = scrape(port)
                    assert value(samples, "http_requests_total", **ROUTE) == REQUESTS
                    duration = value(samples, "http_request_duration_seconds_count", route=ROUTE["route"], method="GET")
                    assert duration == REQUESTS
                    assert value(samples, "app_processes") == WORKERS

        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: victim not in worker_pids(master) and len(worker_pids(master)) == WORKERS,
            timeout=30,
            what="a replacement worker",
        )
        wait_until(lambda: value(scrape(port), "app_processes") == WORKERS, timeout=30, what="the new worker to boot")

        for worker in worker_pids(master):
            with only(master, worker):
                samples = scrape(port)
                assert value(samples, "http_requests_total", **ROUTE) == REQUESTS  # the dead worker's counts stay
                assert value(samples, "app_processes") == WORKERS  # its live gauge went with it
                assert value(samples, "http_requests_in_progress") == 0
        assert not list(metrics_dir.glob(f"gauge_live*_{victim}.db"))
