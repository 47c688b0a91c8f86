"""The shared in-memory "database" and its unit of work."""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class MemoryDatabase:
    """Tables as dicts keyed by id. The memory repositories share one instance."""

    tables: dict[str, dict[Any, Any]] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def table(self, name: str) -> dict[Any, Any]:
        return self.tables.setdefault(name, {})


class MemoryUnitOfWork:
    """Real transaction semantics over the shared dicts.

    Every block snapshots the tables on entry and restores them if an exception
    leaves it, so a nested block that fails is undone on its own (a savepoint)
    together with the callbacks it registered. The outermost block holds a
    re-entrant lock, so concurrent transactions run one at a time (serialisable,
    like SQLite's write lock).
    """

    def __init__(self, database: MemoryDatabase) -> None:
        self._db = database
        self._depth = 0
        self._callbacks: list[Callable[[], None]] = []

    @contextmanager
    def atomic(self) -> Iterator[None]:
        committed: list[Callable[[], None]] = []
        with self._db.lock:
            snapshot = copy.deepcopy(self._db.tables)
            registered_before = len(self._callbacks)
            self._depth += 1
            try:
                yield
            except BaseException:
                self._db.tables = snapshot
                del self._callbacks[registered_before:]
                raise
            finally:
                self._depth -= 1
            if self._depth == 0:
                committed, self._callbacks = self._callbacks, []
        for callback in committed:
            _run_logged(callback)

    def on_commit(self, callback: Callable[[], None]) -> None:
        if self._depth:
            self._callbacks.append(callback)
        else:
            _run_logged(callback)


def _run_logged(callback: Callable[[], None]) -> None:
    """As Django's robust on_commit: the data is committed, a failing side effect is only logged."""
    try:
        callback()
    except Exception:
        logger.exception("on_commit callback %r failed", callback)


class FixedClock:
    """A clock tests can set and move."""

    def __init__(self, now: datetime | None = None) -> None:
        self._now = now or datetime(2030, 1, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, now: datetime) -> None:
        self._now = now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)
