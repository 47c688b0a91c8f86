"""Read replicas on a real streaming replica: routing, read-your-writes under lag, a replica that dies.

Django's connections are pointed, for this module only, at a database of the
harness's own PostgreSQL server (``default``, the primary) and at its
pg_basebackup standby (``replica_0``), with ReplicaRouter installed. Nothing
runs in a test transaction: data must be committed to reach the replica.
Lag is made with pg_wal_replay_pause(): the standby stops applying WAL, so
every read it serves afterwards is stale until replay resumes.
"""

from __future__ import annotations

import copy
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gevent
import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connections, router
from django.test.utils import CaptureQueriesContext, override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from adapters.orm.search import PostgresSearchIndex
from domain.money import Money
from domain.search import SearchQuery
from domain.users import Role
from project import routers
from project.container import container
from project.routers import PRIMARY, ReplicaHealth, ReplicaRouter, current_routing_state, routing_scope
from tests.contract.test_search_index import doc
from tests.harness.servers import PostgresServer, wait_until

pytestmark = [pytest.mark.postgres_only, pytest.mark.integration]

REPLICA = "replica_0"
DATABASE = "experthub_replicas"
API = "/api/v1"
PASSWORD = "Correct-horse-battery-staple-9"
ROUNDS = 20
WINDOW = 10
User = get_user_model()


@dataclass
class Servers:
    primary: PostgresServer
    replica: PostgresServer

    def caught_up(self) -> None:
        """Wait until the replica has replayed everything the primary wrote so far.

        The insert position, not the write position: with synchronous_commit
        off a commit record may still sit in the primary's WAL buffers.
        """
        target = self.primary.psql("SELECT pg_current_wal_insert_lsn()", DATABASE)
        query = f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"
        wait_until(lambda: self.replica.psql(query, DATABASE) == "t", timeout=30, what="replica replay")

    @contextmanager
    def lagging(self) -> Iterator[None]:
        """The replica stops applying WAL: from now on it serves a stale snapshot."""
        self.caught_up()
        self.replica.psql("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            self.replica.psql("SELECT pg_wal_replay_resume()")


# --- wiring Django to the harness's servers ------------------------------------------------


def _connection_settings(server: PostgresServer, template: dict[str, Any]) -> dict[str, Any]:
    # Django's own backend with the project's timeouts: the gevent pool keeps
    # its pools per alias, which would hand out connections to the test database.
    options = {
        key: value for key, value in template.get("OPTIONS", {}).items() if key in ("connect_timeout", "options")
    }
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE,
        "USER": server.user,
        "HOST": "127.0.0.1",
        "PORT": server.port,
        "OPTIONS": options,
        "CONN_MAX_AGE": 0,
    }


@contextmanager
def _connections_to(servers: Servers) -> Iterator[None]:
    """``default`` and ``replica_0`` point at the servers; the previous connections come back afterwards."""
    template = connections.settings[PRIMARY]
    wiring = {
        PRIMARY: _connection_settings(servers.primary, template),
        REPLICA: _connection_settings(servers.replica, template),
    }
    saved_settings = connections.settings
    saved = {alias: getattr(connections._connections, alias, None) for alias in wiring}
    connections.__dict__["settings"] = connections.configure_settings({**copy.copy(saved_settings), **wiring})
    for alias in wiring:
        if hasattr(connections._connections, alias):
            delattr(connections._connections, alias)
    try:
        yield
    finally:
        for alias, previous in saved.items():
            connections[alias].close()
            if previous is None:
                delattr(connections._connections, alias)
            else:
                setattr(connections._connections, alias, previous)
        connections.__dict__["settings"] = saved_settings


@pytest.fixture(scope="module")
def servers(postgres_with_replica: tuple[PostgresServer, PostgresServer], django_db_blocker: Any) -> Iterator[Servers]:
    """The primary with the schema migrated, its replica caught up, Django wired to both."""
    primary, replica = postgres_with_replica
    primary.psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    primary.psql(f"CREATE DATABASE {DATABASE}")
    wired = Servers(primary, replica)
    with (
        django_db_blocker.unblock(),
        _connections_to(wired),
        override_settings(DATABASE_ROUTERS=["project.routers.ReplicaRouter"]),
    ):
        call_command("migrate", verbosity=0, interactive=False)
        wired.caught_up()
        yield wired


@pytest.fixture(autouse=True)
def _fresh_routing_state(servers: Servers, settings: Any) -> Iterator[None]:
    settings.DATABASE_READ_YOUR_WRITES_SECONDS = WINDOW
    routers.replica_health.reset()
    yield
    routers.replica_health.reset()
    for alias in (PRIMARY, REPLICA):
        connections[alias].close()


# --- accounts and clients ------------------------------------------------------------------


