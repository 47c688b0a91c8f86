"""The database system checks (project/checks.py) and the settings they read (project/database.py).

Each check runs on settings overridden to the case it guards, with gevent's
patching and psycopg's wait callback faked: the real ones are proven in a
gunicorn worker (tests/integration/test_postgres_gunicorn.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management.base import SystemCheckError

from project import checks, database
from project.database import POSTGRES, POSTGRES_GEVENT_POOL, SQLITE, DatabaseOptions, build_databases

pytestmark = pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")

POSTGRES_URL = {"ENGINE": POSTGRES, "NAME": "experthub", "HOST": "db.internal", "PORT": 5432}


def options(**overrides: Any) -> DatabaseOptions:
    values: dict[str, Any] = {
        "pool": "gevent",
        "pool_max_connections": 10,
        "pool_timeout_seconds": 10.0,
        "connect_timeout_seconds": 5,
        "statement_timeout_ms": 15000,
        "conn_max_age": 0,
        "sqlite_busy_timeout_seconds": 20,
        "sqlite_test_name": "/tmp/test.sqlite3",
    }
    return DatabaseOptions(**{**values, **overrides})


def postgres(**overrides: Any) -> dict[str, dict[str, Any]]:
    return build_databases(primary=dict(POSTGRES_URL), replicas=[], options=options(**overrides))


def ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


@pytest.fixture
def under_gevent(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """A process gevent has patched, whose psycopg2 is cooperative (tests undo either)."""
    monkeypatch.setattr(database, "gevent_monkey_patched", lambda: True)
    monkeypatch.setattr(database, "psycopg_is_cooperative", lambda: True)
    return monkeypatch


@pytest.fixture
def production(settings: Any) -> Any:
    """PostgreSQL with the gevent pool and the default budget: no check complains."""
    settings.DATABASES = postgres()
    settings.DATABASE_POOL = "gevent"
    settings.SEARCH_BACKEND = "memory"  # fail_on_errors runs every check: E002 refuses sqlite search here
    settings.WEB_CONCURRENCY, settings.CELERY_CONCURRENCY = 2, 2
    settings.DATABASE_HEADROOM_CONNECTIONS, settings.DATABASE_MAX_CONNECTIONS = 5, 100
    return settings


# --- what DATABASES holds ---------------------------------------------------------------------


class TestBuildDatabases:
    def test_the_gevent_pool_engine_bounded_by_max_conns_with_connections_handed_back(self) -> None:
        default = postgres(pool_max_connections=7, pool_timeout_seconds=2.5)["default"]

        assert default["ENGINE"] == POSTGRES_GEVENT_POOL
        assert (default["OPTIONS"]["MAX_CONNS"], default["OPTIONS"]["REUSE_CONNS"]) == (7, 7)
        assert default["OPTIONS"][database.POOL_TIMEOUT] == 2.5
        assert (default["CONN_MAX_AGE"], default["CONN_HEALTH_CHECKS"]) == (0, False)

    def test_the_engine_gets_the_bounded_pool(self) -> None:
        from django_db_geventpool.backends.postgresql_psycopg2.base import DatabaseWrapper

        postgres()

        assert DatabaseWrapper.pool_class is database.bounded_pool_class()

    def test_no_pool_is_djangos_own_engine_with_health_checks_on_persistent_connections(self) -> None:
        default = postgres(pool="none", conn_max_age=60)["default"]

        assert default["ENGINE"] == POSTGRES
        assert "MAX_CONNS" not in default["OPTIONS"]
        assert database.POOL_TIMEOUT not in default["OPTIONS"]  # psycopg2 would refuse it
        assert (default["CONN_MAX_AGE"], default["CONN_HEALTH_CHECKS"]) == (60, True)

    @pytest.mark.parametrize("pool", ["gevent", "none"])
    def test_timeouts_and_a_utc_session_on_either_engine(self, pool: str) -> None:
        default = postgres(pool=pool, connect_timeout_seconds=3, statement_timeout_ms=2500)["default"]

        assert default["OPTIONS"]["connect_timeout"] == 3
        assert default["OPTIONS"]["options"] == "-c statement_timeout=2500 -c TimeZone=UTC"

    def test_replicas_get_the_same_treatment(self) -> None:
        databases = build_databases(primary=dict(POSTGRES_URL), replicas=[dict(POSTGRES_URL)], options=options())

        assert databases["replica_0"]["ENGINE"] == POSTGRES_GEVENT_POOL

    def test_sqlite_is_left_without_a_pool(self) -> None:
        default = build_databases(primary={"ENGINE": SQLITE, "NAME": "x"}, replicas=[], options=options())["default"]

        assert default["ENGINE"] == SQLITE
        assert default["OPTIONS"] == {"transaction_mode": "IMMEDIATE", "timeout": 20}


def test_the_budget_formula() -> None:
    budget = database.ConnectionBudget(
        web_processes=4, pool_size=10, celery_concurrency=8, headroom=5, max_connections=54
    )

    assert budget.needed == 4 * 10 + 8 + 1 + 5
    assert budget.fits()
    assert not database.ConnectionBudget(**{**vars(budget), "max_connections": 53}).fits()


# --- the checks -------------------------------------------------------------------------------


def test_production_settings_pass(production: Any, under_gevent: pytest.MonkeyPatch) -> None:
    assert checks.database_pool_check() == []


def test_an_unknown_pool_is_refused(production: Any) -> None:
    production.DATABASE_POOL = "pgbouncer"

    assert ids(checks.database_pool_check()) == ["experthub.E101"]


def test_gevent_without_the_psycopg_wait_callback_is_refused(production: Any, under_gevent: pytest.MonkeyPatch) -> None:
    under_gevent.setattr(database, "psycopg_is_cooperative", lambda: False)

    assert ids(checks.database_pool_check()) == ["experthub.E103"]


def test_no_wait_callback_is_fine_without_gevent_or_without_postgresql(
    production: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(database, "psycopg_is_cooperative", lambda: False)
    assert checks.database_pool_check() == []  # manage.py, Celery prefork: not patched

    monkeypatch.setattr(database, "gevent_monkey_patched", lambda: True)
    production.DATABASES = {"default": {"ENGINE": SQLITE, "NAME": "x", "OPTIONS": {}}}
    assert checks.database_pool_check() == []


def test_persistent_connections_under_gevent_without_the_pool_are_refused(
    production: Any, under_gevent: pytest.MonkeyPatch
) -> None:
    production.DATABASE_POOL = "none"
    production.DATABASES = postgres(pool="none", conn_max_age=60)

    assert ids(checks.database_pool_check()) == ["experthub.E104"]


def test_unlimited_persistent_connections_count_as_persistent(
    production: Any, under_gevent: pytest.MonkeyPatch
) -> None:
    production.DATABASES = postgres(pool="none")
    production.DATABASES["default"]["CONN_MAX_AGE"] = None  # Django's "forever"

    assert ids(checks.database_pool_check()) == ["experthub.E104"]


def test_per_request_connections_under_gevent_without_the_pool_only_warn(
    production: Any, under_gevent: pytest.MonkeyPatch
) -> None:
    production.DATABASES = postgres(pool="none")

    messages = checks.database_pool_check()

    assert ids(messages) == ["experthub.W105"]
    assert not messages[0].is_serious()


def test_persistent_connections_without_gevent_are_fine(production: Any) -> None:
    production.DATABASES = postgres(pool="none", conn_max_age=60)

    assert checks.database_pool_check() == []


def test_the_pool_with_persistent_connections_is_refused(production: Any) -> None:
    production.DATABASES = postgres(conn_max_age=60)

    assert ids(checks.database_pool_check()) == ["experthub.E102"]


def test_a_pool_over_the_budget_is_refused(production: Any) -> None:
    production.WEB_CONCURRENCY = 10  # 10 x 10 + 2 + 1 + 5 = 108 > 100

    messages = checks.database_pool_check()

    assert ids(messages) == ["experthub.E106"]
    assert "= 108 > DATABASE_MAX_CONNECTIONS 100" in messages[0].msg


def test_the_budget_is_checked_for_every_pooled_database(production: Any) -> None:
    production.DATABASES = build_databases(
        primary=dict(POSTGRES_URL), replicas=[dict(POSTGRES_URL)], options=options(pool_max_connections=47)
    )  # 2 x 47 + 2 + 1 + 5 = 102

    assert ids(checks.database_pool_check()) == ["experthub.E106", "experthub.E106"]


def test_exactly_the_budget_fits(production: Any) -> None:
    production.DATABASE_MAX_CONNECTIONS = 2 * 10 + 2 + 1 + 5

    assert checks.database_pool_check() == []


def test_without_a_pool_there_is_no_pool_budget(production: Any) -> None:
    production.DATABASES = postgres(pool="none", pool_max_connections=1000)

    assert checks.database_pool_check() == []


# --- detection and start-up ---------------------------------------------------------------------


def test_this_test_process_is_neither_patched_nor_cooperative() -> None:
    assert not database.gevent_monkey_patched()
    assert not database.psycopg_is_cooperative()


def test_make_psycopg_cooperative_installs_the_wait_callback() -> None:
    from psycopg2 import extensions

    try:
        database.make_psycopg_cooperative()
        database.make_psycopg_cooperative()  # again: harmless

        assert database.psycopg_is_cooperative()
    finally:
        extensions.set_wait_callback(None)


def test_fail_on_errors_raises_every_error(production: Any, under_gevent: pytest.MonkeyPatch) -> None:
    under_gevent.setattr(database, "psycopg_is_cooperative", lambda: False)
    production.WEB_CONCURRENCY = 10

    with pytest.raises(SystemCheckError) as raised:
        checks.fail_on_errors()

    assert "experthub.E103" in str(raised.value)
    assert "experthub.E106" in str(raised.value)


def test_fail_on_errors_passes_warnings(production: Any, under_gevent: pytest.MonkeyPatch) -> None:
    production.DATABASES = postgres(pool="none")

    checks.fail_on_errors()  # W105 only


# --- adapter combinations ----------------------------------------------------------------


def adapter_check_ids(settings: Any, **values: Any) -> set[str]:
    for name, value in values.items():
        setattr(settings, name, value)
    return {message.id for message in checks.adapter_settings_check()}


def test_the_shipped_defaults_pass_the_adapter_checks(settings: Any) -> None:
    assert adapter_check_ids(settings) == set()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"SEARCH_BACKEND": "solr"}, "experthub.E001"),
        ({"SEARCH_BACKEND": "postgres"}, "experthub.E003"),
        ({"VIEW_COUNTER_BACKEND": "redis", "REDIS_URL": ""}, "experthub.E004"),
        ({"RESPONSE_CACHE_SECONDS": 3600}, "experthub.E006"),
    ],
)
def test_an_unworkable_adapter_combination_is_refused(settings: Any, values: dict[str, Any], expected: str) -> None:
    assert expected in adapter_check_ids(settings, **values)


def test_postgres_search_needs_postgres_and_sqlite_search_needs_sqlite(settings: Any) -> None:
    settings.DATABASES = postgres()
    assert adapter_check_ids(settings, SEARCH_BACKEND="postgres") == set()
    assert "experthub.E002" in adapter_check_ids(settings, SEARCH_BACKEND="sqlite")


def test_replicas_without_a_shared_cache_are_warned_about(settings: Any) -> None:
    settings.DATABASES = {"default": dict(POSTGRES_URL), "replica_0": dict(POSTGRES_URL)}
    assert "experthub.W005" in adapter_check_ids(settings, SEARCH_BACKEND="memory", REDIS_URL="")
    assert "experthub.W005" not in adapter_check_ids(settings, REDIS_URL="redis://127.0.0.1:6379/0")


# --- search sync ---------------------------------------------------------------------------------


def database_for(backend: str) -> dict[str, dict[str, Any]]:
    """A default database the search backend works with (E002/E003 stay quiet)."""
    return postgres() if backend == "postgres" else {"default": {"ENGINE": SQLITE, "NAME": "x", "OPTIONS": {}}}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_task_sync_of_a_database_backed_index_is_refused(settings: Any, backend: str) -> None:
    settings.DATABASES = database_for(backend)

    messages = adapter_check_ids(settings, SEARCH_BACKEND=backend, SEARCH_SYNC="task")

    assert messages == {"experthub.E030"}


def test_inline_sync_of_elasticsearch_is_warned_about(settings: Any) -> None:
    settings.DATABASES = database_for("sqlite")
    assert adapter_check_ids(settings, SEARCH_BACKEND="elasticsearch", SEARCH_SYNC="inline") == {"experthub.W031"}
    assert not next(m for m in checks.adapter_settings_check() if m.id == "experthub.W031").is_serious()


@pytest.mark.parametrize(
    ("backend", "sync"),
    [("elasticsearch", "task"), ("memory", "task"), ("memory", "inline"), ("sqlite", "inline"), ("postgres", "inline")],
)
def test_workable_search_sync_choices_pass(settings: Any, backend: str, sync: str) -> None:
    settings.DATABASES = database_for(backend)
    assert adapter_check_ids(settings, SEARCH_BACKEND=backend, SEARCH_SYNC=sync) == set()


def test_an_unknown_search_sync_is_refused(settings: Any) -> None:
    assert "experthub.E001" in adapter_check_ids(settings, SEARCH_SYNC="outbox")


def test_search_sync_defaults_to_tasks_for_elasticsearch_only() -> None:
    import subprocess
    import sys

    def default_for(backend: str) -> str:
        code = "from project import settings; print(settings.SEARCH_SYNC)"
        env = {"PATH": "/usr/bin:/bin", "SEARCH_BACKEND": backend, "DJANGO_SETTINGS_MODULE": "project.settings"}
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout

    assert {backend: default_for(backend).strip() for backend in ("elasticsearch", "sqlite", "memory")} == {
        "elasticsearch": "task",
        "sqlite": "inline",
        "memory": "inline",
    }
