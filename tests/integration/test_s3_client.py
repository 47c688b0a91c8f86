"""The S3 client and store when the endpoint is down or hung: a quick PortError, never a stall.

Also how make_client shapes URLs for AWS, MinIO and Spaces; signing needs no
network, so those tests need no server. Credentials are always given: the
default chain would probe the instance metadata address, which is off limits.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from adapters.s3.blobs import S3BlobStore
from adapters.s3.client import make_client
from domain.errors import PortError
from tests.harness.servers import LOOPBACK, free_port

pytestmark = pytest.mark.integration

TIMEOUT = 0.5
# 3 attempts of at most TIMEOUT each, plus standard-mode backoff (under 1 s, then under 2 s), plus slack.
WORST_CASE_SECONDS = 3 * TIMEOUT + 3 + 2


def client_for(endpoint_url: str | None, **overrides: Any) -> Any:
    options: dict[str, Any] = {
        "endpoint_url": endpoint_url,
        "region": "us-east-1",
        "access_key_id": "experthub-test",
        "secret_access_key": "experthub-test-secret",
        "addressing_style": "path",
        "timeout": TIMEOUT,
    }
    return make_client(**{**options, **overrides})


@pytest.fixture
def refusing_endpoint() -> str:
    """A loopback port nobody listens on: every connection is refused."""
    return f"http://{LOOPBACK}:{free_port()}"


class HungServer:
    """Accepts connections, reads nothing, answers nothing; counts the connections."""

    def __init__(self) -> None:
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.1)
        self._held: list[socket.socket] = []
        self._running = True
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._listener.getsockname()[1]}"

    @property
    def connections(self) -> int:
        return len(self._held)

    def _accept(self) -> None:
        while self._running:
            try:
                self._held.append(self._listener.accept()[0])
            except TimeoutError:
                continue

    def close(self) -> None:
        self._running = False
        self._thread.join()
        for connection in [*self._held, self._listener]:
            connection.close()


@pytest.fixture
def hung_server() -> Iterator[HungServer]:
    server = HungServer()
    yield server
    server.close()


@pytest.fixture
def hung_endpoint(hung_server: HungServer) -> str:
    return hung_server.url


@pytest.mark.parametrize(
    ("endpoint", "cause"),
    [("refusing_endpoint", EndpointConnectionError), ("hung_endpoint", ReadTimeoutError)],
)
@pytest.mark.parametrize("call", ["head", "delete"])
def test_an_unreachable_endpoint_is_a_quick_port_error(
    request: pytest.FixtureRequest, endpoint: str, cause: type[Exception], call: str
) -> None:
    store = S3BlobStore(client=client_for(request.getfixturevalue(endpoint)), bucket="experthub")
    started = time.monotonic()

    with pytest.raises(PortError) as error:
        getattr(store, call)("avatars/e1/a.png")

    assert time.monotonic() - started < WORST_CASE_SECONDS
    assert isinstance(error.value.__cause__, cause)
    assert error.value.code == "service_unavailable"


def test_a_hung_endpoint_is_tried_three_times(hung_server: HungServer) -> None:
    store = S3BlobStore(client=client_for(hung_server.url), bucket="experthub")

    with pytest.raises(PortError):
        store.head("avatars/e1/a.png")

    assert hung_server.connections == 3


def test_presigning_needs_no_server(refusing_endpoint: str) -> None:
    """Tickets and download URLs are signed locally: the API answers even while S3 is down."""
    store = S3BlobStore(client=client_for(refusing_endpoint), bucket="experthub")

    ticket = store.create_upload(key="avatars/e1/a.png", content_types=("image/png",), max_bytes=10, expires_in=60)

    assert ticket.url == f"{refusing_endpoint}/experthub"
    assert store.download_url(ticket.key, expires_in=60).startswith(f"{refusing_endpoint}/experthub/avatars/e1/a.png?")


def test_the_client_has_short_timeouts_bounded_retries_and_sigv4() -> None:
    config = client_for("http://127.0.0.1:9000", timeout=2.5).meta.config

    assert (config.connect_timeout, config.read_timeout) == (2.5, 2.5)
    assert config.retries == {"total_max_attempts": 3, "mode": "standard"}
    assert config.signature_version == "s3v4"
    assert config.request_checksum_calculation == "when_required"


@pytest.mark.parametrize(
    ("endpoint_url", "region", "style", "expected"),
    [
        # AWS: virtual-hosted buckets on the regional endpoint.
        (None, "eu-central-1", "virtual", "https://experthub.s3.eu-central-1.amazonaws.com/a.png"),
        # MinIO: path style on its own host.
        ("http://minio.internal:9000", "us-east-1", "path", "http://minio.internal:9000/experthub/a.png"),
        # DigitalOcean Spaces: the region's endpoint, virtual-hosted.
        (
            "https://fra1.digitaloceanspaces.com",
            "fra1",
            "virtual",
            "https://experthub.fra1.digitaloceanspaces.com/a.png",
        ),
    ],
)
def test_urls_follow_the_endpoint_and_addressing_style(
    endpoint_url: str | None, region: str, style: str, expected: str
) -> None:
    store = S3BlobStore(client=client_for(endpoint_url, region=region, addressing_style=style), bucket="experthub")

    url = urlsplit(store.download_url("a.png", expires_in=60))

    assert f"{url.scheme}://{url.netloc}{url.path}" == expected
    assert parse_qs(url.query)["X-Amz-Credential"][0].endswith(f"/{region}/s3/aws4_request")


def test_an_unknown_addressing_style_is_refused() -> None:
    with pytest.raises(ValueError, match="addressing style"):
        client_for(None, addressing_style="subdomain")
