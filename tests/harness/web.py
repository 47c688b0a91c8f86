"""The Procfile's web command (gunicorn with the project's config) as a test server on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tests.harness.servers import port_open, wait_until

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


@contextmanager
def gunicorn_serving(
    environment: dict[str, str], port: int, *, config: str = "gunicorn.conf.py", arguments: Sequence[str] = ()
) -> Iterator[subprocess.Popen[str]]:
    """`gunicorn project.wsgi --config <config>`, yielded once ``port`` answers (its stderr in
    the failure message if it exits first); stopped with SIGTERM, as a PaaS stops it.

    Its stderr (the app's log) goes to a file, not a pipe: nobody reads a pipe while the
    server runs, and once a busy server's log fills it every worker blocks on a write."""
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(
            [GUNICORN, "project.wsgi", "--config", config, *arguments],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        try:
            wait_until(lambda: port_open(port) or process.poll() is not None, timeout=60, what="gunicorn")
            if process.poll() is not None:
                log.seek(0)
                raise AssertionError(f"gunicorn exited: {log.read()}")
            yield process
        finally:
            process.terminate()
            process.wait(timeout=30)


def worker_pids(master: subprocess.Popen[str]) -> set[int]:
    """The gunicorn master's worker processes."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    return {int(pid) for pid in children}


@contextmanager
def only(master: subprocess.Popen[str], worker: int) -> Iterator[None]:
    """Every other worker frozen (SIGSTOP): this one accepts every connection meanwhile.

    Which worker accepts a connection is the kernel's choice; this makes it the test's."""
    others = worker_pids(master) - {worker}
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)
