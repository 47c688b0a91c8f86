"""Logs and error reports: structlog lines with request ids, and Sentry.

Every log line goes through one structlog ``ProcessorFormatter``: the app's
structlog loggers and the standard library's (Django, Celery, DRF, our
``logging.getLogger`` modules) alike, so they share one shape: one JSON object
per line for a log drain, or readable console lines in development. Each line
carries the context bound for the request or task it belongs to:
django-structlog's RequestMiddleware binds ``request_id`` (and ``user_id``),
and its Celery integration carries that context in the headers of the tasks a
request enqueues and binds it in the worker that runs them.

Functions of values settings.py read from the environment; nothing here reads
the environment itself. docs/serving.md, "Logs and request ids".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:  # settings.py imports this module: keep Django's request machinery out of that
    from django.http import HttpRequest, HttpResponse

FORMATS = ("json", "console")
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_META = "HTTP_X_REQUEST_ID"
# What an upstream id may look like (nginx's $request_id is 32 hex digits, Heroku's
# router a UUID); anything else is replaced, so a client cannot forge log lines.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,200}")


def _shared_processors() -> list[Any]:
    """Run on every line, from structlog and from the standard library."""
    return [
        structlog.contextvars.merge_contextvars,  # request_id, user_id, task_id, ...
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def build_logging(*, log_format: str, level: str) -> dict[str, Any]:
    """Django's LOGGING: the root logger writes every record through the structlog formatter."""
    if log_format not in FORMATS:
        raise ValueError(f"LOG_FORMAT={log_format!r} is not one of {', '.join(FORMATS)}.")
    renderer: list[Any] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if log_format == "json"
        else [structlog.dev.ConsoleRenderer(colors=False)]
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "structlog": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
                "foreign_pre_chain": _shared_processors(),
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "structlog"}},
        "root": {"handlers": ["console"], "level": level},
    }


def configure_structlog() -> None:
    """structlog loggers hand their events to the standard library, which formats them as above."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.UnicodeDecoder(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class RequestIdMiddleware:
    """The request id: the proxy's X-Request-ID when it looks like one, else a new one; echoed in the response.

    Runs before django-structlog's RequestMiddleware, which binds the header's
    value (DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID) to every log line of the
    request. The echo lets a client quote the id, and lets gunicorn's access
    log carry it even when the app made it up.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        structlog.contextvars.clear_contextvars()  # nothing from an earlier request on this thread
        request_id = request.META.get(REQUEST_ID_META, "")
        if not _REQUEST_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex
            request.META[REQUEST_ID_META] = request_id
        response = self.get_response(request)
        # RequestMiddleware has unbound the context by now, but Django logs 4xx and 5xx
        # responses ("django.request") after every middleware returned: keep the id for it.
        structlog.contextvars.bind_contextvars(request_id=request_id)
        response[REQUEST_ID_HEADER] = request_id
        return response


def init_sentry(*, dsn: str, release: str, environment: str, traces_sample_rate: float) -> None:
    """Report unhandled errors (web requests, Celery tasks) and error log lines to Sentry.

    Imported only when SENTRY_DSN is set. No personal data: no user emails,
    cookies or client addresses leave the process (send_default_pii=False).
    """
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.logging import ignore_logger

    # Its "request_finished" line of a 500 would be a second event beside the exception's.
    ignore_logger("django_structlog.middlewares.request")
    sentry_sdk.init(
        dsn=dsn,
        release=release,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        integrations=[DjangoIntegration(), CeleryIntegration()],
    )
