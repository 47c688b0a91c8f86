"""The Django project: settings, URLs, WSGI entry point, the Celery app and the DI container."""

# Loaded whenever Django starts, so @shared_task tasks bind to this app (Celery's Django recipe).
from project.celery import app as celery_app

__all__ = ("celery_app",)
