"""DATABASES from the configured URLs: engine-specific options, the gevent pool, replicas.

Pure functions of values settings.py read from the environment; nothing here
reads the environment itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SQLITE = "django.db.backends.sqlite3"
POSTGRES_ENGINES = ("django.db.backends.postgresql",)


@dataclass(frozen=True)
class DatabaseOptions:
    pool_max_connections: int
    connect_timeout_seconds: int
    statement_timeout_ms: int
    conn_max_age: int
    sqlite_busy_timeout_seconds: int
    sqlite_test_name: str


def build_databases(
    *, primary: dict[str, Any], replicas: list[dict[str, Any]], options: DatabaseOptions
) -> dict[str, dict[str, Any]]:
    databases = {"default": configure(primary, options)}
    for number, replica in enumerate(replicas):
        databases[f"replica_{number}"] = configure(replica, options)
    return databases


def configure(database: dict[str, Any], options: DatabaseOptions) -> dict[str, Any]:
    if database["ENGINE"] == SQLITE:
        return _sqlite(database, options)
    if database["ENGINE"] in POSTGRES_ENGINES:
        return _postgres(database, options)
    return database


def _sqlite(database: dict[str, Any], options: DatabaseOptions) -> dict[str, Any]:
    # IMMEDIATE takes SQLite's write lock when a transaction begins, so two
    # concurrent check-then-write transactions (accepting overlapping bookings)
    # run one after the other instead of both reading stale state.
    database.setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": options.sqlite_busy_timeout_seconds}
    )
    database.setdefault("TEST", {})["NAME"] = options.sqlite_test_name
    return database


def _postgres(database: dict[str, Any], options: DatabaseOptions) -> dict[str, Any]:
    database.setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": options.connect_timeout_seconds,
            "options": f"-c statement_timeout={options.statement_timeout_ms}",
        }
    )
    database["CONN_MAX_AGE"] = options.conn_max_age
    database["CONN_HEALTH_CHECKS"] = options.conn_max_age > 0
    return database
