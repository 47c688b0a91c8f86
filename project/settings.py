"""Settings. Every value comes from an environment variable with an embedded default.

This is the one module that reads the environment (via django-environ).
The defaults run the product with no servers: SQLite, SQLite FTS5 search,
a filesystem blob store, local-memory cache.
"""

from __future__ import annotations

import logging
import zoneinfo
from datetime import time, timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from project.broker import broker_use_ssl
from project.cache import build_caches
from project.database import DatabaseOptions, build_databases, is_postgres
from project.logging import build_logging, configure_structlog, init_sentry
from project.version import UNKNOWN, __version__, cache_key_version, read_build_info

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The embedded default only serves debug and the tests: with DJANGO_DEBUG off, every
# process refuses it, or a missing or weak key (project/secret_key.py, ProjectConfig.ready).
DEVELOPMENT_SECRET_KEY = "django-insecure-dev-only-key-change-me-in-production-0123456789"
SECRET_KEY = env.str("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
# Origins (scheme://host) allowed to POST forms with a CSRF token: the admin behind its public name.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

# --- HTTPS and security headers (docs/serving.md, "Security settings") ---------------
# A deployment (its own SECRET_KEY) is served over HTTPS by a TLS-terminating proxy:
# nginx, or a PaaS router. The embedded key means the tests or debug, on plain HTTP at
# 127.0.0.1. DJANGO_HTTPS says it outright either way (`make run` sets it false).
HTTPS = env.bool("DJANGO_HTTPS", default=SECRET_KEY != DEVELOPMENT_SECRET_KEY)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=HTTPS)
# Health checks probe plain HTTP on the app's port: a redirect would fail them.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
# --- Proxies and client addresses (project/proxies.py, docs/security.md) ------------
# The peers whose X-Forwarded-* headers are believed: addresses and networks, "unix" for
# a unix-socket peer (the local nginx), "*" for any peer (only where nothing but a PaaS
# router reaches the port). TrustedProxyMiddleware strips those headers from everyone
# else and sets REMOTE_ADDR to the client; gunicorn.conf.py gives gunicorn the same list.
# FORWARDED_ALLOW_IPS is gunicorn's own, older name for it.
TRUSTED_PROXIES = env.list(
    "TRUSTED_PROXIES", default=env.list("FORWARDED_ALLOW_IPS", default=["127.0.0.1", "::1", "unix"])
)
# Replaced by TRUSTED_PROXIES: read only so that a leftover NUM_PROXIES refuses to start
# (project/checks.py) instead of being silently ignored.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
# The proxy's X-Forwarded-Proto says whether the client used HTTPS; it reaches Django
# only from TRUSTED_PROXIES (nginx `proxy_set_header X-Forwarded-Proto $scheme`,
# Heroku's and Dokku's routers overwrite it).
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("TRUST_X_FORWARDED_PROTO", default=HTTPS) else None
)
# HSTS: browsers refuse plain HTTP for this long once they have seen it. Start lower
# (e.g. 3600) on a first deployment; preload only takes effect once submitted to
# hstspreload.org, and binds every subdomain.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=HTTPS)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from /static/ (no CDN)
    "django_structlog",
    "adapters.orm.apps.OrmConfig",
    "api.apps.ApiConfig",
    "project.apps.ProjectConfig",
]

