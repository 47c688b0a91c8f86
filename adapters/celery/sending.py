"""Sending a task from a web request: bounded in time, whatever the broker does.

The app's broker settings are the worker's and beat's (longer socket timeouts, kombu's
publish and connection retries): on a hung Redis a request would wait them all out,
20 s and more. A send from a request instead uses a connection of its own with short
connect and socket timeouts and no retries, and gives up with PortError.
"""

from __future__ import annotations

from celery import Celery, current_app
from kombu.exceptions import KombuError, OperationalError

from domain.errors import PortError

# The default bound of one send (connect, then the publish), from CELERY_PUBLISH_TIMEOUT_SECONDS.
PUBLISH_TIMEOUT_SECONDS = 0.5


def send_task_bounded(
    name: str, kwargs: dict[str, object], *, app: Celery | None = None, timeout: float = PUBLISH_TIMEOUT_SECONDS
) -> None:
    """Send task ``name`` with ``kwargs``, each step (connect, publish) within about ``timeout`` seconds;
    PortError if the broker refuses it or does not answer in time."""
    celery_app = app or current_app
    # max_retries 0: kombu's first connection retry alone would wait 2 s.
    bounded = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "max_retries": 0}
    try:
        with celery_app.connection_for_write(connect_timeout=timeout, transport_options=bounded) as connection:
            celery_app.signature(name, kwargs=kwargs).apply_async(connection=connection, retry=False)
    except (OperationalError, KombuError, OSError) as error:
        raise PortError(f"Could not send {name}.") from error
