"""The deployment files agree with each other and with the interpreter the tests run on."""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gunicorn.util import load_class
from gunicorn.workers.ggevent import GeventWorker

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
    assert processes["beat"].count("beat") == 1
    release = processes["release"].split(" && ")
    assert release == ["python manage.py migrate --noinput", "python manage.py search_rebuild --verbosity 0"]


def test_app_json_declares_the_add_ons_a_generated_secret_one_beat_and_a_health_check() -> None:
    app = json.loads((ROOT / "app.json").read_text())

    assert app["env"]["SECRET_KEY"] == {"description": app["env"]["SECRET_KEY"]["description"], "generator": "secret"}
    assert app["env"]["DJANGO_DEBUG"]["value"] == "false"
    assert app["env"]["ALLOWED_HOSTS"]["required"] is True
    assert {addon["plan"].split(":")[0] for addon in app["addons"]} == {"heroku-postgresql", "heroku-redis"}
    # Every Procfile process but the release phase, and exactly one beat (docs/celery.md).
    assert set(app["formation"]) == set(procfile()) - {"release"}
    assert app["formation"]["beat"]["quantity"] == 1
    # Dokku's schema: healthchecks.<process> = [{type, path, ...}], probing the exempt path.
    [check] = app["healthchecks"]["web"]
    assert check["type"] == "startup"
    assert check["path"] == "/healthz"
    assert all(isinstance(variable, dict) for variable in app["env"].values())


def test_app_json_fits_the_database_connection_budget_it_declares() -> None:
    from project.database import ConnectionBudget

    env = {name: variable.get("value") for name, variable in json.loads((ROOT / "app.json").read_text())["env"].items()}
    budget = ConnectionBudget(
        web_processes=int(env["WEB_CONCURRENCY"]),
        pool_size=int(env["DATABASE_POOL_MAX_CONNECTIONS"]),
        celery_concurrency=2,
        headroom=5,
        max_connections=int(env["DATABASE_MAX_CONNECTIONS"]),
    )

    assert budget.fits(), budget.explain()


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


GUNICORN_ENVIRONMENT = (
    "PORT",
    "WEB_HOST",
    "WEB_CONCURRENCY",
    "GUNICORN_BIND",
    "GUNICORN_WORKER_CONNECTIONS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_GRACEFUL_TIMEOUT",
    "GUNICORN_KEEPALIVE",
    "GUNICORN_MAX_REQUESTS",
    "GUNICORN_MAX_REQUESTS_JITTER",
    "FORWARDED_ALLOW_IPS",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "DJANGO_DEBUG",
)


def gunicorn_config(monkeypatch: pytest.MonkeyPatch, **environ: str) -> dict[str, object]:
    for name in GUNICORN_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_runs_gevent_workers_on_loopback_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gunicorn_config(monkeypatch)

    assert issubclass(load_class(str(config["worker_class"])), GeventWorker)
    assert config["bind"] == "127.0.0.1:8000"
    assert config["workers"] == 2
    # Preloading would import the app in the master, before gevent patches the workers.
    assert not config.get("preload_app", False)


def test_gunicorn_binds_every_interface_on_the_port_a_paas_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gunicorn_config(monkeypatch, PORT="5123", WEB_CONCURRENCY="4", GUNICORN_BIND="unix:/tmp/ignored.sock")

    assert config["bind"] == "0.0.0.0:5123"
    assert config["workers"] == 4


