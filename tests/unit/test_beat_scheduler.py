"""project.beat: a tick that cannot reach Redis waits and tries again instead of ending beat."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery import Celery
from redis.backoff import NoBackoff
from redis.retry import Retry

from project.beat import REDIS_RETRY_SECONDS, ResilientRedBeatScheduler
from tests.harness.servers import LOOPBACK, free_port


@pytest.fixture
def app() -> Iterator[Celery]:
    """A beat's app whose Redis refuses connections (nothing listens on the port)."""
    app = Celery("beat-test", broker="memory://", set_as_current=False)
    app.conf.update(
        redbeat_redis_url=f"redis://{LOOPBACK}:{free_port()}/0",
        redbeat_redis_options={"socket_connect_timeout": 1.0, "retry": Retry(NoBackoff(), 0)},
        redbeat_key_prefix="beat-test",
        beat_schedule={"every-minute": {"task": "api.tasks.outbox_relay", "schedule": 60.0}},
    )
    yield app
    app.close()


def test_a_beat_started_while_redis_is_down_waits_for_it(app: Celery) -> None:
    scheduler = ResilientRedBeatScheduler(app=app)  # installs the schedule: Redis refuses

    assert scheduler.tick() == REDIS_RETRY_SECONDS
    assert scheduler.tick() == REDIS_RETRY_SECONDS  # and again, for as long as it takes


def test_a_beat_whose_lock_cannot_be_released_still_stops(app: Celery) -> None:
    scheduler = ResilientRedBeatScheduler(app=app)
    scheduler.lock = scheduler._new_lock()

    scheduler.close()

    assert scheduler.lock is None
