"""System checks that refuse to start with an adapter or database combination that cannot work."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register, run_checks
from django.core.management.base import SystemCheckError

from domain.blobs import DOWNLOAD_EXPIRY_SECONDS
from project import database
from project.proxies import TrustedProxies, parse_networks

CHOICES = {
    "REPOSITORY_BACKEND": ("orm", "memory"),
    "SEARCH_BACKEND": ("sqlite", "postgres", "elasticsearch", "memory"),
    "BLOB_BACKEND": ("local", "s3", "memory"),
    "VIEW_COUNTER_BACKEND": ("orm", "redis", "memory"),
    "EVENTS_BACKEND": ("log", "celery", "memory"),
    "SEARCH_SYNC": ("inline", "task"),
}
# The search indexes whose rows live in the default database, in the use case's transaction.
DATABASE_SEARCH_BACKENDS = ("sqlite", "postgres")


@register()
def adapter_settings_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = [
        Error(f"{name}={getattr(settings, name)!r} is not one of {', '.join(allowed)}.", id="experthub.E001")
        for name, allowed in CHOICES.items()
        if getattr(settings, name) not in allowed
    ]
    engine = settings.DATABASES["default"]["ENGINE"]
    if settings.SEARCH_BACKEND == "sqlite" and engine != "django.db.backends.sqlite3":
        errors.append(
            Error(
                "SEARCH_BACKEND=sqlite keeps its FTS5 index in the default database, which is not SQLite.",
                hint="Pick a search backend that works with this database.",
                id="experthub.E002",
            )
        )
    if settings.SEARCH_BACKEND == "postgres" and not database.is_postgres(settings.DATABASES["default"]):
        errors.append(
            Error(
                "SEARCH_BACKEND=postgres keeps its full-text index in the default database, which is not PostgreSQL.",
                hint="Pick a search backend that works with this database.",
                id="experthub.E003",
            )
        )
    return errors + _search_sync() + _redis_dependants()


def _search_sync() -> list[CheckMessage]:
    """SEARCH_SYNC=task is for an index outside the database; inline only suits one inside it."""
    if settings.SEARCH_SYNC == "task" and settings.SEARCH_BACKEND in DATABASE_SEARCH_BACKENDS:
        return [
            Error(
                f"SEARCH_SYNC=task with SEARCH_BACKEND={settings.SEARCH_BACKEND}: this index lives in the database "
                "and commits or rolls back with the profile, so it needs no sync; tasks would only delay it.",
                hint="Use SEARCH_SYNC=inline (the default for this backend).",
                id="experthub.E030",
            )
        ]
    if settings.SEARCH_SYNC == "inline" and settings.SEARCH_BACKEND == "elasticsearch":
        return [
            Warning(
                "SEARCH_SYNC=inline with Elasticsearch: profile writes wait for the cluster inside their "
                "transaction, fail while it is down, and leave documents behind when the transaction rolls back.",
                hint="Use SEARCH_SYNC=task (the default for this backend; docs/elasticsearch.md).",
                id="experthub.W031",
            )
        ]
    return []


def _redis_dependants() -> list[CheckMessage]:
    """Settings that only work with a Redis every process shares."""
    problems: list[CheckMessage] = []
    if settings.VIEW_COUNTER_BACKEND == "redis" and not settings.REDIS_URL:
        problems.append(
            Error(
                "VIEW_COUNTER_BACKEND=redis needs REDIS_URL.", hint="Set REDIS_URL, or use 'orm'.", id="experthub.E004"
            )
        )
    if len(settings.DATABASES) > 1 and not settings.REDIS_URL:
        problems.append(
            Warning(
                "Read replicas without REDIS_URL: the read-your-writes pin of a token client lives in one "
                "process's memory, so another worker may serve it a stale read.",
                hint="Set REDIS_URL so every process shares the pins (docs/replicas-and-search.md).",
                id="experthub.W005",
            )
        )
    if settings.RESPONSE_CACHE_SECONDS >= DOWNLOAD_EXPIRY_SECONDS:
        problems.append(
            Error(
                f"RESPONSE_CACHE_SECONDS={settings.RESPONSE_CACHE_SECONDS} outlives the presigned avatar URLs "
                f"({DOWNLOAD_EXPIRY_SECONDS} s) that cached pages carry.",
                hint=f"Keep it well under {DOWNLOAD_EXPIRY_SECONDS}.",
                id="experthub.E006",
            )
        )
    return problems


# --- Proxies and operator addresses (project/proxies.py, docs/security.md) ------------------


@register()
def proxy_settings_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    for name, parse in (("TRUSTED_PROXIES", TrustedProxies.parse), ("METRICS_ALLOWED_IPS", parse_networks)):
        try:
            parse(getattr(settings, name))
        except ValueError as e:
            problems.append(
                Error(f"{name}: {e}.", hint="Addresses or networks (10.0.0.0/8), comma-separated.", id="experthub.E040")
            )
    if settings.NUM_PROXIES:
        problems.append(
            Error(
                f"NUM_PROXIES={settings.NUM_PROXIES} is no longer read: client addresses come from TRUSTED_PROXIES.",
                hint="Remove NUM_PROXIES; list the proxies' addresses in TRUSTED_PROXIES (docs/security.md).",
                id="experthub.E041",
            )
        )
    return problems


# --- PostgreSQL under gevent (docs/postgresql.md) ---------------------------------------


@register()
def database_pool_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if settings.DATABASE_POOL not in database.POOLS:
        return [
            Error(
                f"DATABASE_POOL={settings.DATABASE_POOL!r} is not one of {', '.join(database.POOLS)}.",
                id="experthub.E101",
            )
        ]
    return [
        *_pool_with_persistent_connections(),
        *_gevent_without_cooperative_psycopg(),
        *_gevent_with_unpooled_connections(),
        *_pool_over_budget(),
    ]


def _postgres_databases() -> dict[str, dict[str, Any]]:
    return {alias: db for alias, db in settings.DATABASES.items() if database.is_postgres(db)}


def _pool_with_persistent_connections() -> list[CheckMessage]:
    return [
        Error(
            f"DATABASES[{alias!r}] uses the gevent pool with CONN_MAX_AGE={db['CONN_MAX_AGE']!r}: "
            "connections would not go back to the pool at the end of a request.",
            hint="Set DATABASE_CONN_MAX_AGE=0; the pool keeps the connections open.",
            id="experthub.E102",
        )
        for alias, db in _postgres_databases().items()
        if database.uses_gevent_pool(db) and db.get("CONN_MAX_AGE", 0) != 0
    ]


def _gevent_without_cooperative_psycopg() -> list[CheckMessage]:
    if not (_postgres_databases() and database.gevent_monkey_patched()) or database.psycopg_is_cooperative():
        return []
    return [
        Error(
            "This process runs under gevent but psycopg2 has no wait callback: "
            "every query would block all the greenlets of the process.",
            hint="Call project.database.make_psycopg_cooperative() when the process starts "
            "(project/wsgi.py does it in gevent workers).",
            id="experthub.E103",
        )
    ]


def _gevent_with_unpooled_connections() -> list[CheckMessage]:
    if not database.gevent_monkey_patched():
        return []
    unpooled = {alias: db for alias, db in _postgres_databases().items() if not database.uses_gevent_pool(db)}
    persistent = [
        Error(
            f"DATABASES[{alias!r}] keeps connections (CONN_MAX_AGE={db.get('CONN_MAX_AGE', 0)!r}) under gevent "
            "without a pool: every greenlet that ever served a request keeps a connection open.",
            hint="Use DATABASE_POOL=gevent, or DATABASE_CONN_MAX_AGE=0 behind pgbouncer.",
            id="experthub.E104",
        )
        for alias, db in unpooled.items()
        if db.get("CONN_MAX_AGE", 0) != 0
    ]
    unbounded = [
        Warning(
            f"DATABASES[{alias!r}] has no pool under gevent: up to one connection per concurrent request.",
            hint="Use DATABASE_POOL=gevent unless pgbouncer bounds the connections.",
            id="experthub.W105",
        )
        for alias, db in unpooled.items()
        if db.get("CONN_MAX_AGE", 0) == 0
    ]
    return [*persistent, *unbounded]


def _pool_over_budget() -> list[CheckMessage]:
    pooled = {alias: db for alias, db in _postgres_databases().items() if database.uses_gevent_pool(db)}
    budgets = {alias: _budget(pool_size=db["OPTIONS"]["MAX_CONNS"]) for alias, db in pooled.items()}
    return [
        Error(
            f"DATABASES[{alias!r}] may need more connections than the server allows: "
            f"{budget.explain()} > DATABASE_MAX_CONNECTIONS {budget.max_connections}.",
            hint="Lower DATABASE_POOL_MAX_CONNECTIONS or WEB_CONCURRENCY, or raise the server's "
            "max_connections and DATABASE_MAX_CONNECTIONS with it.",
            id="experthub.E106",
        )
        for alias, budget in budgets.items()
        if not budget.fits()
    ]


def _budget(*, pool_size: int) -> database.ConnectionBudget:
    return database.ConnectionBudget(
        web_processes=settings.WEB_CONCURRENCY,
        pool_size=pool_size,
        celery_concurrency=settings.CELERY_CONCURRENCY,
        headroom=settings.DATABASE_HEADROOM_CONNECTIONS,
        max_connections=settings.DATABASE_MAX_CONNECTIONS,
    )


def fail_on_errors() -> None:
    """Run every system check in this process; raise if one is an error.

    For processes Django's management commands do not start (gunicorn
    workers): only inside the worker do the checks see gevent's patching.
    """
    serious = [message for message in run_checks() if message.is_serious()]
    if serious:
        raise SystemCheckError("\n".join(str(message) for message in serious))
