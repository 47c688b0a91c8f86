"""kombu's Redis transport, with acknowledgements that cannot wedge a worker.

kombu frees a worker's prefetch slot only after the acknowledgement (or the
rejection) of a message reached Redis. When Redis times out or drops the
connection at that moment (frozen, restarting), the slot stays taken for the life
of the connection: with ``worker_prefetch_multiplier = 1`` a worker child loses its
slot for good, and a worker of one process stops consuming while looking healthy.
Here the slot is freed whatever Redis answered; the message stays in Redis's
unacknowledged set and is handed out again after the visibility timeout
(docs/celery.md, "The visibility timeout rule"), where the idempotency keys make a rerun harmless.

Settings select it for a redis:// or rediss:// broker (``CELERY_BROKER_TRANSPORT``).
"""

from __future__ import annotations

from kombu.transport import redis


class QoS(redis.QoS):  # type: ignore[misc]  # kombu has no type hints
    def ack(self, delivery_tag: str) -> None:
        try:
            super().ack(delivery_tag)
        finally:
            self._quick_ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        try:
            super().reject(delivery_tag, requeue=requeue)
        finally:
            self._quick_ack(delivery_tag)


class Channel(redis.Channel):  # type: ignore[misc]
    QoS = QoS


class Transport(redis.Transport):  # type: ignore[misc]
    Channel = Channel