MIDDLEWARE = [
    "project.proxies.TrustedProxyMiddleware",  # first: REMOTE_ADDR is the client for everything below
    "project.middleware.AppVersionMiddleware",  # X-App-Version on every response, probes and errors included
    "api.errors.JsonErrorPagesMiddleware",  # an error response left as HTML by a view becomes the JSON shape
    "project.middleware.ProjectEndpointsMiddleware",  # /healthz /readyz /metrics, whatever the Host header
    "project.metrics.RequestMetricsMiddleware",
    # Before the views and Django's own middleware: every response (redirects too) carries
    # X-Request-ID and every log line its id. (The probes above answer without either.)
    "project.logging.RequestIdMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    # Before anything reads the body, the session or the user: 413 over the limits, 400 for NUL.
    "project.request_limits.RequestLimitsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "project.middleware.ReadYourWritesMiddleware",  # replicas only: routing scope + read-your-writes pins
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a login refused for too many failures into its 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "project.urls"
# A failed CSRF check answers in the API's JSON error shape, like every other error.
CSRF_FAILURE_VIEW = "api.errors.csrf_failure"

# --- Request limits (project/request_limits.py, docs/security.md "Errors") -------------
# Bodies over these answer 413 before they are read: DATA_UPLOAD_MAX_MEMORY_SIZE for
# JSON and urlencoded forms (Django's own limit, applied to DRF's parsers too), and
# UPLOAD_MAX_BYTES for multipart forms (their files stream to disk; above the local blob
# store's largest file, a 5 MB avatar, plus the form around it).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=1000)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DATA_UPLOAD_MAX_NUMBER_FILES", default=10)
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=6 * 1024 * 1024)
# Retry-After (seconds) of every 503: the database or another backing service is down.
UNAVAILABLE_RETRY_AFTER_SECONDS = env.int("UNAVAILABLE_RETRY_AFTER_SECONDS", default=5)
WSGI_APPLICATION = "project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# DATABASE_URL picks the engine (sqlite:// embedded, postgres:// production);
# project/database.py turns these values into DATABASES (pool, timeouts, replicas).
# PostgreSQL connections: gevent = django-db-geventpool, at most
# DATABASE_POOL_MAX_CONNECTIONS per process and database; none = Django's own
# (one per thread or greenlet). docs/postgresql.md says when to pick which.
DATABASE_POOL = env.str("DATABASE_POOL", default="gevent")
DATABASES = build_databases(
    primary=env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'experthub.sqlite3'}"),
    replicas=[env.db_url_config(url) for url in env.list("DATABASE_REPLICA_URLS", default=[])],
    options=DatabaseOptions(
        pool=DATABASE_POOL,
        pool_max_connections=env.int("DATABASE_POOL_MAX_CONNECTIONS", default=10),
        pool_timeout_seconds=env.float("DATABASE_POOL_TIMEOUT_SECONDS", default=10.0),
        connect_timeout_seconds=env.int("DATABASE_CONNECT_TIMEOUT_SECONDS", default=5),
        statement_timeout_ms=env.int("DATABASE_STATEMENT_TIMEOUT_MS", default=15000),
        conn_max_age=env.int("DATABASE_CONN_MAX_AGE", default=0),
        sqlite_busy_timeout_seconds=env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=20),
        sqlite_test_name=str(VAR_DIR / "test-experthub.sqlite3"),
    ),
)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the embedded database lives here
# The connection budget the pool size is checked against (project/checks.py).
DATABASE_MAX_CONNECTIONS = env.int("DATABASE_MAX_CONNECTIONS", default=100)
WEB_CONCURRENCY = env.int("WEB_CONCURRENCY", default=2)
CELERY_CONCURRENCY = env.int("CELERY_CONCURRENCY", default=2)
# Kept free for the release phase (migrate), a manage.py shell, monitoring.
DATABASE_HEADROOM_CONNECTIONS = env.int("DATABASE_HEADROOM_CONNECTIONS", default=5)
# Read replicas: after a write, the same request and the same user read from the
# primary for this many seconds (read-your-writes).
DATABASE_READ_YOUR_WRITES_SECONDS = env.int("DATABASE_READ_YOUR_WRITES_SECONDS", default=10)
DATABASE_ROUTERS = ["project.routers.ReplicaRouter"] if len(DATABASES) > 1 else []
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "orm.User"

# --- Adapters (project/container.py picks one per port from these) -------------
REPOSITORY_BACKEND = env.str("REPOSITORY_BACKEND", default="orm")  # orm | memory
# sqlite (FTS5, needs SQLite) | postgres (full-text, needs PostgreSQL) | elasticsearch | memory
SEARCH_BACKEND = env.str("SEARCH_BACKEND", default="postgres" if is_postgres(DATABASES["default"]) else "sqlite")
# How profile changes reach the search index (docs/elasticsearch.md, "Keeping the index in sync"):
# inline = written inside the use case's transaction (the database-backed indexes commit and
# roll back with the profile: they need no sync); task = an api.tasks.search_sync task per
# expert after the commit, plus the hourly reconcile (an external index: Elasticsearch).
SEARCH_SYNC = env.str("SEARCH_SYNC", default="task" if SEARCH_BACKEND == "elasticsearch" else "inline")
BLOB_BACKEND = env.str("BLOB_BACKEND", default="local")  # local | s3 | memory
EVENTS_BACKEND = env.str("EVENTS_BACKEND", default="celery")  # log | celery (the notify task) | memory
# The one setting that moves profile view counters between the ORM and Redis.
VIEW_COUNTER_BACKEND = env.str("VIEW_COUNTER_BACKEND", default="orm")  # orm | redis | memory
BLOB_ROOT = Path(env.str("BLOB_ROOT", default=str(VAR_DIR / "blobs")))
# Absolute URL prefix the local blob store puts in its signed URLs.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")
# The most pixels (width x height) an uploaded image may have: confirming decodes it whole,
# about 4 bytes a pixel, in the web worker. 25 MP (5000 x 5000): any phone photo resized
# to an avatar, never a decompression bomb.
UPLOAD_IMAGE_MAX_PIXELS = env.int("UPLOAD_IMAGE_MAX_PIXELS", default=25_000_000)

