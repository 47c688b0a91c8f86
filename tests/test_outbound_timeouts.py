"""Every outbound client has a finite timeout (docs/serving.md, "Outbound timeouts").

Under gevent, gunicorn's `timeout` does not cap a request: a call to a hung
server parks its greenlet for as long as the client lets it. Each test builds
the client the way the app does, from the settings, and reads the timeout back.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.core.mail import get_connection

from adapters.elasticsearch.client import make_client as make_elasticsearch
from adapters.redis.client import make_client as make_redis
from adapters.s3.client import make_client as make_s3
from project.cache import build_caches
from project.celery import app as celery_app
from project.database import DatabaseOptions, configure


def finite(seconds: float | None) -> bool:
    return seconds is not None and seconds > 0 and math.isfinite(seconds)


def test_postgresql_connect_statement_and_pool_waits_are_bounded() -> None:
    options = DatabaseOptions(
        pool="gevent",
        pool_max_connections=10,
        pool_timeout_seconds=10.0,
        connect_timeout_seconds=5,
        statement_timeout_ms=15000,
        conn_max_age=0,
        sqlite_busy_timeout_seconds=20,
        sqlite_test_name="unused",
    )

    database = configure({"ENGINE": "django.db.backends.postgresql", "NAME": "x"}, options)["OPTIONS"]

    assert database["connect_timeout"] == 5
    assert "-c statement_timeout=15000" in database["options"]
    assert database["POOL_TIMEOUT"] == 10.0


def test_redis_cache_and_counters_time_out() -> None:
    caches = build_caches(
        redis_url="redis://127.0.0.1:6379/0",
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT_SECONDS,
        ssl_cert_reqs="required",
        ssl_ca_certs=None,
    )
    client = make_redis(
        url="redis://127.0.0.1:6379/0",
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT_SECONDS,
        ssl_cert_reqs="required",
        ssl_ca_certs=None,
    )

    cache_options = caches["default"]["OPTIONS"]
    assert finite(cache_options["SOCKET_TIMEOUT"])
    assert finite(cache_options["SOCKET_CONNECT_TIMEOUT"])
    connection = client.connection_pool.connection_kwargs
    assert finite(connection["socket_timeout"])
    assert finite(connection["socket_connect_timeout"])


def test_s3_connect_and_read_time_out_with_bounded_retries() -> None:
    config = make_s3(
        endpoint_url="http://127.0.0.1:9",
        region="us-east-1",
        access_key_id="k",
        secret_access_key="s",
        timeout=settings.S3_TIMEOUT_SECONDS,
    ).meta.config

    assert finite(config.connect_timeout)
    assert finite(config.read_timeout)
    assert config.retries["total_max_attempts"] == 3


def test_elasticsearch_requests_time_out_and_are_not_retried_after_a_timeout() -> None:
    client = make_elasticsearch(
        url="http://127.0.0.1:9", api_key=None, ca_certs=None, timeout=settings.ELASTICSEARCH_TIMEOUT_SECONDS
    )

    assert finite(client._request_timeout)  # type: ignore[attr-defined]
    assert client._retry_on_timeout is False  # type: ignore[attr-defined]


def test_smtp_times_out() -> None:
    smtp = get_connection("django.core.mail.backends.smtp.EmailBackend")

    assert finite(settings.EMAIL_TIMEOUT)
    assert smtp.timeout == settings.EMAIL_TIMEOUT


def test_publishing_a_task_times_out_and_retries_a_bounded_number_of_times() -> None:
    conf = celery_app.conf

    assert finite(conf.broker_transport_options["socket_timeout"])
    assert finite(conf.broker_transport_options["socket_connect_timeout"])
    assert finite(conf.broker_connection_timeout)
    assert conf.task_publish_retry_policy["max_retries"] <= 3
