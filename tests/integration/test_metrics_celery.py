"""Celery task outcomes from a real prefork worker reach the web's /metrics (METRICS_EXTRA_DIRS).

The worker runs as the Procfile would, with PROMETHEUS_MULTIPROC_DIR in its
environment and the filesystem broker (no server). This test process plays the
web: it enqueues notify tasks that fail (an unknown event kind), then scrapes
its own /metrics, which adds the worker's directory in.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.deployment import PLAIN_HTTP_DEPLOYMENT
from tests.harness.servers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]
POOL = 2
FAILED = {"task": "api.tasks.notify", "outcome": "failure"}


@contextmanager
def worker(var_dir: Path, metrics_dir: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PROMETHEUS_", "METRICS_"))},
        **PLAIN_HTTP_DEPLOYMENT,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'worker.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "REDIS_URL": "",
        # The embedded adapters, whatever a stack run (python -m tests.harness) put in the environment.
        "SEARCH_BACKEND": "sqlite",
        "BLOB_BACKEND": "local",
        "VIEW_COUNTER_BACKEND": "orm",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    command = [sys.executable, "-m", "celery", "-A", "project", "worker", f"--concurrency={POOL}", "--loglevel=INFO"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=60)


def web_celery(var_dir: Path) -> Celery:
    """The web's Celery app on the worker's broker folders (project/settings.py's layout under VAR_DIR)."""
    queue = var_dir / "celery-broker"
    app = Celery("web", broker="filesystem://", set_as_current=False)
    app.conf.broker_transport_options = {
        "data_folder_in": str(queue / "queue"),
        "data_folder_out": str(queue / "queue"),
        "control_folder": str(queue / "control"),
        "store_processed": False,
    }
    return app


def scrape() -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = Client().get("/metrics")
    assert response.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.content.decode())
        for s in family.samples
    }


def value(name: str, **labels: str) -> float:
    return scrape().get((name, frozenset(labels.items())), 0.0)


def test_task_outcomes_of_every_pool_process_reach_the_web_scrape(settings: Any, tmp_path: Path) -> None:
    var_dir, worker_dir, web_dir = tmp_path / "var", tmp_path / "metrics-worker", tmp_path / "metrics-web"
    web_dir.mkdir()
    settings.PROMETHEUS_MULTIPROC_DIR = str(web_dir)  # the web's own (empty here) ...
    settings.METRICS_EXTRA_DIRS = [str(worker_dir)]  # ... plus the worker's
    log = tmp_path / "worker.log"

    with worker(var_dir, worker_dir, log) as process:
        wait_until(lambda: value("app_processes") == 1 + POOL, timeout=60, what=f"the worker and its pool ({log})")
        app = web_celery(var_dir)
        for _ in range(3):
            app.send_task("api.tasks.notify", kwargs={"kind": "NoSuchEvent", "ids": {}})
        wait_until(lambda: value("celery_tasks_total", **FAILED) == 3, timeout=60, what=f"3 failed tasks ({log})")
        assert value("celery_task_duration_seconds_count", task="api.tasks.notify") == 3
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)

    assert value("celery_tasks_total", **FAILED) == 3  # totals outlive the processes
    assert value("app_processes") == 0  # every process marked itself dead on the way out