@dataclass
class Expert:
    user_id: uuid.UUID
    email: str
    profile_id: uuid.UUID


def make_expert() -> Expert:
    """An expert with a draft profile, written outside any request (so on the primary)."""
    email = f"expert-{uuid.uuid4().hex[:10]}@example.com"
    user = container.account_register(email=email, password=PASSWORD, name="Rhea Replica", role=Role.EXPERT)
    profile = container.expert_create(actor=user.id, headline="The first headline", hourly_rate=Money(9_000, "EUR"))
    return Expert(user_id=user.id, email=email, profile_id=profile.id)


class Client:
    """An API client. ``cookies=False`` drops cookies before each request, as a mobile client would."""

    def __init__(self, *, token_for: Expert | None = None, cookies: bool = True) -> None:
        self.api = APIClient()
        self.cookies = cookies
        if token_for is not None:
            token = AccessToken.for_user(User.objects.get(pk=token_for.user_id))
            self.api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    def call(self, method: str, url: str, data: dict[str, Any] | None = None) -> Any:
        if not self.cookies:
            self.api.cookies.clear()
        response = getattr(self.api, method)(f"{API}{url}", data, format="json")
        assert response.status_code < 500, response.content
        return response


def stale_reads(client: Client, expert: Expert) -> int:
    """Write a new headline, read the profile back; count the reads that missed the write."""
    stale = 0
    for round_number in range(ROUNDS):
        headline = f"Headline of round {round_number}"
        assert client.call("patch", f"/experts/{expert.profile_id}/", {"headline": headline}).status_code == 200
        response = client.call("get", "/experts/me/")
        assert response.status_code == 200, response.content
        stale += response.json()["headline"] != headline
    return stale


def served_by(alias: str) -> tuple[bool, int]:
    """(in recovery, port) of the server behind the alias."""
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
        in_recovery, port = cursor.fetchone()
    return in_recovery, port


@contextmanager
def queries_on(*aliases: str) -> Iterator[dict[str, CaptureQueriesContext]]:
    captured = {alias: CaptureQueriesContext(connections[alias]) for alias in aliases}
    for context in captured.values():
        context.__enter__()
    try:
        yield captured
    finally:
        for context in captured.values():
            context.__exit__(None, None, None)


# --- routing -------------------------------------------------------------------------------


def test_in_a_request_reads_go_to_the_replica_and_writes_to_the_primary(servers: Servers) -> None:
    with routing_scope():
        assert router.db_for_read(User) == REPLICA
        assert served_by(REPLICA) == (True, servers.replica.port)
        assert router.db_for_write(User) == PRIMARY
        assert served_by(PRIMARY) == (False, servers.primary.port)
        assert router.db_for_read(User) == PRIMARY  # once the request has written


def test_outside_a_request_and_inside_a_transaction_reads_go_to_the_primary(servers: Servers) -> None:
    from django.db import transaction

    assert router.db_for_read(User) == PRIMARY
    with routing_scope(), transaction.atomic():
        assert router.db_for_read(User) == PRIMARY
    with routing_scope(pinned=True):
        assert router.db_for_read(User) == PRIMARY


def test_migrations_run_only_on_the_primary() -> None:
    assert ReplicaRouter().allow_migrate(PRIMARY, "orm") is True
    assert ReplicaRouter().allow_migrate(REPLICA, "orm") is False


def test_an_api_read_is_served_by_the_replica_a_write_and_what_follows_by_the_primary(servers: Servers) -> None:
    expert = make_expert()
    servers.caught_up()
    client = Client(token_for=expert, cookies=False)

    with queries_on(PRIMARY, REPLICA) as read:
        assert client.call("get", "/experts/me/").status_code == 200
    with queries_on(PRIMARY, REPLICA) as write:
        assert client.call("patch", f"/experts/{expert.profile_id}/", {"bio": "New bio"}).status_code == 200
    with queries_on(PRIMARY, REPLICA) as read_after_write:
        assert client.call("get", "/experts/me/").status_code == 200

    assert (len(read[PRIMARY]), len(read[REPLICA]) > 0) == (0, True)
    assert (len(write[PRIMARY]) > 0, len(write[REPLICA])) == (True, 0)
    assert (len(read_after_write[PRIMARY]) > 0, len(read_after_write[REPLICA])) == (True, 0)


# --- read-your-writes under replication lag ------------------------------------------------


def test_with_pinning_a_token_client_reads_every_write_back(servers: Servers) -> None:
    expert = make_expert()
    client = Client(token_for=expert, cookies=False)  # so the pin can only come from the cache

    with servers.lagging():
        stale = stale_reads(client, expert)

    assert stale == 0


