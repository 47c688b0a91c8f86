"""Versioned releases on a VM: build a package, install it beside the others, switch, restart,
check health, and roll back by itself when the new release is not healthy.

Plain standard library, no Django: it runs on the target before the release's virtualenv
exists. `python deploy/release.py --help` (or `python -m deploy --help`).

    build    git archive of a commit + VERSION + REVISION + the wheels of requirements.txt
             -> dist/experthub-<version>.tar.gz (the target then needs no package index)
    install  the package into <target>/releases/<version> with its own virtualenv, link the
             shared environment file and var/ dir, collectstatic, check, migrate, switch the
             `current` symlink atomically, restart, health-check; a failing health check
             switches back to the previous release, restarts it and exits 1
    rollback switch `current` back to the release installed before it (or --to VERSION)

Target layout (docs/deploy-vm.md):
    <target>/releases/<version>/   the unpacked package, venv/, static/, var -> ../../shared/var
    <target>/current               -> releases/<version>: what systemd runs (WorkingDirectory)
    <target>/shared/experthub.env  every release's environment (systemd EnvironmentFile syntax)
    <target>/shared/var/           data that outlives releases (VAR_DIR)

Migrations are not undone by a rollback: a release's migrations must leave the schema usable
by the release before it (add columns and tables first, drop them a release later).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import http.client
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

PACKAGE_PREFIX = "experthub-"
ENV_FILE = "experthub.env"
INSTALLED_MARKER = ".installed"


class DeployError(Exception):
    """A step failed; the message says which and what state the target is left in."""


def say(message: str) -> None:
    print(f"==> {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def run(command: Sequence[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    """Run a step; its output goes into the error when it fails."""
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        shown = " ".join(shlex.quote(str(part)) for part in command)
        raise DeployError(f"`{shown}` failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return result.stdout


# --- build ------------------------------------------------------------------------------------


def code_version(tree: Path) -> str:
    """The version the code declares: project/version.py's __version__, else pyproject.toml's."""
    module = tree / "project" / "version.py"
    if module.exists():
        found = re.search(r"""^__version__\s*=\s*["']([^"']+)["']""", module.read_text(), re.MULTILINE)
        if found:
            return found.group(1)
    return str(tomllib.loads((tree / "pyproject.toml").read_text())["project"]["version"])


def build(*, source: Path, ref: str, version: str | None, output: Path, python: str, pip_args: Sequence[str]) -> Path:
    """The package of ``ref`` (committed code only) with its wheels; returns its path."""
    with tempfile.TemporaryDirectory(prefix="experthub-build-") as scratch:
        tree = Path(scratch) / "tree"
        tree.mkdir()
        _export(source, ref, tree)
        version = version or code_version(tree)
        _check_version(version)
        revision = run(["git", "-C", source, "rev-parse", f"{ref}^{{commit}}"]).strip()
        (tree / "VERSION").write_text(f"{version}\n")
        (tree / "REVISION").write_text(f"{revision}\n")
        # What the app reports (GET /api/v1/version/) and keys its caches with (project/version.py).
        build_info = {"version": version, "git_sha": revision, "build_time": _utc_now()}
        (tree / "build-info.json").write_text(json.dumps(build_info) + "\n")
        say(f"building wheels for {version}")
        run(
            [python, "-m", "pip", "wheel", "--quiet", "-r", tree / "requirements.txt", "-w", tree / "wheels", *pip_args]
        )
        output.mkdir(parents=True, exist_ok=True)
        package = output / f"{PACKAGE_PREFIX}{version}.tar.gz"
        with tarfile.open(package, "w:gz", compresslevel=1) as archive:
            archive.add(tree, arcname=f"{PACKAGE_PREFIX}{version}")
    say(f"built {package}")
    return package


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _export(source: Path, ref: str, tree: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(source), "archive", "--format=tar", ref], capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise DeployError(f"git archive {ref} failed: {archive.stderr.decode()}")
    with tarfile.open(fileobj=_BytesReader(archive.stdout), mode="r|") as stream:
        stream.extractall(tree, filter="data")


class _BytesReader:
    """A file object over bytes for tarfile's stream mode."""

    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._at + size
        chunk, self._at = self._data[self._at : end], min(end, len(self._data))
        return chunk


