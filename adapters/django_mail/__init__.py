"""Adapters on Django's email framework (EMAIL_BACKEND: SMTP, console, file or locmem)."""
