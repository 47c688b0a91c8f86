"""Test settings: the project's settings with test-speed choices."""

import os

from project.cache import build_caches, redis_url_with_db
from project.settings import *  # noqa: F403
from project.settings import (
    REDIS_SOCKET_TIMEOUT_SECONDS,
    REDIS_SSL_CA_CERTS,
    REDIS_SSL_CERT_REQS,
    REDIS_URL,
    REST_FRAMEWORK,
    STATIC_ROOT,
)
from tests.harness.deployment import TEST_SECRET_KEY

# Hashing passwords with a slow hasher would dominate the test run.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The manifest only exists after collectstatic; tests render admin and docs pages without it.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Generous limits; the throttling tests set tight ones themselves.
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {
        "login": "1000/min",
        "token_refresh": "1000/min",
        "register": "1000/min",
        "booking_create": "1000/min",
    },
}
EVENTS_BACKEND = "memory"
# A key of the tests' own: with debug off, the development key refuses to start (project/secret_key.py).
# The HTTPS defaults above were derived from the development key: plain HTTP, as in `make run`.
SECRET_KEY = TEST_SECRET_KEY  # the servers the tests start use it too (tests/harness/deployment.py)
# WhiteNoise warns on every request when the static root is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# pytest-xdist workers share the stack run's one redis-server, and the tests'
# cache.clear() is a FLUSHDB, which ignores key prefixes: give each worker its own
# Redis database (gw0 -> 1, gw1 -> 2, ...; a run without xdist uses 1).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # pytest's own variable, not app config
if REDIS_URL:
    REDIS_URL = redis_url_with_db(REDIS_URL, 1 + int(_WORKER.removeprefix("gw") or 0))
    CACHES = build_caches(
        redis_url=REDIS_URL,
        socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
        ssl_cert_reqs=REDIS_SSL_CERT_REQS,
        ssl_ca_certs=REDIS_SSL_CA_CERTS,
    )
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
