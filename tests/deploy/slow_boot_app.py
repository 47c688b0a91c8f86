"""A WSGI app for gunicorn that takes a while to load, as the real app's workers take
seconds to import Django: what a (re)starting app server looks like from nginx.

    gunicorn 'tests.deploy.slow_boot_app:booted(name="a", seconds=60)'

gunicorn calls ``booted`` in each worker before it accepts a connection, while the
master already listens.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def booted(*, name: str, seconds: float = 0) -> Wsgi:
    time.sleep(seconds)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = json.dumps({"server": name, "pid": os.getpid()}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app
