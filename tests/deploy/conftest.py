"""The app as a VM serves it: migrated SQLite, collectstatic, gunicorn's gevent workers on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.deployment import PLAIN_HTTP_DEPLOYMENT
from tests.harness.servers import LOOPBACK, free_port
from tests.harness.web import gunicorn_serving

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class AppServer:
    port: int
    static_root: Path

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"


def app_environment(var: Path) -> dict[str, str]:
    """Production settings on a throwaway SQLite database; nothing inherited from a stack run."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("GUNICORN_", "DATABASE_", "REDIS_", "CELERY_", "S3_", "ELASTICSEARCH_"))
    }
    return {
        **inherited,
        **PLAIN_HTTP_DEPLOYMENT,
        "DJANGO_SETTINGS_MODULE": "tests.deploy.web_settings",
        "VAR_DIR": str(var),
        "STATIC_ROOT": str(var / "static"),
        "ALLOWED_HOSTS": "experthub.test,localhost,127.0.0.1",
        "WEB_CONCURRENCY": "1",
        "EVENTS_BACKEND": "log",
        "SEARCH_BACKEND": "sqlite",
        "BLOB_BACKEND": "local",
    }


def manage(environment: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment, check=True, capture_output=True)


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    var = tmp_path_factory.mktemp("app-var")
    environment = app_environment(var)
    manage(environment, "migrate", "--noinput")
    manage(environment, "collectstatic", "--noinput")
    port = free_port()
    with gunicorn_serving(environment, port, arguments=["--bind", f"{LOOPBACK}:{port}"]):
        yield AppServer(port, var / "static")