# S3 (BLOB_BACKEND=s3): AWS, MinIO, DigitalOcean Spaces, ... by endpoint URL.
S3_ENDPOINT_URL = env.str("S3_ENDPOINT_URL", default="") or None
S3_BUCKET = env.str("S3_BUCKET", default="experthub")
S3_REGION = env.str("S3_REGION", default="us-east-1")
S3_ACCESS_KEY_ID = env.str("S3_ACCESS_KEY_ID", default="") or None
S3_SECRET_ACCESS_KEY = env.str("S3_SECRET_ACCESS_KEY", default="") or None
S3_ADDRESSING_STYLE = env.str("S3_ADDRESSING_STYLE", default="auto")  # auto | path | virtual
S3_TIMEOUT_SECONDS = env.float("S3_TIMEOUT_SECONDS", default=5.0)

# Elasticsearch (SEARCH_BACKEND=elasticsearch).
ELASTICSEARCH_URL = env.str("ELASTICSEARCH_URL", default="http://127.0.0.1:9200")
ELASTICSEARCH_INDEX = env.str("ELASTICSEARCH_INDEX", default="experthub-experts")
ELASTICSEARCH_TIMEOUT_SECONDS = env.float("ELASTICSEARCH_TIMEOUT_SECONDS", default=3.0)
ELASTICSEARCH_API_KEY = env.str("ELASTICSEARCH_API_KEY", default="") or None
ELASTICSEARCH_CA_CERTS = env.str("ELASTICSEARCH_CA_CERTS", default="") or None

# Redis (cache, view counters, and the Celery broker in a later issue).
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_SOCKET_TIMEOUT_SECONDS = env.float("REDIS_SOCKET_TIMEOUT_SECONDS", default=0.25)
REDIS_SSL_CERT_REQS = env.str("REDIS_SSL_CERT_REQS", default="required")  # rediss://: required | optional | none
REDIS_SSL_CA_CERTS = env.str("REDIS_SSL_CA_CERTS", default="") or None
# After a timeout the process leaves that Redis alone this long (adapters/redis/breaker.py).
REDIS_BREAKER_SECONDS = env.float("REDIS_BREAKER_SECONDS", default=5.0)

# --- Cache --------------------------------------------------------------------
# Redis when REDIS_URL is set (django-redis), else process-local memory.
CACHES = build_caches(
    redis_url=REDIS_URL,
    socket_timeout=REDIS_SOCKET_TIMEOUT_SECONDS,
    ssl_cert_reqs=REDIS_SSL_CERT_REQS,
    ssl_ca_certs=REDIS_SSL_CA_CERTS,
    breaker_seconds=REDIS_BREAKER_SECONDS,
)
# django-redis ignores a Redis outage (IGNORE_EXCEPTIONS); log each ignored error
# (logger "django_redis.cache") so an outage is visible, not silent.
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
# Cached API responses live this long at most; writes invalidate them sooner.
RESPONSE_CACHE_SECONDS = env.int("RESPONSE_CACHE_SECONDS", default=300)

