"""Read replicas: reads go to a replica, writes to the primary, and a writer reads its writes.

settings.py installs ReplicaRouter when DATABASE_REPLICA_URLS names replicas
(aliases ``replica_0``, ``replica_1``, ...). What it decides, in order:

- writes always go to the primary (``default``), and so does every read
  - of the database cache (throttle counters are read, then written);
  - outside a routing scope (Celery tasks, management commands, the shell):
    a task enqueued on commit must find the row that was just written;
  - inside a transaction on the primary (a use case reads what it will write);
  - in a scope that is pinned (a non-safe HTTP method, or a user who wrote
    within DATABASE_READ_YOUR_WRITES_SECONDS: project/middleware.py) or that
    has written already (the router saw the write);
- otherwise a read goes to one replica per scope, picked at random among
  those that answer; a replica that does not answer is skipped for
  REPLICA_RETRY_SECONDS (one connect timeout per process and period, not one
  per query), and with none left the read goes to the primary: no 5xx.

The per-request state lives in a ContextVar: each thread, and each greenlet
under gevent (greenlet keeps one context per greenlet), sees its own.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.models import Model

PRIMARY = "default"
REPLICA_PREFIX = "replica_"
# How long a replica that failed to connect is left alone before it is tried again.
REPLICA_RETRY_SECONDS = 5.0

logger = logging.getLogger(__name__)


@dataclass
class RoutingState:
    """What one request (or other routing scope) has done to the database so far."""

    pinned: bool = False
    wrote: bool = False
    # Users whose own row this scope saved (sign-up, last_login at login): pinned too.
    written_users: set[str] = field(default_factory=set)
    replica: str | None = None

    @property
    def reads_primary(self) -> bool:
        return self.pinned or self.wrote


_current: ContextVar[RoutingState | None] = ContextVar("experthub_db_routing", default=None)


@contextmanager
def routing_scope(*, pinned: bool = False) -> Iterator[RoutingState]:
    """Let reads go to a replica until a write, unless ``pinned``; one scope per request."""
    state = RoutingState(pinned=pinned)
    token = _current.set(state)
    try:
        yield state
    finally:
        _current.reset(token)


def current_routing_state() -> RoutingState | None:
    """The state of the routing scope this code runs in, or None outside any."""
    return _current.get()


def replica_aliases() -> list[str]:
    """The configured replicas' aliases (none without DATABASE_REPLICA_URLS)."""
    return [alias for alias in connections if alias.startswith(REPLICA_PREFIX)]


class ReplicaHealth:
    """Which replicas answer. Checks by connecting (DATABASE_CONNECT_TIMEOUT_SECONDS bounds it)."""

    def __init__(self, *, retry_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._retry_seconds = retry_seconds
        self._clock = clock
        self._down_until: dict[str, float] = {}

    def pick(self, aliases: list[str]) -> str | None:
        """A random replica among those that answer, or None."""
        return next((alias for alias in random.sample(aliases, len(aliases)) if self.is_up(alias)), None)

    def is_up(self, alias: str) -> bool:
        """Connected (or connectable) now; False without trying while it is marked down."""
        if self._down_until.get(alias, 0.0) > self._clock():
            return False
        try:
            connection = connections[alias]
            connection.close_if_health_check_failed()  # a kept connection: once per request
            connection.ensure_connection()  # no-op when connected
        except DatabaseError:
            self._mark_down(alias)
            return False
        return True

    def reset(self) -> None:
        """Forget every failure (tests)."""
        self._down_until.clear()

    def _mark_down(self, alias: str) -> None:
        self._down_until[alias] = self._clock() + self._retry_seconds
        logger.warning("Replica %s is unreachable: reading from the primary for %.0fs.", alias, self._retry_seconds)


replica_health = ReplicaHealth(retry_seconds=REPLICA_RETRY_SECONDS)


class ReplicaRouter:
    """Django database router: see the module docstring."""

    def db_for_read(self, model: type[Model] | None, **hints: Any) -> str:
        state = _current.get()
        if state is None or state.reads_primary or connections[PRIMARY].in_atomic_block or _is_cache(model):
            return PRIMARY
        if state.replica is None or not replica_health.is_up(state.replica):
            state.replica = replica_health.pick(replica_aliases())
        return state.replica or PRIMARY

    def db_for_write(self, model: type[Model] | None, **hints: Any) -> str:
        state = _current.get()
        if state is not None:
            state.wrote = True
            _note_user_row(state, model, hints.get("instance"))
        return PRIMARY

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        return True  # every alias holds the same data

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == PRIMARY  # replicas get the schema by streaming replication


def _is_cache(model: type[Model] | None) -> bool:
    # The database cache (the throttle counters) is read-modify-write: a lagging replica would undercount.
    return model is not None and model._meta.app_label == "django_cache"


def _note_user_row(state: RoutingState, model: type[Model] | None, instance: Model | None) -> None:
    is_user_row = model is not None and model._meta.label == settings.AUTH_USER_MODEL
    if is_user_row and instance is not None and instance.pk is not None:
        state.written_users.add(str(instance.pk))
