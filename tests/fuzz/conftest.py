"""A real gunicorn serving the shipped app on a small seeded SQLite marketplace, for the API fuzzer.

The marketplace is seeded once per session into a template directory; every fuzz
run gets its own copy and its own server, so each identity's run starts from the
same data whatever ran before it, and a failure reproduces from its seed alone.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.deployment import PLAIN_HTTP_DEPLOYMENT
from tests.harness.servers import LOOPBACK, free_port
from tests.harness.web import gunicorn_serving

ROOT = Path(__file__).resolve().parents[2]
# Small enough to seed in seconds, big enough for every status and a page of search results.
SEED_EXPERTS, SEED_CLIENTS = 12, 6
# The fuzzer sends far more logins and bookings than a person; a 429 would hide real answers.
UNTHROTTLED = "100000/min"
DEMO_PASSWORD = "experthub-demo"
DEMO_LOGINS = {
    "client": "client@experthub.local",
    "expert": "expert@experthub.local",
    "staff": "staff@experthub.local",
}


@dataclass(frozen=True)
class FuzzServer:
    port: int
    var_dir: Path

    @property
    def origin(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def schema_url(self) -> str:
        return f"{self.origin}/api/schema/?format=json"

    def token(self, identity: str) -> str:
        """An access JWT for a demo account, from the API's own login endpoint."""
        body = json.dumps({"email": DEMO_LOGINS[identity], "password": DEMO_PASSWORD}).encode()
        request = urllib.request.Request(
            f"{self.origin}/api/v1/auth/token/", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.load(response)["access"])


def server_environment(var_dir: Path, port: int) -> dict[str, str]:
    """The shipped settings on the embedded adapters, nothing inherited from a stack run."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(
            ("GUNICORN_", "DATABASE_", "REDIS_", "CELERY_", "S3_", "ELASTICSEARCH_", "PROMETHEUS_", "THROTTLE_")
        )
    }
    return {
        **inherited,
        **PLAIN_HTTP_DEPLOYMENT,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "VAR_DIR": str(var_dir),
        "REDIS_URL": "",
        "SEARCH_BACKEND": "sqlite",
        "BLOB_BACKEND": "local",
        "VIEW_COUNTER_BACKEND": "orm",
        "EVENTS_BACKEND": "log",
        "PUBLIC_BASE_URL": f"http://{LOOPBACK}:{port}",
        "THROTTLE_LOGIN": UNTHROTTLED,
        "THROTTLE_REGISTER": UNTHROTTLED,
        "THROTTLE_BOOKING_CREATE": UNTHROTTLED,
        "WEB_CONCURRENCY": "1",
        # A recycled worker boots Django again while a request waits: seconds on a loaded machine.
        "GUNICORN_MAX_REQUESTS": "0",
        "LOG_LEVEL": "WARNING",
    }


def manage(environment: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


@pytest.fixture(scope="session")
def seeded_var(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database with the demo marketplace at a small scale."""
    var_dir = tmp_path_factory.mktemp("fuzz-template")
    environment = server_environment(var_dir, port=0)
    manage(environment, "migrate", "--noinput")
    manage(environment, "seed_demo", "--experts", str(SEED_EXPERTS), "--clients", str(SEED_CLIENTS))
    return var_dir


@pytest.fixture
def fuzz_server(seeded_var: Path, tmp_path: Path) -> Iterator[FuzzServer]:
    """`gunicorn project.wsgi --config gunicorn.conf.py` (gevent) on a fresh copy of the seeded data."""
    var_dir = tmp_path / "var"
    shutil.copytree(seeded_var, var_dir)
    port = free_port()
    environment = {**server_environment(var_dir, port), "PORT": str(port), "WEB_HOST": LOOPBACK}
    with gunicorn_serving(environment, port):
        yield FuzzServer(port, var_dir)
