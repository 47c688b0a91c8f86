"""`python -m tests.harness -- <command>`: the stack run's servers, environment, exit code and clean-up.

Runs in the stack run only (it starts a stack of its own): there the servers
are known to be installed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness.servers import port_open

pytestmark = pytest.mark.postgres_only

ROOT = Path(__file__).resolve().parents[2]
# The command run on the stack: report the environment it was given, then exit 7.
REPORT = (
    "import json, os, sys; "
    "json.dump({k: v for k, v in os.environ.items() if k.startswith(('DATABASE_', 'REDIS_', 'S3_', 'TEST_'))"
    " or k.endswith('_BACKEND')}, open(sys.argv[1], 'w')); sys.exit(7)"
)


def harness(*command: str, **environment: str) -> subprocess.Popen[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.endswith("_BACKEND")}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.harness", "--", *command],
        cwd=ROOT,
        env={**inherited, **environment},
        stderr=subprocess.PIPE,
        text=True,
    )


def port_of(url: str) -> str:
    return url.split("127.0.0.1:")[1].split("/")[0]


def running(port: str) -> bool:
    return port_open(int(port))


def test_the_command_runs_on_the_production_stack_and_its_exit_code_is_kept(tmp_path: Path) -> None:
    report = tmp_path / "environment.json"

    process = harness(sys.executable, "-c", REPORT, str(report))
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 7, stderr
    seen = json.loads(report.read_text())
    assert seen["DATABASE_URL"].startswith("postgres://postgres@127.0.0.1:")
    assert seen["DATABASE_URL"].endswith("/experthub")
    assert seen["REDIS_URL"].startswith("redis://127.0.0.1:")
    assert seen["S3_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert (seen["SEARCH_BACKEND"], seen["BLOB_BACKEND"], seen["VIEW_COUNTER_BACKEND"]) == ("postgres", "s3", "redis")
    assert (seen["S3_BUCKET"], seen["S3_ADDRESSING_STYLE"], seen["TEST_STACK"]) == ("experthub", "path", "production")
    ports = [
        seen["DATABASE_URL"].rsplit(":", 1)[1].split("/")[0],
        *(seen[n].rsplit(":", 1)[1] for n in ("S3_ENDPOINT_URL",)),
    ]
    assert not any(running(port) for port in ports), "a server outlived the run"


def test_an_adapter_already_chosen_in_the_environment_is_kept(tmp_path: Path) -> None:
    report = tmp_path / "environment.json"

    process = harness(sys.executable, "-c", REPORT, str(report), SEARCH_BACKEND="memory")
    process.communicate(timeout=120)

    assert json.loads(report.read_text())["SEARCH_BACKEND"] == "memory"


def test_sigterm_stops_the_command_and_the_servers() -> None:
    process = harness("sleep", "60")
    line = process.stderr.readline()  # printed once every server is up
    assert line.startswith("harness: DATABASE_URL="), line

    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)

    assert process.returncode == 128 + signal.SIGTERM
    assert time.monotonic() - started < 30
    assert not running(port_of(line))


@pytest.mark.parametrize(("ci", "exit_code", "says"), [("true", 3, "CI needs this server"), ("", 0, "SKIPPED")])
def test_a_missing_server_fails_in_ci_and_skips_elsewhere(tmp_path: Path, ci: str, exit_code: int, says: str) -> None:
    # A PATH without redis-server (runuser kept: PostgreSQL runs as the postgres user under root).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("runuser",):
        if found := shutil.which(tool):
            (bin_dir / tool).symlink_to(found)

    process = harness("true", PATH=str(bin_dir), CI=ci)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == exit_code, stderr
    assert says in stderr
    assert "redis-server" in stderr
