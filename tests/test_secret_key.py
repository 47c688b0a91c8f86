"""With debug off, every process refuses a missing, weak or development SECRET_KEY (project/secret_key.py).

The Procfile's processes run for real (web, worker, beat, release), each in a fresh
process with the production settings and nothing else from this environment.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from project.secret_key import secret_key_problem
from tests.harness.servers import free_port, wait_until
from tests.harness.web import gunicorn_serving
from tests.harness.worker import SessionProcess

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REFUSAL = "Refusing to start: SECRET_KEY"
# The Procfile's commands (the release's first half: its migrate).
PROCESSES = {
    "web": [str(BIN / "gunicorn"), "project.wsgi", "--config", "gunicorn.conf.py"],
    "worker": [str(BIN / "celery"), "-A", "project", "worker", "--loglevel", "INFO", "--concurrency", "1"],
    "beat": [str(BIN / "celery"), "-A", "project", "beat", "--loglevel", "INFO"],
    "release": [sys.executable, "manage.py", "migrate", "--noinput"],
}


def production(tmp_path: Path, **environ: str) -> dict[str, str]:
    """The production settings on a throwaway SQLite database and filesystem broker, debug off."""
    inherited = {name: value for name, value in os.environ.items() if name in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_HTTPS": "false",
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "filesystem://",
        "PORT": str(free_port()),
        "WEB_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "1",
        **environ,
    }


def run(name: str, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Generous: four Django start-ups on a loaded machine. A process that did not refuse runs on, and times out.
    return subprocess.run(
        PROCESSES[name], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("name", list(PROCESSES))
def test_every_process_refuses_to_start_without_a_secret_key(tmp_path: Path, name: str) -> None:
    finished = run(name, production(tmp_path))

    assert finished.returncode != 0
    assert REFUSAL in finished.stdout + finished.stderr
    assert "is not set" in finished.stdout + finished.stderr


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("release", settings.DEVELOPMENT_SECRET_KEY),  # the key in the repository, set on purpose
        ("worker", "short-but-random-" + secrets.token_hex(8)),
        ("web", "ab" * 40),
    ],
    ids=["development", "short", "few-distinct"],  # fixed ids: xdist workers must collect the same names
)
def test_the_development_key_or_a_weak_one_is_refused_too(tmp_path: Path, name: str, key: str) -> None:
    finished = run(name, production(tmp_path, SECRET_KEY=key))

    assert finished.returncode != 0
    assert REFUSAL in finished.stdout + finished.stderr


def test_with_a_proper_key_the_release_migrates_and_the_web_serves(tmp_path: Path) -> None:
    environment = production(tmp_path, SECRET_KEY=secrets.token_urlsafe(50))

    released = run("release", environment)
    assert released.returncode == 0, released.stderr
    url = f"http://127.0.0.1:{environment['PORT']}/healthz"
    with gunicorn_serving(environment, int(environment["PORT"])), urllib.request.urlopen(url, timeout=30) as answer:
        assert answer.status == 200


@pytest.mark.parametrize(("name", "started"), [("worker", " ready."), ("beat", "beat: Starting...")])
def test_with_a_proper_key_the_worker_and_beat_start(tmp_path: Path, name: str, started: str) -> None:
    process = SessionProcess(production(tmp_path, SECRET_KEY=secrets.token_urlsafe(50)), tmp_path / f"{name}.log")
    process.spawn(PROCESSES[name])
    try:
        wait_until(lambda: started in process.output() or not process.running(), timeout=120, what=name)
        assert process.running(), process.output()
        assert started in process.output()
    finally:
        process.stop()


def test_debug_accepts_the_development_key(tmp_path: Path) -> None:
    finished = run("release", production(tmp_path, DJANGO_DEBUG="true"))

    assert finished.returncode == 0, finished.stderr


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("", "is not set"),
        ("dev", "is not set"),  # the development key passed in below
        ("django-insecure-" + secrets.token_urlsafe(50), "django-insecure-"),
        (secrets.token_urlsafe(30), "too weak: 40 characters"),
        ("abcd" * 20, "4 distinct"),
    ],
    ids=["empty", "development", "insecure-prefix", "short", "few-distinct"],
)
def test_what_makes_a_key_unfit(key: str, problem: str) -> None:
    assert problem in (secret_key_problem(key, development_key="dev") or "")


def test_a_random_key_of_fifty_characters_is_fit() -> None:
    assert secret_key_problem(secrets.token_urlsafe(50), development_key="dev") is None
