"""CELERY_BROKER_USE_SSL: kombu's TLS options for a rediss:// broker, from the REDIS_SSL_* settings."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

from project.broker import broker_use_ssl
from tests.harness.deployment import PLAIN_HTTP_DEPLOYMENT

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("cert_reqs", "expected"),
    [("required", ssl.CERT_REQUIRED), ("optional", ssl.CERT_OPTIONAL), ("none", ssl.CERT_NONE)],
)
def test_cert_reqs_become_the_ssl_constants_kombu_and_redis_py_take(cert_reqs: str, expected: int) -> None:
    options = broker_use_ssl(broker_url="rediss://h:6380/0", ssl_cert_reqs=cert_reqs, ssl_ca_certs=None)

    assert options == {"ssl_cert_reqs": expected}


def test_the_ca_file_is_passed_on() -> None:
    options = broker_use_ssl(broker_url="rediss://h:6380/0", ssl_cert_reqs="required", ssl_ca_certs="/etc/ca.pem")

    assert options == {"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": "/etc/ca.pem"}


@pytest.mark.parametrize("url", ["redis://h:6379/0", "filesystem://", "memory://"])
def test_other_brokers_get_no_tls_options(url: str) -> None:
    assert broker_use_ssl(broker_url=url, ssl_cert_reqs="required", ssl_ca_certs="/etc/ca.pem") is None


def test_an_unknown_cert_reqs_value_is_refused() -> None:
    with pytest.raises(ValueError, match="REDIS_SSL_CERT_REQS"):
        broker_use_ssl(broker_url="rediss://h:6380/0", ssl_cert_reqs="yes", ssl_ca_certs=None)


def test_the_settings_give_a_rediss_broker_its_tls_options(tmp_path: Path) -> None:
    """From the environment, as a worker reads it (production settings, a fresh process)."""
    environment = {
        **os.environ,
        **PLAIN_HTTP_DEPLOYMENT,
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "VAR_DIR": str(tmp_path),
        "REDIS_URL": "rediss://cache.example.com:6380/0",
        "CELERY_BROKER_URL": "",
        "REDIS_SSL_CERT_REQS": "required",
        "REDIS_SSL_CA_CERTS": "/etc/ssl/provider-ca.pem",
    }
    code = "import django; django.setup(); from project.celery import app; print(app.conf.broker_use_ssl)"

    output = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    ).stdout

    assert output.strip() == str({"ssl_cert_reqs": ssl.CERT_REQUIRED, "ssl_ca_certs": "/etc/ssl/provider-ca.pem"})
