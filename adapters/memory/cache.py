"""An in-memory ResponseCache for unit tests: namespaces of JSON strings, no expiry."""

from __future__ import annotations

import json
import threading
from typing import Any


class InMemoryResponseCache:
    """Implements ResponseCache with a dict per namespace.

    Values are stored as JSON text, like the Django adapter stores them: a
    value that is not JSON-serialisable fails here too, and every ``get``
    hands out a fresh copy.
    """

    def __init__(self) -> None:
        self._namespaces: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def get(self, namespace: str, key: str) -> Any | None:
        with self._lock:
            raw = self._namespaces.get(namespace, {}).get(key)
        return None if raw is None else json.loads(raw)

    def set(self, namespace: str, key: str, value: Any) -> None:
        raw = json.dumps(value)
        with self._lock:
            self._namespaces.setdefault(namespace, {})[key] = raw

    def invalidate(self, namespace: str) -> None:
        with self._lock:
            self._namespaces.pop(namespace, None)
