"""The shipped systemd units (deploy/systemd/): systemd-analyze verify and security, offline,
on a root laid out like a VM; what each unit promises; and the app's processes running under
the one hardening rule that could break them (MemoryDenyWriteExecute)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy.render_nginx import WEB_SOCKET
from tests.deploy.conftest import ROOT, AppServer, app_environment
from tests.deploy.systemd import SERVICES, UNITS, analyze, prepare_root, systemd_analyze
from tests.harness.fixtures import started
from tests.harness.servers import LOOPBACK, free_port, port_open, wait_until

pytestmark = pytest.mark.integration

MDWE = Path(__file__).with_name("mdwe.py")
BIN = Path(sys.executable).parent


def unit(name: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for each line; keys may repeat (Environment=)."""
    entries, section = [], ""
    for line in (UNITS / name).read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif line and not line.startswith("#"):
            key, value = line.split("=", 1)
            entries.append((section, key, value))
    return entries


def values(name: str, key: str) -> list[str]:
    return [value for _, found, value in unit(name) if found == key]


def exec_start(name: str) -> list[str]:
    return values(name, "ExecStart")[0].split()


@pytest.fixture
def vm_root(tmp_path: Path) -> Path:
    """/srv/experthub/current -> releases/1 with the console scripts this requirements.txt installs."""
    started(systemd_analyze)
    release_bin = tmp_path / "srv" / "experthub" / "releases" / "1" / "venv" / "bin"
    release_bin.mkdir(parents=True)
    for name in SERVICES:
        program = Path(exec_start(name)[0]).name
        shutil.copy(BIN / program, release_bin / program)
    (tmp_path / "srv" / "experthub" / "current").symlink_to("releases/1")
    return prepare_root(tmp_path)


def test_the_units_pass_systemd_analyze_verify(vm_root: Path) -> None:
    verified = analyze(vm_root, "verify", "--man=no")

    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == ""  # an unknown key is only a warning: none allowed


def test_verify_fails_when_a_command_is_missing_from_the_release(vm_root: Path) -> None:
    (vm_root / "srv" / "experthub" / "releases" / "1" / "venv" / "bin" / "celery").unlink()

    verified = analyze(vm_root, "verify", "--man=no")

    assert verified.returncode != 0
    assert "/srv/experthub/current/venv/bin/celery is not executable" in verified.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_hardened_to_a_low_exposure(vm_root: Path, service: str) -> None:
    # systemd-analyze's scale: 0 (locked down) to 10 (unprotected); --threshold is x10.
    reviewed = analyze(vm_root, "security", "--offline=yes", "--threshold=20", "--no-pager", units=(service,))

    assert reviewed.returncode == 0, reviewed.stdout + reviewed.stderr
    assert "Overall exposure level" in reviewed.stdout


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_runs_the_current_release_and_always_restarts(service: str) -> None:
    assert values(service, "Restart") == ["always"]
    assert values(service, "User") == ["experthub"]
    assert values(service, "WorkingDirectory") == ["/srv/experthub/current"]
    assert values(service, "EnvironmentFile") == ["/srv/experthub/shared/experthub.env"]
    assert exec_start(service)[0].startswith("/srv/experthub/current/venv/bin/")
    assert values(service, "PartOf") == ["experthub.target"]
    for setting, expected in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "/srv/experthub/shared/var",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "PrivateDevices": "yes",
        "MemoryDenyWriteExecute": "yes",
    }.items():
        assert values(service, setting) == [expected], setting


def test_web_listens_on_the_socket_nginx_proxies_to() -> None:
    command = exec_start("experthub-web.service")

    assert command[command.index("--bind") + 1] == WEB_SOCKET  # render_nginx's default upstream
    assert values("experthub-web.service", "RuntimeDirectory") == ["experthub"]
    assert values("experthub-web.service", "Type") == ["notify"]


# --- MemoryDenyWriteExecute=yes: the processes still work -----------------------------------------


def under_mdwe(command: list[str], environment: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(MDWE), *command],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> str:
    process.terminate()
    output = process.communicate(timeout=60)[0]
    if process.returncode == 97:
        pytest.skip(f"this kernel cannot refuse writable-executable memory: {output}")
    return output


def test_gunicorn_gevent_serves_without_writable_executable_memory(app_server: AppServer) -> None:
    from tests.harness.nginx import request

    port = free_port()
    environment = app_environment(app_server.static_root.parent)  # migrated by app_server
    process = under_mdwe(
        [str(BIN / "gunicorn"), "project.wsgi", "--config", "gunicorn.conf.py", "--bind", f"{LOOPBACK}:{port}"],
        environment,
    )
    try:
        wait_until(lambda: port_open(port) or process.poll() is not None, timeout=60, what="gunicorn")
        if process.poll() is None:
            reply = request(port, "GET", "/admin/login/", host="localhost")
            assert reply.status == 200
            time.sleep(0.5)  # the worker logs the request
    finally:
        output = finished(process)
    assert "Booting worker" in output
    assert "Worker failed to boot" not in output


@pytest.mark.parametrize(
    ("command", "ready"),
    [
        (["worker", "--loglevel", "INFO", "--concurrency", "1"], " ready."),
        (["beat", "--loglevel", "INFO"], "beat: Starting..."),
    ],
    ids=["worker", "beat"],
)
def test_celery_starts_without_writable_executable_memory(tmp_path: Path, command: list[str], ready: str) -> None:
    environment = app_environment(tmp_path)  # the filesystem broker under VAR_DIR
    process = under_mdwe([str(BIN / "celery"), "-A", "project", *command], environment)
    lines: list[str] = []
    assert process.stdout is not None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        lines.append(process.stdout.readline())
        if ready in lines[-1]:
            break
    output = "".join(lines) + finished(process)
    assert ready in output, output
