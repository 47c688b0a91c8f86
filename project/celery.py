"""The Celery app: configured from Django settings (the CELERY_* names), tasks found in the apps.

Start a worker with ``celery -A project worker``. Tasks are entrypoints like views
(api/tasks.py); they reach use cases through the container, which
ProjectConfig.ready() configures and wires in every process, the worker's too.
"""

from __future__ import annotations

import logging.config
import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging
from django_structlog.celery.steps import DjangoStructLogInitStep

# The celery command line starts without Django; the tests set their own module first.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

app = Celery("experthub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Binds the context a task's headers carry (the request id of the request that
# enqueued it) to every log line of the task, in the worker (docs/serving.md).
app.steps["worker"].add(DjangoStructLogInitStep)


@setup_logging.connect
def _log_through_django_settings(**kwargs: Any) -> None:
    """The worker and beat log as the web process does (settings.LOGGING): with a receiver
    here Celery installs no handlers of its own, whatever --loglevel says."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@app.on_after_configure.connect
def _redbeat_settings(sender: Celery, **_: object) -> None:
    """RedBeat checks for its settings by their plain names (redbeat_redis_url), which
    the namespaced CELERY_REDBEAT_* settings do not list: hand them over under those names."""
    sender.conf.update(
        {name: sender.conf[name] for name in ("redbeat_redis_url", "redbeat_redis_options") if sender.conf.get(name)}
    )
