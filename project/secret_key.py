"""Refuse to run, with debug off, on a secret key that anyone can know or guess.

The key signs sessions, JWTs (a staff token forged with the repository's key is
a staff login) and the local blob store's URLs. Every process refuses, whatever
starts it: each one calls django.setup(), which runs ProjectConfig.ready(),
which calls refuse_insecure_secret_key() (gunicorn's workers, the Celery worker
and beat, manage.py's release commands). The thresholds are Django's own
(`check --deploy`, security.W009).
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(50))'"


def secret_key_problem(key: str, *, development_key: str) -> str | None:
    """What is wrong with ``key`` for a deployment, or None."""
    if not key or key == development_key:
        return "SECRET_KEY is not set (the development key in the repository would sign sessions and JWTs)"
    if key.startswith(SECRET_KEY_INSECURE_PREFIX):
        return f"SECRET_KEY starts with {SECRET_KEY_INSECURE_PREFIX!r}, the mark of a generated development key"
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return (
            f"SECRET_KEY is too weak: {len(key)} characters, {len(set(key))} distinct "
            f"(at least {SECRET_KEY_MIN_LENGTH} and {SECRET_KEY_MIN_UNIQUE_CHARACTERS})"
        )
    return None


def refuse_insecure_secret_key() -> None:
    """Raise ImproperlyConfigured when debug is off and the key is missing, weak or the development one."""
    if settings.DEBUG:
        return
    problem = secret_key_problem(settings.SECRET_KEY, development_key=settings.DEVELOPMENT_SECRET_KEY)
    if problem:
        raise ImproperlyConfigured(
            f"Refusing to start: {problem}. Set SECRET_KEY to a random value ({GENERATE}); "
            "for development, `make run` makes one under var/, or set DJANGO_DEBUG=true."
        )
