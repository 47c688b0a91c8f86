"""The test's stand-in for `systemctl restart experthub.target`: stop the gunicorn of the
previous release (pid file), start gunicorn from <target>/current as experthub-web.service
does (the shared environment file, nothing else), and return at once.

    python tests/deploy/restart_web.py --target T --port P
    python tests/deploy/restart_web.py --target T --stop
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from deploy.release import Target, read_env_file, system_environment


def stop(pid_file: Path) -> None:
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGTERM)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def start(target: Target, port: int, run: Path) -> int:
    # experthub-web.service: Environment=STATIC_ROOT=..., then the EnvironmentFile.
    environment = {
        **system_environment(),
        "STATIC_ROOT": str(target.current / "static"),
        **read_env_file(target.env_file),
    }
    gunicorn = target.current / "venv" / "bin" / "gunicorn"
    daemon = ["--daemon", "--pid", str(run / "web.pid"), "--error-logfile", str(run / "web.log")]
    return subprocess.call(
        [str(gunicorn), "project.wsgi", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", *daemon],
        cwd=target.current,  # the kernel resolves the symlink: the process stays in its release
        env=environment,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", type=Path, required=True)
    parser.add_argument("--port", type=int)
    parser.add_argument("--stop", action="store_true", help="stop only (the test's cleanup)")
    arguments = parser.parse_args()
    target = Target(arguments.target)
    run = target.shared / "run"
    run.mkdir(parents=True, exist_ok=True)
    stop(run / "web.pid")
    return 0 if arguments.stop else start(target, arguments.port, run)


if __name__ == "__main__":
    sys.exit(main())
