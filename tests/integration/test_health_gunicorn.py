"""The probes under the Procfile's web command: gevent workers, a Host nobody allowed, checks run concurrently."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest

from tests.harness.servers import LOOPBACK
from tests.integration.test_metrics_gunicorn import gunicorn

pytestmark = pytest.mark.integration


def get(port: int, path: str, host: str) -> tuple[int, dict[str, str], bytes]:
    client = http.client.HTTPConnection(LOOPBACK, port, timeout=30)
    client.request("GET", path, headers={"Host": host})
    response = client.getresponse()
    body = response.read()
    client.close()
    return response.status, dict(response.getheaders()), body


def test_probes_answer_any_host_and_readiness_reports_each_check(tmp_path: Path) -> None:
    with gunicorn(tmp_path / "var") as (_, port):
        live = get(port, "/healthz", host="10.0.0.7")
        ready = get(port, "/readyz", host="10.0.0.7")
        api = get(port, "/api/v1/version/", host="10.0.0.7")

    assert live[0] == 200
    assert json.loads(live[2]) == {"status": "ok"}
    assert live[1]["X-App-Version"]
    # The database was never migrated, so the SQLite search tables are missing: everything else is fine.
    assert ready[0] == 503
    checks = json.loads(ready[2])["checks"]
    assert {name for name, check in checks.items() if check["ok"]} == {"database", "cache", "broker", "blobs"}
    assert checks["search"]["error"] == "PortError: The search index is unavailable."
    assert api[0] == 400  # every other path still checks the Host
