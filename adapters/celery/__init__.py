"""Celery adapters: domain events handed to the task queue."""
