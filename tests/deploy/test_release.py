"""The release flow end to end on a local target directory (deploy/release.py as a command).

Three releases of a copy of this repository: the first installs and serves, the second (a
changed admin header) replaces it, the third (its WSGI module raises, so gunicorn's workers
never boot) fails its health check and is rolled back by the tool; then `rollback` goes back
one more. Each release gets its own virtualenv, built from the wheels in its package.
gunicorn is restarted by tests/deploy/restart_web.py, standing in for systemctl.
"""

from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import os
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from tests.deploy.systemd import analyze, prepare_root, systemd_analyze
from tests.harness.servers import LOOPBACK, ServerUnavailable, free_port, servers_required

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RESTART = Path(__file__).with_name("restart_web.py")
HEALTH_PATH = "/healthz"  # liveness: answers as soon as the release serves (project/health.py)
GIT = ["git", "-c", "user.name=ExpertHub tests", "-c", "user.email=tests@experthub.invalid"]


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """requirements.txt's wheels, built once per requirements file and kept in var/."""
    requirements = ROOT / "requirements.txt"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    directory = ROOT / "var" / "deploy-wheelhouse" / digest
    if not (directory / ".complete").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "-r", str(requirements), "-w", str(directory)],
            check=True,
            capture_output=True,
        )
        (directory / ".complete").touch()
    return directory


@pytest.fixture
def app_repository(tmp_path: Path) -> Path:
    """A git repository holding this working tree's files (committed or not)."""
    repository = tmp_path / "app"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (repository / name).parent.mkdir(parents=True, exist_ok=True)
            (repository / name).write_bytes(source.read_bytes())
    subprocess.run(["git", "init", "-q", str(repository)], check=True)
    commit(repository, "release 1")
    return repository


def commit(repository: Path, message: str) -> None:
    subprocess.run([*GIT, "-C", str(repository), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(repository), "commit", "-q", "-m", message], check=True)