def test_without_pinning_the_same_rounds_read_stale_data(servers: Servers, settings: Any) -> None:
    settings.DATABASE_READ_YOUR_WRITES_SECONDS = 0
    expert = make_expert()
    client = Client(token_for=expert, cookies=False)

    with servers.lagging():
        stale = stale_reads(client, expert)

    assert stale == ROUNDS  # every read missed its write: the measurement can fail


def test_with_pinning_a_session_client_reads_every_write_back(servers: Servers) -> None:
    expert = make_expert()
    client = Client()
    client.api.force_login(User.objects.get(pk=expert.user_id))

    with servers.lagging():
        stale = stale_reads(client, expert)

    assert stale == 0


def test_with_the_cache_down_the_signed_cookie_still_pins_the_client(servers: Servers, settings: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}  # stores nothing
    expert = make_expert()
    client = Client(token_for=expert, cookies=True)

    with servers.lagging():
        stale = stale_reads(client, expert)

    assert stale == 0


@pytest.mark.parametrize(("window", "status"), [(WINDOW, 200), (0, 401)])
def test_a_new_account_can_use_its_token_at_once(servers: Servers, settings: Any, window: int, status: int) -> None:
    settings.DATABASE_READ_YOUR_WRITES_SECONDS = window
    email = f"new-{uuid.uuid4().hex[:10]}@example.com"
    client = Client(cookies=False)

    with servers.lagging():
        registered = client.call(
            "post", "/auth/register/", {"email": email, "password": PASSWORD, "name": "Nia New", "role": "client"}
        )
        tokens = client.call("post", "/auth/token/", {"email": email, "password": PASSWORD}).json()
        client.api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        me = client.call("get", "/me/")

    assert registered.status_code == 201
    assert me.status_code == status  # unpinned, the replica does not know the account yet


def test_within_a_request_reads_after_a_write_see_it(servers: Servers) -> None:
    expert = make_expert()
    other = make_expert()
    with servers.lagging():
        User.objects.filter(pk=expert.user_id).update(name="Renamed on the primary")
        with routing_scope():
            before = User.objects.get(pk=expert.user_id).name
            User.objects.filter(pk=other.user_id).update(name="Any write")
            after = User.objects.get(pk=expert.user_id).name

    assert (before, after) == ("Rhea Replica", "Renamed on the primary")


def test_search_reads_where_the_router_sends_reads(servers: Servers) -> None:
    index = PostgresSearchIndex()
    with servers.lagging():
        index.upsert(doc(headline="Replicated quokka wrangler"))
        with routing_scope():
            on_replica = index.search(SearchQuery(text="quokka")).total
        with routing_scope(pinned=True):
            on_primary = index.search(SearchQuery(text="quokka")).total

    assert (on_replica, on_primary) == (0, 1)


def test_each_greenlet_has_its_own_routing_state() -> None:
    def request(writes: bool) -> tuple[bool, bool]:
        with routing_scope() as state:
            gevent.sleep(0.001)  # every greenlet enters its scope before any writes
            if writes:
                ReplicaRouter().db_for_write(None)
            gevent.sleep(0.001)
            return current_routing_state() is state, state.wrote

    jobs = [gevent.spawn(request, number % 2 == 0) for number in range(20)]
    gevent.joinall(jobs, raise_error=True)

    assert [job.value for job in jobs] == [(True, number % 2 == 0) for number in range(20)]
    assert current_routing_state() is None


# --- a replica that stops ------------------------------------------------------------------


@contextmanager
def stopped(servers: Servers) -> Iterator[None]:
    connections[REPLICA].close()
    servers.replica.stop()
    try:
        yield
    finally:
        servers.replica.start()
        servers.caught_up()


def test_a_stopped_replica_falls_back_to_the_primary_without_errors(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    expert = make_expert()
    servers.caught_up()
    client = Client(token_for=expert, cookies=False)

    with stopped(servers), caplog.at_level(logging.WARNING, logger="project.routers"):
        started = time.monotonic()
        with queries_on(PRIMARY) as captured:
            responses = [client.call("get", "/experts/me/") for _ in range(10)]
        elapsed = time.monotonic() - started

    assert [r.status_code for r in responses] == [200] * 10
    assert {r.json()["headline"] for r in responses} == {"The first headline"}
    assert len(captured[PRIMARY]) > 0
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1  # tried once, then skipped
    assert elapsed < 5


def test_a_replica_back_up_is_used_again_after_the_retry_period(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routers, "replica_health", ReplicaHealth(retry_seconds=0.5))
    expert = make_expert()
    servers.caught_up()
    client = Client(token_for=expert, cookies=False)

    with stopped(servers):
        assert client.call("get", "/experts/me/").status_code == 200
    time.sleep(0.6)
    with queries_on(REPLICA) as captured:
        assert client.call("get", "/experts/me/").status_code == 200

    assert len(captured[REPLICA]) > 0
