"""Gunicorn settings for the web process (Procfile: `gunicorn project.wsgi --config gunicorn.conf.py`).

Every value comes from the environment with a default for this stack (2 CPU
cores, gevent workers, nginx or a PaaS router in front); docs/serving.md says
why each value is what it is. Anything else can be overridden without an edit
through GUNICORN_CMD_ARGS (e.g. GUNICORN_CMD_ARGS="--log-level debug").

Read from the environment here because gunicorn loads this file in the master,
before Django exists; Django's own settings stay in project/settings.py.

gevent: one worker process serves many requests at once while they wait on
I/O. Gunicorn's gevent worker monkey-patches the standard library itself when
the worker starts, before the app is imported. Nothing may import ssl-using
clients (requests, urllib3, botocore, sentry_sdk, ...) in the master before
that, or gevent warns (MonkeyPatchWarning) and those clients keep blocking
sockets: this file imports only the standard library, and preload_app stays
off (preloading would import the whole app, unpatched, in the master).

gevent also means `timeout` does not cap a request: it only kills a worker
whose event loop is blocked. A slow upstream call parks one greenlet for as
long as its client lets it, so every outbound client has its own timeout
(docs/serving.md, "Outbound timeouts").

Each worker makes psycopg2 cooperative (project/wsgi.py, once gevent has patched,
before the app loads or connects) and runs Django's system checks (post_worker_init):
an unsafe database setup (project/checks.py) stops gunicorn at start-up with
"Worker failed to boot" instead of serving. See docs/postgresql.md.
"""

import json
import logging
import os
import time


def _env_int(name, default):
    return int(os.environ.get(name) or default)


# --- Where to listen ----------------------------------------------------------------
# A PaaS sets PORT and its router reaches the dyno on every interface, so PORT wins
# (WEB_HOST narrows the interface: `make run` keeps 127.0.0.1). Without PORT: a VM
# behind nginx sets GUNICORN_BIND=unix:/run/experthub/web.sock (no TCP port to
# firewall, and nginx is the only way in); else loopback only.
_port = os.environ.get("PORT")
if _port:
    bind = f"{os.environ.get('WEB_HOST') or '0.0.0.0'}:{_port}"
else:
    bind = os.environ.get("GUNICORN_BIND") or "127.0.0.1:8000"

# --- Workers -------------------------------------------------------------------------
# gunicorn's gevent worker, whose own error pages (400, 414, 431, ...) are JSON, not HTML.
worker_class = "deploy.gunicorn_worker.JsonErrorGeventWorker"
# One gevent process per core: a process uses one core at most however many requests
# it holds, so 2 on the 2-core machine this stack is sized for (Heroku's own default
# WEB_CONCURRENCY for a dyno overrides it there).
workers = _env_int("WEB_CONCURRENCY", 2)
# Requests in flight (greenlets) per worker. More than the database pool
# (DATABASE_POOL_MAX_CONNECTIONS, 10): most requests spend their time elsewhere, and
# the rest wait up to DATABASE_POOL_TIMEOUT_SECONDS for a connection.
worker_connections = _env_int("GUNICORN_WORKER_CONNECTIONS", 100)
preload_app = False

# --- Time ----------------------------------------------------------------------------
# Under gevent this only catches a worker whose loop is blocked (a CPU-bound or
# unpatched call), not a slow request.
timeout = _env_int("GUNICORN_TIMEOUT", 30)
# On SIGTERM, requests in flight get this long to finish. Under a PaaS's 30 s
# between SIGTERM and SIGKILL, so gunicorn exits on its own terms.
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 25)
# Longer than the proxy keeps idle upstream connections (nginx keepalive_timeout 60 s):
# the proxy must close an idle connection first, or it may send a request on a
# socket gunicorn is closing and answer 502.
keepalive = _env_int("GUNICORN_KEEPALIVE", 75)

# Recycle a worker after this many requests so a slow leak cannot grow forever; the
# jitter keeps the workers from restarting all at once. 0 turns it off.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 1000)
max_requests_jitter = _env_int("GUNICORN_MAX_REQUESTS_JITTER", 100)