def release_tool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "release.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def build(repository: Path, version: str, output: Path, wheelhouse: Path) -> Path:
    built = release_tool(
        "build", "--source", repository, "--version", version, "--output", output,
        "--pip-args", f"--no-index --find-links {wheelhouse}",
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    return Path(built.stdout.strip())


def page(port: int) -> tuple[int, str]:
    """The admin login page, whose header each test release changes."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        # As nginx forwards it: the release runs in HTTPS mode (a real SECRET_KEY), so plain HTTP redirects.
        connection.request("GET", "/admin/login/", headers={"Host": "localhost", "X-Forwarded-Proto": "https"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def serving_release(target: Path) -> Path:
    """The release directory gunicorn's master runs in."""
    pid = int((target / "shared" / "run" / "web.pid").read_text())
    return Path(os.readlink(f"/proc/{pid}/cwd"))


def stop_gunicorn(target: Path) -> None:
    subprocess.run([sys.executable, str(RESTART), "--stop", "--target", str(target)], check=False)


def test_releases_install_switch_and_a_broken_one_rolls_back(
    tmp_path: Path, app_repository: Path, wheelhouse: Path
) -> None:
    target, dist, port = tmp_path / "srv" / "experthub", tmp_path / "dist", free_port()
    (target / "shared").mkdir(parents=True)
    (target / "shared" / "experthub.env").write_text(
        "# the test's shared environment file\n"
        "SECRET_KEY='release-test-secret-key-0123456789-0123456789-0123456789'\n"
        "ALLOWED_HOSTS=localhost,127.0.0.1\n"
        f"VAR_DIR={target / 'shared' / 'var'}\n"
        f"DATABASE_URL=sqlite:///{target / 'shared' / 'var' / 'experthub.sqlite3'}\n"
        "EVENTS_BACKEND=log\nWEB_CONCURRENCY=1\n"
    )
    service = [
        "--target", target,
        "--restart-command", f"{sys.executable} {RESTART} --target {target} --port {port}",
        "--health-url", f"http://{LOOPBACK}:{port}", "--health-path", HEALTH_PATH, "--health-timeout", "20",
    ]  # fmt: skip
    # Bytecode is compiled when imported here (production compiles at install: its releases are read-only).
    install = ["install", "--pip-args=--no-compile"]
    releases = target / "releases"
    try:
        # 1: installs and serves.
        first = release_tool(*install, build(app_repository, "1.0.0", dist, wheelhouse), *service)
        assert first.returncode == 0, first.stderr
        assert (target / "current").readlink() == Path("releases/1.0.0")
        assert serving_release(target) == releases / "1.0.0"
        status, body = page(port)
        assert status == 200
        assert "ExpertHub back office" in body
        assert (releases / "1.0.0" / "VERSION").read_text() == "1.0.0\n"
        # The commit the app reports (GET /api/v1/version/) and keys its caches with.
        head = subprocess.run([*GIT, "-C", str(app_repository), "rev-parse", "HEAD"], capture_output=True, text=True)
        assert json.loads((releases / "1.0.0" / "build-info.json").read_text())["git_sha"] == head.stdout.strip()
        assert own_virtualenv(releases / "1.0.0")
        assert (releases / "1.0.0" / "static" / "staticfiles.json").exists()
        units_verify_against(tmp_path)  # tmp_path/srv/experthub is /srv/experthub

        # 2: a changed app replaces it.
        admin = app_repository / "project" / "admin.py"
        admin.write_text(admin.read_text().replace('"ExpertHub back office"', '"ExpertHub back office, release 2"'))
        commit(app_repository, "release 2")
        second = release_tool(*install, build(app_repository, "1.0.1", dist, wheelhouse), *service)
        assert second.returncode == 0, second.stderr
        assert (target / "current").readlink() == Path("releases/1.0.1")
        assert serving_release(target) == releases / "1.0.1"
        assert "back office, release 2" in page(port)[1]
        assert own_virtualenv(releases / "1.0.1")
        assert migrated_once(target)

        # 3: its workers cannot boot: health check fails, the tool puts 1.0.1 back.
        wsgi = app_repository / "project" / "wsgi.py"
        wsgi.write_text(wsgi.read_text() + '\nraise RuntimeError("release 3 is broken")\n')
        commit(app_repository, "release 3, broken")
        third = release_tool(*install, build(app_repository, "1.0.2", dist, wheelhouse), *service)
        assert third.returncode == 1, third.stderr
        assert "release 1.0.2 is not healthy" in third.stderr
        assert "rolled back to 1.0.1, which is" in third.stderr
        assert (target / "current").readlink() == Path("releases/1.0.1")
        assert serving_release(target) == releases / "1.0.1"
        status, body = page(port)
        assert status == 200
        assert "back office, release 2" in body
        assert (releases / "1.0.2" / ".failed").exists()

        # By hand: back one more release.
        back = release_tool("rollback", *service)
        assert back.returncode == 0, back.stderr
        assert (target / "current").readlink() == Path("releases/1.0.0")
        assert "back office, release 2" not in page(port)[1]
    finally:
        stop_gunicorn(target)


def units_verify_against(root: Path) -> None:
    """The shipped units' commands exist in this real release (systemd-analyze verify --root)."""
    try:
        systemd_analyze()
    except ServerUnavailable:
        if servers_required():
            raise
        return
    verified = analyze(prepare_root(root), "verify", "--man=no")
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == ""


def own_virtualenv(release: Path) -> bool:
    """The release's python runs from its own venv and imports Django from there."""
    where = subprocess.run(
        [
            str(release / "venv" / "bin" / "python"),
            "-c",
            "import sys, django; print(sys.prefix); print(django.__file__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return where[0] == str(release / "venv") and where[1].startswith(str(release / "venv"))


def migrated_once(target: Path) -> bool:
    """Both releases use the one database in shared/var, migrated."""
    with sqlite3.connect(target / "shared" / "var" / "experthub.sqlite3") as database:
        return database.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 0


# --- the tool's parts that need no release ----------------------------------------------------------


def test_old_releases_beyond_keep_and_failed_ones_are_pruned(tmp_path: Path) -> None:
    from deploy.release import Target, prune

    target = Target(tmp_path)
    for version in ("1", "2", "3", "4", "5"):
        (target.releases / version).mkdir(parents=True)
        (target.releases / version / ".installed").touch()
        time.sleep(0.01)  # install order is the marker's modification time
    (target.releases / "4" / ".installed").rename(target.releases / "4" / ".failed")
    target.switch(target.releases / "5")

    prune(target, keep=2, protect={target.releases / "5", target.releases / "1"})

    assert sorted(path.name for path in target.releases.iterdir()) == ["1", "3", "5"]


def test_the_health_check_speaks_http_over_the_apps_unix_socket(tmp_path: Path) -> None:
    from deploy.release import Service

    socket_path = tmp_path / "web.sock"
    server = UnixHttpServer(str(socket_path), StatusHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        service = Service("true", f"unix:{socket_path}", "/healthz", "localhost", health_timeout=2)
        failing = Service("true", f"unix:{socket_path}", "/broken", "localhost", health_timeout=1)

        assert service.healthy() is None
        assert failing.healthy() == f"unix:{socket_path}/broken: HTTP 500"
        assert StatusHandler.hosts[0] == "localhost"
    finally:
        server.shutdown()
        server.server_close()


class UnixHttpServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class StatusHandler(http.server.BaseHTTPRequestHandler):
    hosts: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        StatusHandler.hosts.append(self.headers["Host"])
        self.send_response(200 if self.path == "/healthz" else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def address_string(self) -> str:  # a unix socket has no client address
        return "unix"

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_version_is_the_one_the_code_declares(tmp_path: Path) -> None:
    from deploy.release import code_version

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "experthub"\nversion = "0.3.0"\n')
    from_pyproject = code_version(tmp_path)
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "version.py").write_text('"""The version."""\n\n__version__ = "0.4.1"\n')

    assert from_pyproject == "0.3.0"
    assert code_version(tmp_path) == "0.4.1"


def test_the_environment_file_is_read_as_systemd_reads_it(tmp_path: Path) -> None:
    from deploy.release import read_env_file

    env_file = tmp_path / "experthub.env"
    env_file.write_text("# comment\n; another\n\nSECRET_KEY='a b=c'\nALLOWED_HOSTS = x.example\nEMPTY=\n")

    assert read_env_file(env_file) == {"SECRET_KEY": "a b=c", "ALLOWED_HOSTS": "x.example", "EMPTY": ""}