def _check_version(version: str) -> None:
    if not re.fullmatch(r"[0-9A-Za-z][0-9A-Za-z.+_-]*", version):
        raise DeployError(f"{version!r} is not a usable release name (letters, digits, . + _ -)")


# --- the target -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    root: Path

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def current(self) -> Path:
        return self.root / "current"

    @property
    def shared(self) -> Path:
        return self.root / "shared"

    @property
    def env_file(self) -> Path:
        return self.shared / ENV_FILE

    def current_release(self) -> Path | None:
        return self.current.resolve() if self.current.is_symlink() else None

    def installed(self) -> list[Path]:
        """Completely installed releases, oldest first."""
        done = [path for path in self.releases.glob("*") if (path / INSTALLED_MARKER).exists()]
        return sorted(done, key=lambda path: (path / INSTALLED_MARKER).stat().st_mtime_ns)

    def switch(self, release: Path) -> None:
        """Point `current` at ``release`` in one rename: a reader sees the old or the new, never none."""
        temporary = self.root / f".current-{os.getpid()}"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(release.relative_to(self.root))
        os.replace(temporary, self.current)
        say(f"current -> {release.relative_to(self.root)}")

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One deploy at a time on a target."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".deploy.lock").open("w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as e:
                raise DeployError(f"another deploy holds {self.root / '.deploy.lock'}") from e
            yield


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines as systemd's EnvironmentFile reads them (comments, optional quotes)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


# --- install ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    """How the services are restarted and how their health is judged."""

    restart_command: str
    health_url: str
    health_path: str
    health_host: str
    health_timeout: float

    def restart(self) -> str | None:
        """None when the restart command succeeded, else what it said."""
        say(f"restarting: {self.restart_command}")
        result = subprocess.run(
            shlex.split(self.restart_command), capture_output=True, text=True, timeout=300, check=False
        )
        return None if result.returncode == 0 else f"exit {result.returncode}: {result.stdout}{result.stderr}"

    def healthy(self) -> str | None:
        """None once GET health_path answers 200 within health_timeout, else the last failure."""
        deadline, failure = time.monotonic() + self.health_timeout, "no attempt"
        while time.monotonic() < deadline:
            failure = _probe(self.health_url, self.health_path, self.health_host)
            if failure is None:
                say(f"healthy: {self.health_url}{self.health_path}")
                return None
            time.sleep(0.5)
        return f"{self.health_url}{self.health_path}: {failure}"

    def restart_and_check(self) -> str | None:
        return self.restart() or self.healthy()


def _probe(url: str, path: str, host: str) -> str | None:
    connection = _health_connection(url)
    try:
        connection.request("GET", path, headers={"Host": host, "User-Agent": "experthub-release"})
        status = connection.getresponse().status
        return None if status == 200 else f"HTTP {status}"
    except (OSError, http.client.HTTPException) as error:
        return f"{type(error).__name__}: {error}"
    finally:
        connection.close()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._socket_path = socket_path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._socket_path)


def _health_connection(url: str) -> http.client.HTTPConnection:
    """unix:/run/experthub/web.sock (the app server itself) or http://host:port."""
    if url.startswith("unix:"):
        return _UnixConnection(url.removeprefix("unix:"), timeout=5)
    address = url.removeprefix("http://").rstrip("/")
    return http.client.HTTPConnection(address, timeout=5)


def install(
    *, package: Path, target: Target, service: Service, python: str, pip_args: Sequence[str], keep: int
) -> None:
    """Install, switch, restart, check; roll back on a failed check (raises DeployError after)."""
    with target.locked():
        if not target.env_file.exists():
            raise DeployError(f"{target.env_file} is missing: copy deploy/systemd/experthub.env.example there")
        release = _unpack(package, target)
        _prepare(release, target, python=python, pip_args=pip_args)
        previous = target.current_release()
        (release / INSTALLED_MARKER).write_text(f"{time.time()}\n")
        target.switch(release)
        failure = service.restart_and_check()
        if failure is not None:
            _roll_back(target, service, failed=release, previous=previous, failure=failure)
        prune(target, keep=keep, protect={release, previous})
        say(f"release {release.name} is live")


