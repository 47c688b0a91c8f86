"""The composition root: the ONE place that picks an adapter for each port.

Each port is a ``providers.Selector`` keyed by a setting (REPOSITORY_BACKEND,
SEARCH_BACKEND, SEARCH_SYNC, BLOB_BACKEND, EVENTS_BACKEND). Each use case is a
``providers.Callable`` with its ports bound, so an entrypoint calls
``booking_accept(actor=..., booking_id=...)`` and never sees an adapter.

Entrypoints (DRF views, management commands) receive use cases with
``@inject`` and ``Provider["booking_accept"]`` (string ids, so they do not
import this module); calling the injected provider with the inputs merges in
the bound ports. Tests swap a port with ``container.<port>.override(fake)``
used as a context manager, which always resets.

Adapters never connect at import time: a client is made when its provider
is first resolved.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from dependency_injector import containers, providers
from django.conf import settings

from adapters.clock import SystemClock
from adapters.local.blobs import LocalBlobStore
from adapters.local.events import LoggingEventPublisher
from adapters.local.search import SqliteSearchIndex
from adapters.memory.blobs import InMemoryBlobStore
from adapters.memory.events import InMemoryEventPublisher
from adapters.memory.repositories import (
    InMemoryBookingRepository,
    InMemoryExpertRepository,
    InMemoryReviewRepository,
    InMemoryUserRepository,
)
from adapters.memory.search import InMemorySearchIndex
from adapters.memory.store import MemoryDatabase, MemoryUnitOfWork
from adapters.orm.repositories import (
    DjangoBookingRepository,
    DjangoExpertRepository,
    DjangoReviewRepository,
    DjangoUnitOfWork,
    DjangoUserRepository,
)
from services import accounts as account_use_cases
from services import avatars as avatar_use_cases
from services import bookings as booking_use_cases
from services import experts as expert_use_cases
from services import notifications as notification_use_cases
from services import pages as page_use_cases
from services import profile_views as profile_view_use_cases
from services import report_rendering as rendering_use_cases
from services import reports as report_use_cases
from services import retention as retention_use_cases
from services import reviews as review_use_cases


def lazy(target: str) -> Callable[..., Any]:
    """A factory for "module:attribute", imported on first use: a driver (boto3,
    elasticsearch, redis, psycopg2) is only imported when its adapter is selected."""

    def create(*args: Any, **kwargs: Any) -> Any:
        module, _, name = target.partition(":")
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    create.__qualname__ = f"lazy({target})"
    return create


class Container(containers.DeclarativeContainer):
    config = providers.Configuration(strict=True)

    # --- ports ---------------------------------------------------------------
    clock = providers.Singleton(SystemClock)
    memory_database = providers.Singleton(MemoryDatabase)

    uow = providers.Selector(
        config.repository_backend,
        orm=providers.Singleton(DjangoUnitOfWork),
        memory=providers.Singleton(MemoryUnitOfWork, memory_database),
    )
    users = providers.Selector(
        config.repository_backend,
        orm=providers.Singleton(DjangoUserRepository),
        memory=providers.Singleton(InMemoryUserRepository, memory_database),
    )
    experts = providers.Selector(
        config.repository_backend,
        orm=providers.Singleton(DjangoExpertRepository),
        memory=providers.Singleton(InMemoryExpertRepository, memory_database),
    )
    bookings = providers.Selector(
        config.repository_backend,
        orm=providers.Singleton(DjangoBookingRepository),
        memory=providers.Singleton(InMemoryBookingRepository, memory_database),
    )
    reviews = providers.Selector(
        config.repository_backend,
        orm=providers.Singleton(DjangoReviewRepository),
        memory=providers.Singleton(InMemoryReviewRepository, memory_database),
    )
    # --- clients of external services (made on first use, never at import) ---
    redis_client = providers.Singleton(
        lazy("adapters.redis.client:make_client"),
        url=config.redis.url,
        socket_timeout=config.redis.socket_timeout,
        ssl_cert_reqs=config.redis.ssl_cert_reqs,
        ssl_ca_certs=config.redis.ssl_ca_certs,
        breaker_seconds=config.redis.breaker_seconds,
    )
    elasticsearch_client = providers.Singleton(
        lazy("adapters.elasticsearch.client:make_client"),
        url=config.elasticsearch.url,
        api_key=config.elasticsearch.api_key,
        ca_certs=config.elasticsearch.ca_certs,
        timeout=config.elasticsearch.timeout,
    )
    s3_client = providers.Singleton(
        lazy("adapters.s3.client:make_client"),
        endpoint_url=config.s3.endpoint_url,
        region=config.s3.region,
        access_key_id=config.s3.access_key_id,
        secret_access_key=config.s3.secret_access_key,
        addressing_style=config.s3.addressing_style,
        timeout=config.s3.timeout,
    )

    search = providers.Selector(
        config.search_backend,
        sqlite=providers.Singleton(SqliteSearchIndex),
        postgres=providers.Singleton(lazy("adapters.orm.search:PostgresSearchIndex")),
        elasticsearch=providers.Singleton(
            lazy("adapters.elasticsearch.search:ElasticsearchSearchIndex"),
            client=elasticsearch_client,
            index=config.elasticsearch.index,
        ),
        memory=providers.Singleton(InMemorySearchIndex),
    )
    # What the use cases that change a profile write to (SEARCH_SYNC). inline: the index
    # itself, written inside their transaction (right for the database-backed indexes).
    # task: writes become search_sync tasks after the commit, searches still go to the
    # index (an external index: Elasticsearch). Reads, rebuilds and the sync and
    # reconcile tasks themselves always use ``search``.
    search_writer = providers.Selector(
        config.search_sync,
        inline=search,
        task=providers.Singleton(
            lazy("adapters.celery.search:CelerySearchSync"),
            index=search,
            uow=uow,
            publish_timeout=config.queue.publish_timeout,
        ),
    )
    blobs = providers.Selector(
        config.blob_backend,
        local=providers.Singleton(
            LocalBlobStore, root=config.blob_root, base_url=config.public_base_url, secret=config.secret_key
        ),
        s3=providers.Singleton(lazy("adapters.s3.blobs:S3BlobStore"), client=s3_client, bucket=config.s3.bucket),
        memory=providers.Singleton(InMemoryBlobStore),
    )
    uploads = providers.Selector(
        config.repository_backend,
        orm=providers.Singleton(lazy("adapters.orm.uploads:DjangoUploadRepository")),
        memory=providers.Singleton(lazy("adapters.memory.repositories:InMemoryUploadRepository"), memory_database),
    )
    images = providers.Singleton(lazy("adapters.images.pillow:PillowImageProbe"), max_pixels=config.image_max_pixels)
    view_counter = providers.Selector(
        config.view_counter_backend,
        orm=providers.Singleton(lazy("adapters.orm.counters:DjangoExpertViewCounter")),
        redis=providers.Singleton(lazy("adapters.redis.counters:RedisExpertViewCounter"), client=redis_client),
        memory=providers.Singleton(lazy("adapters.memory.counters:InMemoryExpertViewCounter")),
    )
    # Searched skills, counted for the daily report.
    search_log = providers.Selector(
        config.repository_backend,
        orm=providers.Singleton(lazy("adapters.orm.reports:DjangoSearchLog")),
        memory=providers.Singleton(lazy("adapters.memory.reports:InMemorySearchLog"), memory_database),
    )
    response_cache = providers.Selector(
        config.response_cache_backend,
        # Counted (hits, misses, writes, invalidations) for /metrics.
        django=providers.Singleton(
            lazy("project.metrics:MeteredResponseCache"),
            providers.Singleton(
                lazy("adapters.django_cache.responses:DjangoResponseCache"),
                version=config.app_version,
                timeout=config.response_cache_seconds,
            ),
        ),
        memory=providers.Singleton(lazy("adapters.memory.cache:InMemoryResponseCache")),
    )
    # The transactional outbox: events are rows of the use case's transaction, sent after
    # its commit, and by the outbox_relay task when that send did not happen.
    event_outbox = providers.Singleton(lazy("adapters.celery.outbox:DjangoEventOutbox"))
    events = providers.Selector(
        config.events_backend,
        log=providers.Singleton(LoggingEventPublisher, uow=uow),
        memory=providers.Singleton(InMemoryEventPublisher, uow=uow),
        celery=providers.Singleton(
            lazy("adapters.celery.events:CeleryEventPublisher"),
            uow=uow,
            outbox=event_outbox,
            publish_timeout=config.queue.publish_timeout,
        ),
    )
    outbox_relay = providers.Callable(
        lazy("adapters.celery.events:outbox_relay"), outbox=event_outbox, publish_timeout=config.queue.publish_timeout
    )

    # --- use cases -------------------------------------------------------------
    account_register = providers.Callable(
        account_use_cases.account_register, users=users, uow=uow, clock=clock, events=events
    )
    user_get = providers.Callable(account_use_cases.user_get, users=users)

    expert_create = providers.Callable(
        expert_use_cases.expert_create,
        experts=experts,
        users=users,
        uow=uow,
        clock=clock,
        events=events,
        response_cache=response_cache,
    )
    expert_update = providers.Callable(
        expert_use_cases.expert_update,
        experts=experts,
        search=search_writer,
        uow=uow,
        clock=clock,
        events=events,
        response_cache=response_cache,
    )
    expert_publish = providers.Callable(
        expert_use_cases.expert_publish,
        experts=experts,
        users=users,
        search=search_writer,
        uow=uow,
        clock=clock,
        events=events,
        response_cache=response_cache,
    )
    expert_suspend = providers.Callable(
        expert_use_cases.expert_suspend,
        experts=experts,
        users=users,
        search=search_writer,
        uow=uow,
        clock=clock,
        events=events,
        response_cache=response_cache,
    )
    expert_reinstate = providers.Callable(
        expert_use_cases.expert_reinstate,
        experts=experts,
        users=users,
        search=search_writer,
        uow=uow,
        clock=clock,
        events=events,
        response_cache=response_cache,
    )
    expert_get = providers.Callable(expert_use_cases.expert_get, experts=experts, users=users)
    expert_get_mine = providers.Callable(expert_use_cases.expert_get_mine, experts=experts)
    expert_search = providers.Callable(expert_use_cases.expert_search, experts=experts, search=search)
    expert_avatar_urls = providers.Callable(expert_use_cases.expert_avatar_urls, blobs=blobs)
    expert_reindex_all = providers.Callable(
        expert_use_cases.expert_reindex_all, experts=experts, search=search, uow=uow, response_cache=response_cache
    )
    expert_search_page = providers.Callable(
        page_use_cases.expert_search_page,
        experts=experts,
        search=search,
        response_cache=response_cache,
        search_log=search_log,
        clock=clock,
    )
    expert_profile_page = providers.Callable(
        page_use_cases.expert_profile_page,
        experts=experts,
        users=users,
        response_cache=response_cache,
        view_counter=view_counter,
        clock=clock,
    )
    expert_record_view = providers.Callable(
        profile_view_use_cases.expert_record_view, view_counter=view_counter, clock=clock
    )
    expert_trending = providers.Callable(
        profile_view_use_cases.expert_trending, view_counter=view_counter, experts=experts, clock=clock
    )

    avatar_upload_start = providers.Callable(
        avatar_use_cases.avatar_upload_start, experts=experts, uploads=uploads, blobs=blobs, clock=clock
    )
    avatar_upload_confirm = providers.Callable(
        avatar_use_cases.avatar_upload_confirm,
        experts=experts,
        uploads=uploads,
        blobs=blobs,
        images=images,
        uow=uow,
        clock=clock,
        events=events,
        response_cache=response_cache,
    )

    booking_request = providers.Callable(
        booking_use_cases.booking_request, bookings=bookings, experts=experts, uow=uow, clock=clock, events=events
    )
    booking_get = providers.Callable(booking_use_cases.booking_get, bookings=bookings)
    booking_list_mine = providers.Callable(booking_use_cases.booking_list_mine, bookings=bookings)
    booking_accept = providers.Callable(
        booking_use_cases.booking_accept, bookings=bookings, experts=experts, uow=uow, clock=clock, events=events
    )
    booking_decline = providers.Callable(
        booking_use_cases.booking_decline, bookings=bookings, uow=uow, clock=clock, events=events
    )
    booking_cancel = providers.Callable(
        booking_use_cases.booking_cancel, bookings=bookings, uow=uow, clock=clock, events=events
    )
    booking_complete = providers.Callable(
        booking_use_cases.booking_complete, bookings=bookings, uow=uow, clock=clock, events=events
    )

    search_rebuild = providers.Callable(
        expert_use_cases.search_rebuild, experts=experts, search=search, uow=uow, response_cache=response_cache
    )
    expert_index_sync = providers.Callable(
        expert_use_cases.expert_index_sync, experts=experts, search=search, response_cache=response_cache
    )
    search_reconcile = providers.Callable(
        expert_use_cases.search_reconcile, experts=experts, search=search, response_cache=response_cache
    )
    review_create = providers.Callable(
        review_use_cases.review_create,
        reviews=reviews,
        bookings=bookings,
        experts=experts,
        search=search_writer,
        uow=uow,
        clock=clock,
        events=events,
        response_cache=response_cache,
    )
    review_list_for_expert = providers.Callable(
        review_use_cases.review_list_for_expert, reviews=reviews, experts=experts
    )

    # --- daily ops report ------------------------------------------------------
    report_source = providers.Selector(
        config.repository_backend,
        orm=providers.Singleton(lazy("adapters.orm.reports:DjangoReportSource")),
        memory=providers.Singleton(lazy("adapters.memory.reports:InMemoryReportSource"), memory_database),
    )
    report_compute = providers.Callable(report_use_cases.report_compute, source=report_source)
    trend_chart = providers.Selector(
        config.chart_backend,
        matplotlib=providers.Singleton(lazy("adapters.charts.matplotlib:MatplotlibTrendChart")),
        memory=providers.Singleton(lazy("adapters.memory.charts:InMemoryTrendChart")),
    )
    report_render = providers.Callable(rendering_use_cases.report_render, chart=trend_chart)

    # --- notifications (sent by tasks after commit: next session) --------------
    mailer = providers.Selector(
        config.mailer_backend,
        django=providers.Singleton(lazy("adapters.django_mail.mailer:DjangoMailer")),
        memory=providers.Singleton(lazy("adapters.memory.mail:InMemoryMailer"), clock=clock),
    )
    notification_for_event = providers.Callable(
        notification_use_cases.notification_for_event,
        users=users,
        experts=experts,
        bookings=bookings,
        reviews=reviews,
        mailer=mailer,
    )
    notification_messages = providers.Callable(
        notification_use_cases.notification_messages, users=users, experts=experts, bookings=bookings, reviews=reviews
    )

    # --- daily ops report delivery ---------------------------------------------
    report_runs = providers.Selector(
        config.repository_backend,
        orm=providers.Singleton(lazy("adapters.orm.reports:DjangoReportRunRepository")),
        memory=providers.Singleton(lazy("adapters.memory.reports:InMemoryReportRunRepository"), memory_database),
    )
    report_schedule = providers.Singleton(
        report_use_cases.ReportSchedule,
        tz=config.report.tz,
        send_at=config.report.send_at,
        recipients=config.report.recipients,
        report_url=config.report.url,
    )
    report_send = providers.Callable(
        report_use_cases.report_send,
        runs=report_runs,
        source=report_source,
        search_log=search_log,
        chart=trend_chart,
        blobs=blobs,
        mailer=mailer,
        clock=clock,
        schedule=report_schedule,
    )
    report_yesterday = providers.Callable(report_use_cases.report_yesterday, clock=clock, schedule=report_schedule)
    report_send_due = providers.Callable(
        report_use_cases.report_send_due, clock=clock, schedule=report_schedule, send=report_send.provider
    )
    records_prune = providers.Callable(
        retention_use_cases.records_prune, mailer=mailer, search_log=search_log, uploads=uploads, clock=clock
    )
    report_list = providers.Callable(report_use_cases.report_list, runs=report_runs, users=users)
    report_get = providers.Callable(report_use_cases.report_get, runs=report_runs, blobs=blobs, users=users)


def settings_config() -> dict[str, Any]:
    """The container's configuration, read from Django settings (themselves from the environment)."""
    return {
        "repository_backend": settings.REPOSITORY_BACKEND,
        "search_backend": settings.SEARCH_BACKEND,
        "search_sync": settings.SEARCH_SYNC,
        "blob_backend": settings.BLOB_BACKEND,
        "events_backend": settings.EVENTS_BACKEND,
        "blob_root": str(settings.BLOB_ROOT),
        "image_max_pixels": settings.UPLOAD_IMAGE_MAX_PIXELS,
        "public_base_url": settings.PUBLIC_BASE_URL,
        "secret_key": settings.SECRET_KEY,
        "view_counter_backend": settings.VIEW_COUNTER_BACKEND,
        "response_cache_backend": "django",
        "mailer_backend": "django",
        "chart_backend": "matplotlib",
        "response_cache_seconds": settings.RESPONSE_CACHE_SECONDS,
        "app_version": settings.CACHE_KEY_VERSION,
        "report": {
            "tz": settings.OPS_REPORT_TIME_ZONE,
            "send_at": settings.OPS_REPORT_SEND_AT,
            "recipients": tuple(settings.OPS_REPORT_EMAILS),
            "url": f"{settings.PUBLIC_BASE_URL.rstrip('/')}/api/v1/reports/{{day}}/",
        },
        "queue": {"publish_timeout": settings.QUEUE_PUBLISH_TIMEOUT_SECONDS},
        "redis": {
            "url": settings.REDIS_URL,
            "socket_timeout": settings.REDIS_SOCKET_TIMEOUT_SECONDS,
            "ssl_cert_reqs": settings.REDIS_SSL_CERT_REQS,
            "ssl_ca_certs": settings.REDIS_SSL_CA_CERTS,
            "breaker_seconds": settings.REDIS_BREAKER_SECONDS,
        },
        "elasticsearch": {
            "url": settings.ELASTICSEARCH_URL,
            "index": settings.ELASTICSEARCH_INDEX,
            "api_key": settings.ELASTICSEARCH_API_KEY,
            "ca_certs": settings.ELASTICSEARCH_CA_CERTS,
            "timeout": settings.ELASTICSEARCH_TIMEOUT_SECONDS,
        },
        "s3": {
            "endpoint_url": settings.S3_ENDPOINT_URL,
            "bucket": settings.S3_BUCKET,
            "region": settings.S3_REGION,
            "access_key_id": settings.S3_ACCESS_KEY_ID,
            "secret_access_key": settings.S3_SECRET_ACCESS_KEY,
            "addressing_style": settings.S3_ADDRESSING_STYLE,
            "timeout": settings.S3_TIMEOUT_SECONDS,
        },
    }


def configure(target: Container) -> None:
    target.config.from_dict(settings_config())


container = Container()
