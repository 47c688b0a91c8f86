"""project.redis_transport: an acknowledgement that cannot reach Redis still frees the worker's prefetch slot."""

from __future__ import annotations

from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from project.redis_transport import QoS


class _Channel:
    do_restore = False  # nothing to give back when the QoS is collected


class _UnreachablePipeline:
    def execute(self) -> None:
        raise RedisConnectionError("Redis went away")


def _unreachable(*args: Any, **kwargs: Any) -> _UnreachablePipeline:
    return _UnreachablePipeline()


def _refuse(*args: Any, **kwargs: Any) -> None:
    raise RedisConnectionError("Redis went away")


@pytest.fixture
def qos() -> QoS:
    """One message delivered to a worker process that may hold one (worker_prefetch_multiplier = 1)."""
    qos = QoS(_Channel(), prefetch_count=1)
    qos._quick_append("tag-1", object())
    assert not qos.can_consume()
    qos._remove_from_indices = _unreachable
    qos.restore_by_tag = _refuse
    return qos


def test_an_ack_that_cannot_reach_redis_frees_the_slot(qos: QoS) -> None:
    with pytest.raises(RedisConnectionError):
        qos.ack("tag-1")

    assert qos.can_consume()


@pytest.mark.parametrize("requeue", [True, False])
def test_a_rejection_that_cannot_reach_redis_frees_the_slot(qos: QoS, requeue: bool) -> None:
    with pytest.raises(RedisConnectionError):
        qos.reject("tag-1", requeue=requeue)

    assert qos.can_consume()