def test_gunicorn_binds_a_unix_socket_on_a_vm(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gunicorn_config(monkeypatch, GUNICORN_BIND="unix:/run/experthub/web.sock")

    assert config["bind"] == "unix:/run/experthub/web.sock"


def test_gunicorn_defaults_fit_a_paas_and_nginx(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gunicorn_config(monkeypatch)

    assert config["worker_connections"] == 100
    assert config["timeout"] == 30
    # A PaaS sends SIGKILL 30 s after SIGTERM: gunicorn must be done before.
    assert config["graceful_timeout"] < 30
    # nginx keeps idle upstream connections 60 s: gunicorn must hold them longer.
    assert config["keepalive"] > 60
    assert config["max_requests"] == 1000
    assert 0 < config["max_requests_jitter"] < config["max_requests"]
    assert config["forwarded_allow_ips"] == "127.0.0.1,::1"
    assert config["control_socket_disable"] is True
    assert config["logconfig_dict"]  # JSON lines unless DJANGO_DEBUG or LOG_FORMAT=console


def test_gunicorn_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = gunicorn_config(
        monkeypatch,
        GUNICORN_WORKER_CONNECTIONS="50",
        GUNICORN_TIMEOUT="60",
        GUNICORN_GRACEFUL_TIMEOUT="10",
        GUNICORN_KEEPALIVE="95",
        GUNICORN_MAX_REQUESTS="0",
        FORWARDED_ALLOW_IPS="*",
        LOG_FORMAT="console",
    )

    assert (config["worker_connections"], config["timeout"], config["graceful_timeout"]) == (50, 60, 10)
    assert (config["keepalive"], config["max_requests"], config["forwarded_allow_ips"]) == (95, 0, "*")
    assert "logconfig_dict" not in config  # gunicorn's own text lines, with the request id
    assert "%({x-request-id}o)s" in str(config["access_log_format"])


def test_gunicorn_config_imports_nothing_that_uses_ssl_before_gevent_patches() -> None:
    """The master loads this file unpatched; a client library imported here would make
    gevent warn (MonkeyPatchWarning) and keep blocking sockets in every worker."""
    source = (ROOT / "gunicorn.conf.py").read_text()
    top_level_imports = set(re.findall(r"^(?:import|from) (\S+)", source, re.MULTILINE))

    assert top_level_imports == {"json", "logging", "os", "time"}


def test_ci_entry_point_is_strict_and_runs_make_test() -> None:
    script = ROOT / ".ci" / "run"

    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert "set -euo pipefail" in text
    assert re.search(r"^exec make test$", text, re.MULTILINE)


# --- Static files: WhiteNoise, no nginx needed in front ----------------------------------


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """collectstatic as a PaaS build runs it, with the production storage (settings.STORAGES)."""
    static_root = tmp_path_factory.mktemp("static")
    environment = {name: value for name, value in os.environ.items() if not name.startswith("DJANGO_")}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "project.settings", "STATIC_ROOT": str(static_root)},
        check=True,
        timeout=300,
    )
    return static_root


def test_collectstatic_writes_hashed_and_compressed_files(collected_static: Path) -> None:
    manifest = json.loads((collected_static / "staticfiles.json").read_text())["paths"]
    hashed = collected_static / manifest["admin/css/base.css"]

    assert re.fullmatch(r"base\.[0-9a-f]{12}\.css", hashed.name)
    assert hashed.with_name(hashed.name + ".gz").exists()


@pytest.mark.django_db
def test_whitenoise_serves_hashed_files_compressed_and_cached_for_a_year(collected_static: Path) -> None:
    from django.conf import settings
    from django.test import Client, override_settings

    manifest = json.loads((collected_static / "staticfiles.json").read_text())["paths"]
    production_storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    with override_settings(STATIC_ROOT=collected_static, STORAGES=production_storages):
        client = Client()
        hashed = client.get(f"/static/{manifest['admin/css/base.css']}", HTTP_ACCEPT_ENCODING="gzip")
        unhashed = client.get("/static/admin/css/base.css")

    assert hashed.status_code == 200
    assert hashed["Content-Encoding"] == "gzip"
    assert hashed["Cache-Control"] == "max-age=315360000, public, immutable"
    assert unhashed.status_code == 200
    assert "immutable" not in unhashed["Cache-Control"]


def test_heroku_post_compile_keeps_the_built_commit_for_the_running_dynos(tmp_path: Path) -> None:
    """Heroku's build knows SOURCE_VERSION; the dynos do not: bin/post_compile writes it down."""
    import os
    import subprocess

    script = ROOT / "bin" / "post_compile"
    assert os.access(script, os.X_OK)
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "SOURCE_VERSION": "0123456789abcdef0123456789abcdef01234567",
        "BUILD_INFO_FILE": str(tmp_path / "build-info.json"),
        "VAR_DIR": str(tmp_path / "var"),
    }
    subprocess.run(["bash", str(script)], cwd=ROOT, env=environment, check=True, capture_output=True)

    info = json.loads((tmp_path / "build-info.json").read_text())
    assert info["git_sha"] == "0123456789abcdef0123456789abcdef01234567"
    assert info["build_time"]