def _unpack(package: Path, target: Target) -> Path:
    with tarfile.open(package) as archive:
        top = archive.getmembers()[0].name.split("/", 1)[0]
        if not top.startswith(PACKAGE_PREFIX):
            raise DeployError(f"{package} is not an ExpertHub package (top directory {top!r})")
        version = top.removeprefix(PACKAGE_PREFIX)
        _check_version(version)
        release = target.releases / version
        if release == target.current_release():
            raise DeployError(f"release {version} is the current one: build a new version to deploy")
        target.releases.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(release, ignore_errors=True)  # a failed or superseded install of this version
        say(f"unpacking {package.name} into {release}")
        with tempfile.TemporaryDirectory(dir=target.releases, prefix=".incoming-") as incoming:
            archive.extractall(incoming, filter="data")
            os.rename(Path(incoming) / top, release)
    return release


def _prepare(release: Path, target: Target, *, python: str, pip_args: Sequence[str]) -> None:
    """Everything that can fail before the switch: the live release is untouched until then."""
    (target.shared / "var").mkdir(parents=True, exist_ok=True)
    (release / "var").symlink_to(Path("..", "..", "shared", "var"))
    (release / ENV_FILE).symlink_to(Path("..", "..", "shared", ENV_FILE))
    venv_python = _virtualenv(release, python=python, pip_args=pip_args)
    run([venv_python, "-m", "compileall", "-q", "-x", r"/(venv|var|static)/", release])
    environment = release_environment(release, target)
    for step in (["check"], ["collectstatic", "--noinput"], ["migrate", "--noinput"]):
        say(f"manage.py {' '.join(step)}")
        run([venv_python, "manage.py", *step], cwd=release, env=environment)


def _virtualenv(release: Path, *, python: str, pip_args: Sequence[str]) -> Path:
    """The release's own virtualenv, from the package's wheels when it has them (no index needed)."""
    say("creating the virtualenv")
    run([python, "-m", "venv", release / "venv"])
    venv_python = release / "venv" / "bin" / "python"
    wheels = release / "wheels"
    source = ["--no-index", "--find-links", str(wheels)] if wheels.is_dir() else []
    run([venv_python, "-m", "pip", "install", "--quiet", *source, "-r", release / "requirements.txt", *pip_args])
    shutil.rmtree(wheels, ignore_errors=True)  # installed now; 80 MB less per release
    return venv_python


def release_environment(release: Path, target: Target) -> dict[str, str]:
    """What manage.py runs with: the shared environment file and this release's static root."""
    return {
        **system_environment(),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        **read_env_file(target.env_file),
        "STATIC_ROOT": str(release / "static"),
    }


def system_environment() -> dict[str, str]:
    """Only what systemd gives a service besides its EnvironmentFile: manage.py sees what the services see."""
    return {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ}


def _roll_back(target: Target, service: Service, *, failed: Path, previous: Path | None, failure: str) -> None:
    """Put back what `current` was before (nothing, for a first release), restart it, and raise."""
    (failed / INSTALLED_MARKER).rename(failed / ".failed")  # never a rollback target
    problem = f"release {failed.name} is not healthy ({failure})"
    if previous is None:
        target.current.unlink()
        raise DeployError(f"{problem}; there is no earlier release to roll back to, `current` is removed")
    say(f"{problem}; rolling back to {previous.name}")
    target.switch(previous)
    again = service.restart_and_check()
    if again is not None:
        raise DeployError(f"{problem}; rolled back to {previous.name}, which is not healthy either ({again})")
    raise DeployError(f"{problem}; rolled back to {previous.name}, which is")


def prune(target: Target, *, keep: int, protect: set[Path | None]) -> None:
    """Keep the newest ``keep`` releases (always the current and previous ones); drop failed ones."""
    kept = {path.resolve() for path in protect if path is not None}
    releases = target.installed()
    failed = [path.parent for path in target.releases.glob("*/.failed")]
    for old in [*releases[: max(len(releases) - keep, 0)], *failed]:
        if old.resolve() not in kept:
            say(f"removing release {old.name}")
            shutil.rmtree(old)


