"""Gunicorn settings for the web process (Procfile: `gunicorn project.wsgi --config gunicorn.conf.py`).

Anything here can be overridden without an edit through GUNICORN_CMD_ARGS
(e.g. GUNICORN_CMD_ARGS="--log-level debug").

Read from the environment here because gunicorn loads this file before Django
exists; Django's own settings stay in project/settings.py.

gevent workers: one process serves many requests at once while they wait on
I/O. Gunicorn's gevent worker monkey-patches the standard library itself
when the worker starts, before the app is imported; that is why preload_app
stays off (preloading would import ssl/socket unpatched in the master).

Each worker makes psycopg2 cooperative (post_fork, before the app loads or
connects) and runs Django's system checks once it is patched (post_worker_init):
an unsafe database setup (project/checks.py) stops gunicorn at start-up with
"Worker failed to boot" instead of serving. See docs/postgresql.md.
"""

import os

_port = os.environ.get("PORT")
# A PaaS sets PORT and routes to it on every interface; with no PORT, listen on
# loopback only. WEB_HOST overrides the interface (`make run` keeps 127.0.0.1).
_host = os.environ.get("WEB_HOST", "0.0.0.0" if _port else "127.0.0.1")
bind = f"{_host}:{_port or 8000}"

worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Concurrent requests (greenlets) per worker.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "100"))

# With gevent, timeout only catches a worker whose loop is blocked, not one slow request.
timeout = 30
graceful_timeout = 20
keepalive = 5

# Recycle workers now and then so a slow leak cannot grow forever; jitter avoids all restarting at once.
max_requests = 1000
max_requests_jitter = 100

accesslog = "-"
errorlog = "-"
loglevel = "info"


def post_fork(server, worker):
    # Before the app is loaded: a connection opened before the wait callback
    # is installed would block the whole worker on every query.
    from project.database import make_psycopg_cooperative

    make_psycopg_cooperative()


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