# --- Proxies -------------------------------------------------------------------------
# Peers whose X-Forwarded-* headers gunicorn believes (the scheme and the client
# address it logs). Loopback: nginx on the same machine (a unix socket is always
# trusted). "*" only where nothing but a trusted router can reach the port (Heroku).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1"

# gunicorn 25+ opens a control socket under $HOME for `gunicornc`; two instances on
# one machine would fight over it and a PaaS has no shell to use it from.
control_socket_disable = True

# --- Logs ----------------------------------------------------------------------------
# LOG_FORMAT as in project/settings.py: json (one object per line, for a log
# drain) unless DJANGO_DEBUG, then console (gunicorn's own text lines).
_debug = (os.environ.get("DJANGO_DEBUG") or "").lower() in ("1", "true", "yes", "on")
log_format = os.environ.get("LOG_FORMAT") or ("console" if _debug else "json")
loglevel = (os.environ.get("LOG_LEVEL") or "info").lower()
accesslog = "-"
errorlog = "-"
# Console: the combined log format plus the request id the app answered with
# (X-Request-ID: nginx's, or one the app made) and the duration in microseconds.
access_log_format = '%(h)s - - %(t)s "%(r)s" %(s)s %(B)s "%(f)s" "%(a)s" request_id=%({x-request-id}o)s %(D)sus'


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line with the keys of the app's structlog lines.

    The access log's record carries gunicorn's atoms as its args (a dict): they
    become fields, so a path or user agent with quotes cannot break the line.
    """

    def format(self, record):
        line = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            line.update(self.access_fields(record.args))
        else:
            line["event"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)

    @staticmethod
    def access_fields(escaped):
        # gunicorn escapes '"' in every atom for its quoted text format; JSON escapes on its own.
        atoms = {key: value.replace('\\"', '"') if isinstance(value, str) else value for key, value in escaped.items()}
        query = atoms.get("q")
        return {
            "event": "request",
            "method": atoms.get("m"),
            "path": atoms.get("U") + (f"?{query}" if query else ""),
            "status": int(atoms.get("s")),
            "duration_ms": round(atoms.get("D") / 1000, 3),
            "bytes": atoms.get("B") or 0,
            # The app echoes the id it bound (nginx's X-Request-ID, or its own).
            "request_id": atoms.get("{x-request-id}o") or atoms.get("{x-request-id}i"),
            "remote_addr": atoms.get("h"),
            # The client as the proxy saw it (the peer is the proxy itself, or a unix socket).
            "forwarded_for": atoms.get("{x-forwarded-for}i"),
            "user_agent": atoms.get("a"),
            "pid": os.getpid(),
        }


def _json_logging():
    """dictConfig for gunicorn's two loggers; the app configures the root logger itself (LOGGING)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonLogFormatter}},
        "handlers": {
            "error": {**handler, "stream": "ext://sys.stderr"},
            "access": {**handler, "stream": "ext://sys.stdout"},
        },
        "loggers": {
            "gunicorn.error": {"handlers": ["error"], "level": loglevel.upper(), "propagate": False},
            "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
        # Replaces gunicorn's default, which names a handler this dict does not define.
        "root": {"level": "INFO", "handlers": []},
    }


if log_format == "json":
    logconfig_dict = _json_logging()


# --- Hooks ---------------------------------------------------------------------------


def post_worker_init(worker):
    # gevent has patched the worker by now, so the checks see what requests will
    # run under; an error here exits the worker before it boots, which stops gunicorn.
    from project.checks import fail_on_errors

    fail_on_errors()


# --- Prometheus multiprocess mode (project/metrics.py, docs/operations.md) ----------------------


def on_starting(server):
    # Every worker writes its metric samples to files here and /metrics adds them up,
    # so each scrape sees the same totals. Set before any worker is forked (workers
    # inherit it; prometheus_client reads it when first imported), and emptied so a
    # previous run's processes do not count. Only *.db files are removed.
    import glob

    default = os.path.join(os.environ.get("VAR_DIR", os.path.join(os.path.dirname(__file__), "var")), "metrics", "web")
    directory = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", default)
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)


def child_exit(server, worker):
    # A dead worker's live gauges (requests in progress, live processes) must stop
    # counting; its counters and histograms stay, as totals must.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