# --- rollback ---------------------------------------------------------------------------------


def rollback(*, target: Target, service: Service, to: str | None) -> None:
    with target.locked():
        current = target.current_release()
        installed = target.installed()
        if to is not None:
            chosen = target.releases / to
            if chosen.resolve() not in {path.resolve() for path in installed}:
                raise DeployError(f"no installed release {to!r} in {target.releases}")
        else:
            earlier = installed[: _index(installed, current)]
            if not earlier:
                raise DeployError("no release was installed before the current one")
            chosen = earlier[-1]
        target.switch(chosen)
        failure = service.restart_and_check()
        if failure is not None:
            raise DeployError(f"rolled back to {chosen.name}, which is not healthy: {failure}")
        say(f"release {chosen.name} is live")


def _index(installed: list[Path], current: Path | None) -> int:
    resolved = [path.resolve() for path in installed]
    return resolved.index(current) if current in resolved else len(installed)


# --- command line -----------------------------------------------------------------------------


def _service_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", type=Path, default=Path("/srv/experthub"), help="default /srv/experthub")
    parser.add_argument(
        "--restart-command",
        default="sudo systemctl restart experthub.target",
        help="restarts the services on `current` (default: %(default)s)",
    )
    parser.add_argument(
        "--health-url", default="unix:/run/experthub/web.sock", help="unix:/path or http://host:port (%(default)s)"
    )
    parser.add_argument("--health-path", default="/healthz", help="must answer 200 (default %(default)s)")
    parser.add_argument("--health-host", default="localhost", help="Host header; one of ALLOWED_HOSTS")
    parser.add_argument("--health-timeout", type=float, default=60.0, help="seconds to wait for 200")


def _pip_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--python", default=sys.executable, help="the Python 3.11 to build the virtualenv with")
    parser.add_argument("--pip-args", default="", help="extra pip arguments, e.g. '--no-index --find-links DIR'")


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    summary = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(prog="release", description=summary)
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build", help="make dist/experthub-<version>.tar.gz")
    build_parser.add_argument("--source", type=Path, default=Path.cwd(), help="the git checkout (default: here)")
    build_parser.add_argument("--ref", default="HEAD")
    build_parser.add_argument("--version", help="default: the version the code declares")
    build_parser.add_argument("--output", type=Path, default=Path("dist"))
    _pip_arguments(build_parser)
    install_parser = commands.add_parser("install", help="install a package and make it current")
    install_parser.add_argument("package", type=Path)
    install_parser.add_argument("--keep", type=int, default=5, help="releases kept (default %(default)s)")
    _service_arguments(install_parser)
    _pip_arguments(install_parser)
    rollback_parser = commands.add_parser("rollback", help="make the previous (or --to) release current")
    rollback_parser.add_argument("--to", help="a version under releases/")
    _service_arguments(rollback_parser)
    return parser.parse_args(argv)


def _service(arguments: argparse.Namespace) -> Service:
    return Service(
        restart_command=arguments.restart_command,
        health_url=arguments.health_url,
        health_path=arguments.health_path,
        health_host=arguments.health_host,
        health_timeout=arguments.health_timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    try:
        if arguments.command == "build":
            print(
                build(
                    source=arguments.source,
                    ref=arguments.ref,
                    version=arguments.version,
                    output=arguments.output,
                    python=arguments.python,
                    pip_args=shlex.split(arguments.pip_args),
                )
            )
        elif arguments.command == "install":
            install(
                package=arguments.package,
                target=Target(arguments.target.resolve()),
                service=_service(arguments),
                python=arguments.python,
                pip_args=shlex.split(arguments.pip_args),
                keep=arguments.keep,
            )
        else:
            rollback(target=Target(arguments.target.resolve()), service=_service(arguments), to=arguments.to)
    except DeployError as error:
        print(f"release {arguments.command} failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
