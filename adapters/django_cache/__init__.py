"""Adapters on Django's cache framework (Redis via django-redis in production, local memory by default)."""
