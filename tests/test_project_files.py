"""The deployment files agree with each other and with the interpreter the tests run on."""

from __future__ import annotations

import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_runtime_txt_and_python_version_agree_with_the_interpreter() -> None:
    runtime = (ROOT / "runtime.txt").read_text().strip()
    python_version = (ROOT / ".python-version").read_text().strip()

    assert re.fullmatch(r"python-3\.\d+\.\d+", runtime), runtime
    assert runtime.removeprefix("python-").rsplit(".", 1)[0] == python_version
    assert python_version == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_procfile_declares_the_web_worker_beat_and_release_processes() -> None:
    processes = procfile()

    assert processes["web"].startswith("gunicorn project.wsgi ")
    assert "--config gunicorn.conf.py" in processes["web"]
    assert processes["worker"].startswith("celery -A project worker ")
    assert processes["beat"].startswith("celery -A project beat ")
    assert processes["release"] == "python manage.py migrate --noinput"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_runs_the_procfile_web_worker_and_beat_as_a_paas_would() -> None:
    dry_run = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MAKEFLAGS": ""},
    )

    serve = dry_run.stdout.strip().splitlines()[-1]
    assert "exec honcho start --procfile Procfile" in serve, serve
    assert serve.endswith(" web worker beat"), serve


def gunicorn_config(monkeypatch: pytest.MonkeyPatch, **environ: str) -> dict[str, object]:
    for name in ("PORT", "WEB_HOST", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_runs_gevent_workers_on_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gunicorn_config(monkeypatch)

    assert config["worker_class"] == "gevent"
    assert config["bind"] == "127.0.0.1:8000"
    assert config["workers"] == 2
    # Preloading would import the app in the master, before gevent patches the workers.
    assert not config.get("preload_app", False)


def test_gunicorn_binds_every_interface_on_the_port_a_paas_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gunicorn_config(monkeypatch, PORT="5123", WEB_CONCURRENCY="4")

    assert config["bind"] == "0.0.0.0:5123"
    assert config["workers"] == 4


def test_ci_entry_point_is_strict_and_runs_make_test() -> None:
    script = ROOT / ".ci" / "run"

    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert "set -euo pipefail" in text
    assert re.search(r"^exec make test$", text, re.MULTILINE)