# --- Version, health, metrics (docs/operations.md) ----------------------------------
# The version is written once, in project/version.py (manage.py bump_version); no
# environment override, so the header, the endpoint and the cache keys cannot disagree.
APP_VERSION = __version__
# The commit and build time come from the release build: GIT_SHA / BUILD_TIME in the
# environment (Heroku's build sets SOURCE_VERSION), else build-info.json as
# `manage.py write_build_info` wrote it at build time, else "unknown".
BUILD_INFO_FILE = Path(env.str("BUILD_INFO_FILE", default=str(BASE_DIR / "build-info.json")))
_BUILD_INFO = read_build_info(BUILD_INFO_FILE)
GIT_SHA = env.str("GIT_SHA", default="") or env.str("SOURCE_VERSION", default="") or _BUILD_INFO.get("git_sha", UNKNOWN)
BUILD_TIME = env.str("BUILD_TIME", default="") or _BUILD_INFO.get("build_time", UNKNOWN)
# Part of every response cache key: the version and the commit, so a release never
# serves the previous one's entries.
CACHE_KEY_VERSION = cache_key_version(APP_VERSION, GIT_SHA)
# /readyz: each dependency check gives up after this long; the names listed here are
# reported but do not fail the probe (e.g. "cache": the app serves through a Redis outage).
READINESS_TIMEOUT_SECONDS = env.float("READINESS_TIMEOUT_SECONDS", default=1.0)
READINESS_NONCRITICAL_CHECKS = env.list("READINESS_NONCRITICAL_CHECKS", default=[])
# /metrics and the details of /readyz (project/access.py): with METRICS_TOKEN, only
# `Authorization: Bearer <token>`; without, only clients at these addresses or networks.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
# prometheus_client's own variable (read by the library when imported): set by the process
# manager (gunicorn.conf.py defaults it for the web). Read here to know the mode.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)  # prometheus_client fails without it
# Other processes' metric directories on this host that /metrics adds in (the Celery worker's).
METRICS_EXTRA_DIRS = env.list("METRICS_EXTRA_DIRS", default=[])

# --- Auth -----------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "name")},
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Login brute-force limits (django-axes; docs/security.md, "Admin") ------------------
# django-axes's backend comes first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Failures are rows in the database, which every worker and node already shares and which
# a login needs anyway; the cache handler would lose them (or fail open) with Redis.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# Either one locks: LOGIN_FAILURE_LIMIT failures for one account from anywhere, or from one
# client address across accounts, within LOGIN_LOCKOUT_MINUTES of the last one.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
# Attempts during a lockout do not extend it: an attacker cannot keep an account locked
# for ever by trying on; they must spend LOGIN_FAILURE_LIMIT guesses again after each lockout.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success does not wipe the count: it would also wipe the address's count, which an
# attacker holding one valid account could use to reset it between guesses.
AXES_RESET_ON_SUCCESS = False
AXES_CLIENT_IP_CALLABLE = "project.login_limits.client_address"
AXES_USERNAME_CALLABLE = "project.login_limits.login_username"
AXES_LOCKOUT_CALLABLE = "api.errors.login_locked_out"  # 429 in the one JSON error shape
# A row per successful login, kept for ever, is not wanted: Django keeps last_login.
AXES_DISABLE_ACCESS_LOG = True
# Its start-up banner on every process start (web worker, celery, each manage.py) is noise in the logs.
AXES_VERBOSE = False

