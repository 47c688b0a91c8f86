"""The S3 store under gevent, as gunicorn's gevent workers run it: its I/O yields to other greenlets.

Run in a child process, since monkey-patching is for the whole process. Five
greenlets share one client against a server that never answers while a sixth
ticks: the ticks go on (no greenlet blocks the worker) and the five time out
together (concurrently, not one after the other).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_s3_client import HungServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
from gevent import monkey

monkey.patch_all()

import json, sys, time
import gevent
from adapters.s3.blobs import S3BlobStore
from adapters.s3.client import make_client
from domain.errors import PortError

client = make_client(endpoint_url=sys.argv[1], region="us-east-1", access_key_id="k",
                     secret_access_key="s", addressing_style="path", timeout=0.5)
store = S3BlobStore(client=client, bucket="experthub")
ticks = 0

def tick():
    global ticks
    while True:
        gevent.sleep(0.02)
        ticks += 1

def head(i):
    try:
        store.head(f"avatars/e1/{i}.png")
    except PortError:
        return "PortError"
    return "answered"

ticker = gevent.spawn(tick)
started = time.monotonic()
heads = [gevent.spawn(head, i) for i in range(5)]
gevent.joinall(heads, timeout=30)
elapsed = time.monotonic() - started
ticker.kill()
print(json.dumps({"results": [g.value for g in heads], "elapsed": elapsed, "ticks": ticks}))
"""


@pytest.fixture
def hung_server() -> Iterator[HungServer]:
    server = HungServer()
    yield server
    server.close()


def test_greenlets_share_the_client_without_blocking_the_worker(hung_server: HungServer) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, hung_server.url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert child.returncode == 0, child.stderr
    report = json.loads(child.stdout.strip().splitlines()[-1])
    assert report["results"] == ["PortError"] * 5
    # One head alone takes 3 tries x 0.5 s plus backoff (1.5-4.5 s); five in a row would take 7.5 s or more.
    assert report["elapsed"] < 7
    # The ticker ran all along: about elapsed / 0.02 ticks if nothing blocked the loop.
    assert report["ticks"] > report["elapsed"] / 0.02 / 2
    assert hung_server.connections == 15
