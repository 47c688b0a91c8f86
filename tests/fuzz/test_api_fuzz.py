"""Schemathesis against the served OpenAPI schema of a real gunicorn, as each kind of caller.

Every built-in check runs (tests/fuzz/schemathesis.toml): no 5xx, every status, content type,
header and body as the schema documents them, schema-violating requests refused, valid ones
accepted where a schema can say what valid is, and the stateful checks (resources that
disappear after a delete, links that lead somewhere, auth that is not ignored). The seed is
fixed and the server starts from the same data each time, so a failure reproduces.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.conftest import FuzzServer

ST = str(Path(sys.executable).with_name("st"))
CONFIG = Path(__file__).with_name("schemathesis.toml")
# Operations that answer alike with or without a token: fuzzed once, anonymously.
PUBLIC_OPERATIONS = (
    "account_register",
    "auth_token",
    "auth_token_refresh",
    "expert_search",
    "expert_trending",
    "review_list_for_expert",
    "version",
)
# The stage fails as a whole when a run stops short: fewer cases than this means it did not really run.
MIN_CASES = 300
RUN_TIMEOUT_SECONDS = 400


def fuzz_command(server: FuzzServer, identity: str, report: Path) -> list[str]:
    command = [ST, "--config-file", str(CONFIG), "run", server.schema_url, "--no-color"]
    command += ["--report", "json", "--report-json-path", str(report)]
    if identity != "anonymous":
        command += ["--header", f"Authorization: Bearer {server.token(identity)}"]
        command += [argument for operation in PUBLIC_OPERATIONS for argument in ("--exclude-operation-id", operation)]
    return command


def signed_in_role(server: FuzzServer, identity: str) -> str:
    request = urllib.request.Request(
        f"{server.origin}/api/v1/me/", headers={"Authorization": f"Bearer {server.token(identity)}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.load(response)["role"])


def run_summary(report: dict[str, Any]) -> str:
    cases, operations = report["test_cases"], report["operations"]
    return (
        f"{cases['generated']} cases on {operations['tested']}/{operations['selected']} operations "
        f"in {report['running_time']:.0f}s, {cases['unique_failures']} failures, {len(report['errors'])} errors"
    )


@pytest.mark.parametrize("identity", ["client", "expert", "staff"])
def test_each_fuzzing_identity_is_signed_in(fuzz_server: FuzzServer, identity: str) -> None:
    assert signed_in_role(fuzz_server, identity) == identity


@pytest.mark.parametrize("identity", ["anonymous", "client", "expert", "staff"])
def test_the_api_keeps_its_schema_under_fuzzing(fuzz_server: FuzzServer, identity: str, tmp_path: Path) -> None:
    report_path = tmp_path / "schemathesis.json"
    command = fuzz_command(fuzz_server, identity, report_path)
    # In tmp_path: schemathesis keeps a cache directory (.schemathesis/) where it runs.
    result = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, check=False, timeout=RUN_TIMEOUT_SECONDS
    )
    # No report at all (a crash, a schema that did not load) fails here, with schemathesis' own words.
    assert report_path.exists(), result.stdout[-5000:] + result.stderr[-5000:]
    report = json.loads(report_path.read_text())
    print(f"{identity}: {run_summary(report)}")

    assert result.returncode == 0, f"{identity}: {run_summary(report)}\n{result.stdout[-30000:]}{result.stderr}"
    assert report["complete"]
    assert report["operations"]["tested"] == report["operations"]["selected"] > 0
    assert report["test_cases"]["generated"] >= MIN_CASES