# --- What is public (docs/security.md) ----------------------------------------------
# Each can be switched off: the OpenAPI schema (/api/schema/) and Swagger UI (/api/docs/,
# which needs the schema) then answer 404; the browsable API's HTML renderer is removed.
API_SCHEMA_ENABLED = env.bool("API_SCHEMA_ENABLED", default=True)
API_DOCS_ENABLED = env.bool("API_DOCS_ENABLED", default=True)
BROWSABLE_API_ENABLED = env.bool("BROWSABLE_API_ENABLED", default=True)
# django-csp: every response gets this policy unless it set its own (the local blob
# store's downloads do). Scripts only from this origin, and no inline script: the admin,
# the browsable API and Swagger UI (drf-spectacular-sidecar's files, its split view's
# script) need none. Inline styles stay allowed: the admin's change list and the
# browsable API carry style attributes and blocks, and a style cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- REST API -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        # Sessions let staff use the browsable API after logging into the admin.
        "rest_framework.authentication.SessionAuthentication",
    ],
    # DRF's own default is AllowAny: we flip it so every endpoint is closed unless opened.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        *(["rest_framework.renderers.BrowsableAPIRenderer"] if BROWSABLE_API_ENABLED else []),
    ],
    "DEFAULT_SCHEMA_CLASS": "api.schema.StrictAutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    # DRF's JSON parser refusing deep nesting, NUL and lone surrogates (api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "login": env.str("THROTTLE_LOGIN", default="10/min"),
        # A client refreshes once per access token (JWT_ACCESS_MINUTES); more is a stolen token being tried.
        "token_refresh": env.str("THROTTLE_TOKEN_REFRESH", default="20/min"),
        "register": env.str("THROTTLE_REGISTER", default="5/min"),
        "booking_create": env.str("THROTTLE_BOOKING_CREATE", default="30/hour"),
    },
    # Throttles key on REMOTE_ADDR, which TrustedProxyMiddleware resolved; DRF's own
    # default (None) would read X-Forwarded-For as the client wrote it.
    "NUM_PROXIES": 0,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "USER_ID_FIELD": "id",
    "UPDATE_LAST_LOGIN": True,
    # A refresh token is single-use: each refresh returns a new one and blacklists the old.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ExpertHub API",
    "DESCRIPTION": "Find experts, book paid sessions, review them.",
    "VERSION": APP_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Bookings, profiles and reports each have a "status": name the reports' choice set.
    "ENUM_NAME_OVERRIDES": {"ReportRunStatusEnum": ["sending", "sent"]},
    # Swagger UI from this app's static files (pinned drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Form bodies are parsed too, but nested objects (hourly_rate) cannot travel in them: JSON is the contract.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "api.schema.declare_common_errors"],
}

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

# --- Internationalisation, static -------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Logs and error reports (project/logging.py, docs/serving.md) ---------------------
# json: one object per line for a log drain; console: readable lines. gunicorn.conf.py
# picks the same format for gunicorn's own lines.
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = build_logging(log_format=LOG_FORMAT, level=LOG_LEVEL)
configure_structlog()
# django-structlog: the request id is nginx's or the PaaS router's X-Request-ID
# (RequestIdMiddleware vetted it or made one), carried into the tasks a request enqueues.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# gunicorn's access log already has one line per request: the app adds its own
# "request_finished" line (with the user) only for 4xx and 5xx answers.
DJANGO_STRUCTLOG_STATUS_START_LOG_LEVEL = logging.DEBUG
DJANGO_STRUCTLOG_STATUS_2XX_LOG_LEVEL = logging.DEBUG
# django-structlog finds the client address with ipware, which reads X-Forwarded-For on its
# own terms; the access log has REMOTE_ADDR, which TrustedProxyMiddleware resolved.
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False

# Sentry reports unhandled errors of requests and tasks when SENTRY_DSN is set.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    init_sentry(
        dsn=SENTRY_DSN,
        release=APP_VERSION,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        # Performance tracing costs a sample per request; off unless asked for.
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# --- Email ----------------------------------------------------------------------
# EMAIL_URL picks Django's EMAIL_BACKEND: consolemail:// (embedded default: printed
# on stdout), filemail:///path/to/dir, smtp://user:password@host:587 (smtp+tls://,
# smtp+ssl://), memorymail:// (locmem). django-environ turns it into EMAIL_* settings.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ExpertHub <no-reply@experthub.local>")
# Django's SMTP default is no timeout: a hung server would hold a worker forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT_SECONDS", default=10)

