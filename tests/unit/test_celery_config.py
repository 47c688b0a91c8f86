"""The Celery reliability settings (docs/celery.md), read from the app the worker runs."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Task

from project.celery import app
from tests.harness.deployment import PLAIN_HTTP_DEPLOYMENT

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    app.loader.import_default_modules()  # what a worker imports: every app's tasks module
    found = [task for name, task in app.tasks.items() if not name.startswith("celery.")]
    assert found, "no project task registered"
    return found


def test_a_task_is_acknowledged_after_it_ran_and_given_back_when_its_worker_dies() -> None:
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_messages_are_json_only() -> None:
    assert app.conf.task_serializer == "json"
    assert list(app.conf.accept_content) == ["json"]


def test_results_are_not_stored() -> None:
    assert app.conf.task_ignore_result is True
    assert app.conf.result_backend is None


def test_every_task_has_soft_and_hard_time_limits(tasks: list[Task]) -> None:
    for task in tasks:
        soft, hard = _limits(task)
        assert 0 < soft < hard, task.name


def test_the_visibility_timeout_outlasts_every_delay_a_task_can_have(tasks: list[Task]) -> None:
    """Redis re-delivers an unacknowledged message after the visibility timeout: a retry
    waiting for its countdown, or a task still running, would then run twice."""
    visibility_timeout = app.conf.broker_transport_options["visibility_timeout"]

    for task in tasks:
        assert visibility_timeout > _longest_delay(task), task.name


def test_a_lost_acknowledgement_delays_a_task_by_minutes_not_an_hour() -> None:
    """A message whose acknowledgement never reached Redis (frozen, restarted) is handed out
    again once the visibility timeout has passed: a few minutes, swept every 10 s."""
    options = app.conf.broker_transport_options
    assert options["visibility_timeout"] <= 300
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 10


def test_the_worker_and_beat_reconnect_to_the_broker_for_ever() -> None:
    assert app.conf.broker_connection_retry is True
    assert app.conf.broker_connection_retry_on_startup is True
    assert app.conf.broker_connection_max_retries is None
    # Left to finish when the connection drops: its email goes out now, the rerun is skipped.
    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is False


def test_a_redis_broker_gets_the_outage_proof_beat_and_transport(tmp_path: Path) -> None:
    """From the environment, as a worker and beat read it (production settings, a fresh process)."""
    environment = {
        **os.environ,
        **PLAIN_HTTP_DEPLOYMENT,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "VAR_DIR": str(tmp_path),
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CELERY_BROKER_URL": "",
    }
    names = ("beat_scheduler", "broker_transport", "beat_max_loop_interval", "redbeat_lock_timeout")
    code = f"import django; django.setup(); from project.celery import app; print([app.conf[n] for n in {names}])"

    output = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    ).stdout
    scheduler, transport, loop_interval, lock_timeout = ast.literal_eval(output.strip().splitlines()[-1])

    assert scheduler == "project.beat:ResilientRedBeatScheduler"
    assert transport == "project.redis_transport:Transport"
    # The lock is renewed every tick, and beat sleeps at most the loop interval between ticks.
    assert 0 < loop_interval * 2 < lock_timeout


def _limits(task: Task) -> tuple[float, float]:
    return (task.soft_time_limit or app.conf.task_soft_time_limit, task.time_limit or app.conf.task_time_limit)


def _longest_delay(task: Task) -> float:
    """The longest a message of this task stays unacknowledged: a retry countdown or a run."""
    # Celery sets retry_backoff only on tasks declared with autoretry options.
    if getattr(task, "retry_backoff", False):
        # Exponential: factor * 2**retries, capped at retry_backoff_max.
        factor = 1 if task.retry_backoff is True else task.retry_backoff
        countdown = min(factor * 2 ** (task.max_retries or 0), task.retry_backoff_max)
    else:
        countdown = task.default_retry_delay
    return max(countdown, *_limits(task))


def test_a_report_attempt_holds_its_run_longer_than_the_task_may_live() -> None:
    """Past the hard time limit the worker process is killed: a lease that outlasts it
    means a run still held is held by a dead attempt, never by one still sending."""
    from api.tasks import REPORT_TIME_LIMIT, report_daily
    from services.reports import REPORT_LEASE

    assert report_daily.time_limit == REPORT_TIME_LIMIT
    assert REPORT_LEASE.total_seconds() > REPORT_TIME_LIMIT
