"""The REST API: thin DRF views over the use cases, one error shape, JWT auth, OpenAPI.

Views receive use cases from the container by string id (dependency-injector
wiring), so this package never imports ``project`` or ``adapters``.
"""