# --- Celery ---------------------------------------------------------------------
# project/celery.py reads every CELERY_* setting below (namespace "CELERY");
# docs/celery.md says why each value is what it is.
# Broker: CELERY_BROKER_URL, else REDIS_URL (redis:// or rediss://), else kombu's
# filesystem transport under VAR_DIR: a broker that needs no server, for `make run`.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "filesystem://"
QUEUE_BROKER_FOLDER = VAR_DIR / "celery-broker"
# rediss://: TLS as REDIS_SSL_CERT_REQS / REDIS_SSL_CA_CERTS say (None for other brokers).
CELERY_BROKER_USE_SSL = broker_use_ssl(
    broker_url=CELERY_BROKER_URL, ssl_cert_reqs=REDIS_SSL_CERT_REQS, ssl_ca_certs=REDIS_SSL_CA_CERTS
)
# Rule: larger than the longest countdown, ETA, retry backoff and time limit of any
# task, or Redis hands an unacknowledged (acks_late) task to a second worker while
# the first still runs it (tests/unit/test_celery_config.py asserts the rule).
# And short: a message whose acknowledgement never reached Redis (the broker froze or
# restarted mid-task) is only handed out again after it, so it bounds how late a
# notification can be after an outage (docs/celery.md, "The visibility timeout rule").
QUEUE_VISIBILITY_TIMEOUT_SECONDS = env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=300)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": QUEUE_VISIBILITY_TIMEOUT_SECONDS}
# kombu's Redis transport has no socket timeouts of its own: a hung Redis would hold the
# web request (greenlet) publishing a task for ever. Above the worker's 1 s BRPOP poll.
QUEUE_BROKER_SOCKET_TIMEOUT_SECONDS = env.float("CELERY_BROKER_SOCKET_TIMEOUT_SECONDS", default=5.0)
CELERY_BROKER_TRANSPORT_OPTIONS |= {
    "socket_timeout": QUEUE_BROKER_SOCKET_TIMEOUT_SECONDS,
    "socket_connect_timeout": QUEUE_BROKER_SOCKET_TIMEOUT_SECONDS,
}
# Messages past the visibility timeout are handed out again by a sweep every worker
# runs: every 10 s here (kombu's default scans every 100 s), and a sweep cut short by
# an outage holds its mutex 30 s, not 5 minutes.
CELERY_BROKER_TRANSPORT_OPTIONS |= {
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
    "unacked_mutex_expire": 30,
}
CELERY_BROKER_CONNECTION_TIMEOUT = QUEUE_BROKER_SOCKET_TIMEOUT_SECONDS
# The send after a commit, inside the request: a connection of its own with this connect
# and socket timeout and no publish retries (adapters/celery/events.py). A hung broker
# costs a request about this much once, then the event waits in the outbox for the relay.
QUEUE_PUBLISH_TIMEOUT_SECONDS = env.float("CELERY_PUBLISH_TIMEOUT_SECONDS", default=0.5)
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _folder in ("queue", "processed", "control"):
        (QUEUE_BROKER_FOLDER / _folder).mkdir(parents=True, exist_ok=True)
    # Producer and consumer share one folder: the web process writes, the worker reads.
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "data_folder_in": str(QUEUE_BROKER_FOLDER / "queue"),
        "data_folder_out": str(QUEUE_BROKER_FOLDER / "queue"),
        "processed_folder": str(QUEUE_BROKER_FOLDER / "processed"),
        # Exchange tables; kombu's default is ./control in whatever directory the process runs.
        "control_folder": str(QUEUE_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # kombu's Redis transport, but a lost acknowledgement cannot leave a worker idle for good.
    CELERY_BROKER_TRANSPORT = "project.redis_transport:Transport"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A lost broker connection is retried for ever (Celery's default gives up after 100
# attempts, about 50 minutes, and the worker exits): no supervisor restarts a process
# under honcho, and an outage has no upper bound.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES: int | None = None
# A task running when the connection drops is left to finish (its email goes out
# now, not a visibility timeout later); its acknowledgement is lost with the
# connection, so Redis hands it out again and the idempotency key skips the rerun.
# Set explicitly, against Celery 6's announced default (True): Celery still logs a
# CPendingDeprecationWarning on every connection loss.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# JSON only: a pickled message from a compromised broker would run code in the worker.
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
# Acknowledge after the task ran, and give a task back to the broker when its worker
# process dies: a crash or a dyno restart re-runs it instead of losing it. Tasks are
# idempotent (the notification email has an idempotency key) so a re-run is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message reserved per process: with acks_late a prefetched message waits behind
# a long task instead of going to an idle worker.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT_SECONDS", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT_SECONDS", default=90)
# The notify task's longest wait between two retries (exponential backoff with full
# jitter below this cap), below the visibility timeout; the integration tests shorten
# it to keep an outage short.
NOTIFY_RETRY_BACKOFF_MAX_SECONDS = env.int("NOTIFY_RETRY_BACKOFF_MAX_SECONDS", default=120)
# No result backend: tasks are fire-and-forget side effects, nobody reads results.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TIMEZONE = TIME_ZONE
# The worker and beat log through LOGGING (JSON, request ids), not Celery's own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Beat's own bookkeeping (last run times), kept with the other generated files.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Beat: periodic tasks -----------------------------------------------------------
# At most one beat: with a Redis broker RedBeat keeps the schedule in Redis and a beat
# holds a lock there while it runs; a second beat waits for the lock (and takes over
# within CELERY_BEAT_LOCK_TIMEOUT_SECONDS when the first dies). The filesystem broker
# of `make run` is one machine's: the file-based default scheduler is enough there.
# Either way the database is the backstop: a report is unique per date (ReportRun).
# Beat's longest sleep between two ticks, so the lock (renewed every tick) never lapses
# while beat sleeps, and a waiting beat looks for a free lock this often. Celery 5.7 reads
# beat_max_loop_interval (a CELERY_BEAT_MAX_INTERVAL here was no Celery setting: beat
# slept up to 300 s, as long as the lock lives).
CELERY_BEAT_MAX_LOOP_INTERVAL = 60
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # RedBeat that waits out a Redis outage instead of exiting (project/beat.py).
    CELERY_BEAT_SCHEDULER = "project.beat:ResilientRedBeatScheduler"
    CELERY_REDBEAT_REDIS_URL = CELERY_BROKER_URL
    # Beat's own Redis calls (schedule, lock) with timeouts, like every outbound call, and
    # one retry: a call to a hung Redis gives up within seconds, so a tick waits, retries
    # and a stop (SIGTERM) exits well inside its grace period.
    CELERY_REDBEAT_REDIS_OPTIONS = {
        "socket_timeout": 2.0,
        "socket_connect_timeout": 2.0,
        "retry": Retry(NoBackoff(), 1),
    }
    CELERY_REDBEAT_KEY_PREFIX = env.str("CELERY_BEAT_KEY_PREFIX", default="experthub:beat")
    CELERY_REDBEAT_LOCK_TIMEOUT = env.int("CELERY_BEAT_LOCK_TIMEOUT_SECONDS", default=5 * CELERY_BEAT_MAX_LOOP_INTERVAL)

# --- Daily ops report (docs/daily-report.md) -------------------------------------------
# Sent once per local date, for the previous date, at OPS_REPORT_SEND_AT local time in
# OPS_REPORT_TIME_ZONE. Beat asks every OPS_REPORT_CHECK_SECONDS whether a report is due.
OPS_REPORT_EMAILS = env.list("OPS_REPORT_EMAILS", default=["ops@experthub.local"])
OPS_REPORT_TIME_ZONE = env.str("OPS_REPORT_TIME_ZONE", default="UTC")
OPS_REPORT_CHECK_SECONDS = env.int("OPS_REPORT_CHECK_SECONDS", default=300)
try:
    zoneinfo.ZoneInfo(OPS_REPORT_TIME_ZONE)
    OPS_REPORT_SEND_AT = time.fromisoformat(env.str("OPS_REPORT_SEND_AT", default="07:00"))
except (ValueError, zoneinfo.ZoneInfoNotFoundError) as _error:
    raise ImproperlyConfigured(
        f"OPS_REPORT_TIME_ZONE must be an IANA zone (Europe/Paris) and OPS_REPORT_SEND_AT a time (07:00): {_error}"
    ) from _error
# How often the search reconcile runs (docs/elasticsearch.md).
SEARCH_RECONCILE_INTERVAL_SECONDS = env.int("SEARCH_RECONCILE_INTERVAL_SECONDS", default=3600)

# Periodic tasks, run by `celery -A project beat` (one beat: see the lock above).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "daily-report": {"task": "api.tasks.report_daily", "schedule": float(OPS_REPORT_CHECK_SECONDS)},
    # Events the send after their commit left in the outbox (a broker outage, a killed
    # process), enqueued once the broker answers (docs/celery.md).
    # Expires before the next run: beat must not pile up relays while no worker runs.
    "outbox-relay": {"task": "api.tasks.outbox_relay", "schedule": 60.0, "options": {"expires": 50}},
    # Repairs an external search index's drift (lost tasks, outages); a no-op that says why on the
    # database-backed indexes. A run that waits longer than the interval in the queue is dropped:
    # the next one does the same work.
    # Email delivery records and search counts past their retention (services/retention.py).
    "records-prune": {"task": "api.tasks.records_prune", "schedule": 24 * 3600.0, "options": {"expires": 3600}},
    "search-reconcile": {
        "task": "api.tasks.search_reconcile",
        "schedule": timedelta(seconds=SEARCH_RECONCILE_INTERVAL_SECONDS),
        "options": {"expires": SEARCH_RECONCILE_INTERVAL_SECONDS},
    },
}
