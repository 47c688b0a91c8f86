"""Start and stop throwaway servers on loopback. Used by pytest fixtures and by `python -m tests.harness`."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"


class ServerUnavailable(RuntimeError):
    """A server binary is missing or the server would not start."""


def servers_required() -> bool:
    """In CI a missing server is a failure, never a skip."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_until(ready: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise ServerUnavailable(f"{what} did not become ready within {timeout:.0f}s")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.2):
            return True
    except OSError:
        return False


# --- PostgreSQL ------------------------------------------------------------------------------


def postgres_bin(name: str) -> str:
    """The binary from the newest installed Debian PostgreSQL (initdb and pg_ctl are not on PATH there)."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key)
    if candidates:
        return candidates[-1]
    found = shutil.which(name)
    if found:
        return found
    raise ServerUnavailable(f"PostgreSQL's {name} is not installed (apt-get install postgresql)")


def _version_key(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except ValueError:
        return 0


def _unprivileged() -> tuple[list[str], int | None, int | None]:
    """initdb and pg_ctl refuse root: as root, run them as the 'postgres' user."""
    if os.geteuid() != 0:
        return [], None, None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError as e:
        raise ServerUnavailable("running as root and there is no 'postgres' user to run PostgreSQL as") from e
    return ["runuser", "-u", "postgres", "--"], user.pw_uid, user.pw_gid


def _run(command: list[str], **kwargs: object) -> None:
    prefix, _, _ = _unprivileged()
    result = subprocess.run([*prefix, *command], capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise ServerUnavailable(f"{' '.join(command)} failed: {result.stdout}{result.stderr}")


@dataclass
class PostgresServer:
    """A cluster in its own temp dir. ``settings`` are written to postgresql.conf."""

    settings: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="experthub-pg-")))
    user: str = "postgres"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://{self.user}@{LOOPBACK}:{self.port}/{database}"

    def start(self) -> PostgresServer:
        self._own_root()
        if not self.data.exists():
            _run(
                [
                    postgres_bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--locale=C.UTF-8",
                ]
            )
            self._configure()
        self._ctl("start", "-w", "-t", "60", "-l", str(self.root / "server.log"))
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._ctl("stop", "-m", "immediate", "-w")

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = subprocess.run(
            [postgres_bin("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, self.url(database)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise ServerUnavailable(f"psql failed: {result.stderr}")
        return result.stdout.strip()

    def replica(self) -> PostgresServer:
        """A streaming hot-standby replica of this server (pg_basebackup -R), started."""
        standby = PostgresServer(settings=self.settings)
        standby._own_root()
        _run(
            [
                postgres_bin("pg_basebackup"),
                "-h",
                LOOPBACK,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-D",
                str(standby.data),
                "-R",
                "-X",
                "stream",
                "--no-sync",
            ]
        )
        _append(standby.data / "postgresql.conf", {"port": str(standby.port)}, owner=_unprivileged())
        return standby.start()

    def _configure(self) -> None:
        conf = {
            "listen_addresses": f"'{LOOPBACK}'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": "200",
            # Throwaway data: durability off for speed.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "wal_level": "replica",
            "max_wal_senders": "10",
            "hot_standby": "on",
            **self.settings,
        }
        _append(self.data / "postgresql.conf", conf, owner=_unprivileged())
        hba = self.data / "pg_hba.conf"
        with hba.open("a") as f:
            f.write(f"host replication all {LOOPBACK}/32 trust\n")

    def _ctl(self, *args: str) -> None:
        _run([postgres_bin("pg_ctl"), "-D", str(self.data), *args])

    def _own_root(self) -> None:
        _, uid, gid = _unprivileged()
        if uid is not None and gid is not None:
            os.chown(self.root, uid, gid)


def _append(path: Path, settings: dict[str, str], owner: tuple[list[str], int | None, int | None]) -> None:
    with path.open("a") as f:
        f.writelines(f"{key} = {value}\n" for key, value in settings.items())


# --- Redis -------------------------------------------------------------------------------


@dataclass
class RedisServer:
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerUnavailable("redis-server is not installed (apt-get install redis-server)")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                LOOPBACK,
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), timeout=20, what="redis-server")
        return self

    def hang(self) -> None:
        """Freeze the process (SIGSTOP): connections open but nothing answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self.process is not None:
            self.resume()
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


# --- S3 (moto server mode) ----------------------------------------------------------------


@dataclass
class MotoServer:
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> MotoServer:
        binary = shutil.which("moto_server") or str(Path(os.sys.executable).with_name("moto_server"))  # type: ignore[attr-defined]
        if not Path(binary).exists():
            raise ServerUnavailable("moto_server is not installed (pip install 'moto[server]')")
        self.process = subprocess.Popen(
            [binary, "-H", LOOPBACK, "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(self._answers, timeout=30, what="moto_server")
        return self

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
