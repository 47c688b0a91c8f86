"""rediss:// as managed Redis serves it: a TLS-only redis-server with a certificate from its own CA.

Heroku Key-Value Store presents a self-signed certificate, hence
REDIS_SSL_CERT_REQS=none (encrypted, not verified); a provider with a CA to
trust is verified with REDIS_SSL_CA_CERTS. Both settings are proven here on
Django's cache (project/cache.py) and on the adapters' client
(adapters/redis/client.py).
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django_redis.cache import RedisCache

from adapters.redis.client import make_client
from project.cache import build_caches
from tests.harness.fixtures import started
from tests.harness.servers import LOOPBACK, ServerUnavailable, free_port, port_open, wait_until

pytestmark = pytest.mark.integration


@dataclass
class TlsRedis:
    port: int
    ca_file: Path

    def url(self, db: int = 0) -> str:
        return f"rediss://{LOOPBACK}:{self.port}/{db}"


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    directory = tmp_path_factory.mktemp("redis-tls")
    process, server = started(lambda: _start(directory))
    yield server
    process.terminate()
    process.wait(timeout=10)


def _start(directory: Path) -> tuple[subprocess.Popen[bytes], TlsRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServerUnavailable("redis-server is not installed (apt-get install redis-server)")
    ca_file, cert_file, key_file = _certificates(directory)
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            *("--port", "0", "--tls-port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"),
            *("--tls-cert-file", str(cert_file), "--tls-key-file", str(key_file)),
            *("--tls-ca-cert-file", str(ca_file), "--tls-auth-clients", "no"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: port_open(port), timeout=20, what="redis-server with TLS (is it built with TLS?)")
    except ServerUnavailable:
        process.kill()
        raise
    return process, TlsRedis(port=port, ca_file=ca_file)


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA, and a certificate it signs for 127.0.0.1."""
    now = datetime.now(UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ExpertHub test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


def django_cache(url: str, *, ssl_cert_reqs: str, ssl_ca_certs: str | None) -> RedisCache:
    """django-redis keeps one connection pool per URL for the whole process: each test uses its own db number."""
    config = build_caches(redis_url=url, socket_timeout=1.0, ssl_cert_reqs=ssl_cert_reqs, ssl_ca_certs=ssl_ca_certs)
    return RedisCache(url, {**config["default"], "KEY_PREFIX": uuid.uuid4().hex})


def test_the_cache_reaches_a_self_signed_server_with_cert_reqs_none(tls_redis: TlsRedis) -> None:
    cache = django_cache(tls_redis.url(1), ssl_cert_reqs="none", ssl_ca_certs=None)

    cache.set("k", {"v": 1})

    assert cache.get("k") == {"v": 1}


def test_the_cache_verifies_the_server_against_the_given_ca(tls_redis: TlsRedis) -> None:
    cache = django_cache(tls_redis.url(2), ssl_cert_reqs="required", ssl_ca_certs=str(tls_redis.ca_file))

    cache.set("k", {"v": 2})

    assert cache.get("k") == {"v": 2}


def test_an_unverifiable_server_is_an_outage_for_the_cache_not_an_error(tls_redis: TlsRedis) -> None:
    cache = django_cache(tls_redis.url(3), ssl_cert_reqs="required", ssl_ca_certs=None)

    cache.set("k", {"v": 3})

    assert cache.get("k") is None


@pytest.mark.parametrize("verified", [False, True], ids=["cert_reqs none", "verified against the CA"])
def test_the_adapters_client_speaks_tls(tls_redis: TlsRedis, verified: bool) -> None:
    client = make_client(
        url=tls_redis.url(),
        socket_timeout=1.0,
        ssl_cert_reqs="required" if verified else "none",
        ssl_ca_certs=str(tls_redis.ca_file) if verified else None,
    )
    try:
        assert client.ping() is True
    finally:
        client.close()


def test_the_adapters_client_refuses_an_unverifiable_server(tls_redis: TlsRedis) -> None:
    client = make_client(url=tls_redis.url(), socket_timeout=1.0, ssl_cert_reqs="required", ssl_ca_certs=None)

    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        client.ping()
