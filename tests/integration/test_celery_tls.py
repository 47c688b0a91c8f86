"""A rediss:// broker: a task message published over TLS is consumed over TLS, with the
options CELERY_BROKER_USE_SSL gets from REDIS_SSL_CERT_REQS / REDIS_SSL_CA_CERTS
(project/broker.py), on the TLS-only redis-server of test_redis_tls.py. No worker: a kombu
consumer reads the message as a worker's would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from kombu import Connection
from kombu.exceptions import OperationalError

from adapters.celery.events import NOTIFY_TASK
from project.broker import broker_use_ssl
from tests.harness.fixtures import started
from tests.integration.test_redis_tls import TlsRedis, _start

pytestmark = pytest.mark.integration

BROKER_DB = 13  # no other test uses 13 and 14


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    directory = tmp_path_factory.mktemp("celery-tls")
    process, server = started(lambda: _start(directory))
    yield server
    process.terminate()
    process.wait(timeout=10)


def tls_app(url: str, ssl_options: dict[str, Any] | None, queue: str) -> Celery:
    app = Celery("tls", broker=url, set_as_current=False)
    app.conf.broker_use_ssl = ssl_options
    app.conf.task_default_queue = queue
    app.conf.task_publish_retry = False
    return app


def consumed(url: str, ssl_options: dict[str, Any] | None, queue: str) -> tuple[str, dict[str, Any]]:
    with Connection(url, ssl=ssl_options) as conn, conn.SimpleQueue(queue) as simple:
        message = simple.get(timeout=5)
        _, kwargs, _ = message.decode()
        message.ack()
        return message.headers["task"], kwargs


@pytest.mark.parametrize(
    ("cert_reqs", "with_ca"), [("required", True), ("none", False)], ids=["verified against the CA", "cert_reqs none"]
)
def test_a_message_published_over_tls_is_consumed_over_tls(tls_redis: TlsRedis, cert_reqs: str, with_ca: bool) -> None:
    url, queue = tls_redis.url(BROKER_DB), f"tls-{uuid.uuid4().hex}"
    ca_file = str(tls_redis.ca_file) if with_ca else None
    options = broker_use_ssl(broker_url=url, ssl_cert_reqs=cert_reqs, ssl_ca_certs=ca_file)
    payload = {"kind": "BookingRequested", "ids": {"booking_id": str(uuid.uuid4())}}

    tls_app(url, options, queue).signature(NOTIFY_TASK, kwargs=payload).apply_async()

    assert consumed(url, options, queue) == (NOTIFY_TASK, payload)


def test_a_server_the_ca_does_not_vouch_for_is_refused(tls_redis: TlsRedis, tmp_path: Path) -> None:
    """cert_reqs=required really verifies: with only the system CAs, the test CA's server is refused.

    Another database number: kombu keeps producer pools per process keyed by the broker URL
    (not the TLS options), so this URL must not have been used with the CA before.
    """
    url = tls_redis.url(BROKER_DB + 1)
    options = broker_use_ssl(broker_url=url, ssl_cert_reqs="required", ssl_ca_certs=None)

    with pytest.raises(OperationalError, match="certificate verify failed"):
        tls_app(url, options, "never").signature(NOTIFY_TASK, kwargs={"kind": "k", "ids": {}}).apply_async()
