"""Use cases bound to the in-memory fakes, the way the container binds them to real adapters."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest

from adapters.memory.store import FixedClock
from domain.experts import ExpertProfile
from domain.money import Money
from domain.users import Role, User

PORTS = {
    "clock",
    "uow",
    "users",
    "experts",
    "bookings",
    "reviews",
    "search",
    "blobs",
    "events",
    "view_counter",
    "response_cache",
    "mailer",
    "report_source",
    "search_log",
    "report_runs",
    "trend_chart",
    "uploads",
    "images",
}
MEMORY_CONFIG = {
    "repository_backend": "memory",
    "search_backend": "memory",
    "search_sync": "inline",
    "blob_backend": "memory",
    "events_backend": "memory",
    "blob_root": "",
    "image_max_pixels": 1_000_000,
    "public_base_url": "memory://",
    "secret_key": "unit-tests",
    "view_counter_backend": "memory",
    "response_cache_backend": "memory",
    "mailer_backend": "memory",
    "chart_backend": "memory",
    "response_cache_seconds": 60,
    "app_version": "test",
    "report": {
        "tz": "Europe/Paris",
        "send_at": time(7, 0),
        "recipients": ("ops@example.com", "cto@example.com"),
        "url": "https://experthub.test/api/v1/reports/{day}/",
    },
    "queue": {"publish_timeout": 0.5},
    "redis": {"url": "", "socket_timeout": 0.1, "ssl_cert_reqs": "none", "ssl_ca_certs": None, "breaker_seconds": 1.0},
    "elasticsearch": {"url": "", "index": "", "api_key": None, "ca_certs": None, "timeout": 1.0},
    "s3": {
        "endpoint_url": None,
        "bucket": "",
        "region": "",
        "access_key_id": None,
        "secret_access_key": None,
        "addressing_style": "auto",
        "timeout": 1.0,
    },
}


class World:
    """A container on the in-memory fakes: ``world.booking_accept(...)`` calls the use case as
    the container binds it, ``world.users`` is the port instance. Plus builders for common set-up."""

    def __init__(self, container: Any) -> None:
        self.container = container
        self._counter = 0

    def __getattr__(self, name: str) -> Any:
        provider = getattr(self.container, name)
        # Ports are singletons: hand out the instance. Use cases: hand out the bound callable.
        return provider() if name in PORTS else provider

    def register(self, role: Role = Role.CLIENT, name: str = "Someone") -> User:
        self._counter += 1
        return self.account_register(
            email=f"{role}{self._counter}@example.com", password="pw-123456", name=name, role=role
        )

    def published_expert(self, **values: Any) -> ExpertProfile:
        owner = self.register(Role.EXPERT, name="Ada")
        fields = {"headline": "Django consultant", "skills": ["django", "python"], "hourly_rate": Money(12000, "EUR")}
        profile = self.expert_create(actor=owner.id, **{**fields, **values})
        return self.expert_publish(actor=owner.id, expert_id=profile.id)

    def staff(self) -> User:
        staff = self.register(Role.CLIENT, name="Staff")
        staff.role = Role.STAFF
        self.users._put(staff.id, staff)  # operators make staff accounts outside the use cases
        return staff

    def tomorrow(self, hours: int = 0) -> datetime:
        return self.clock.now() + timedelta(days=1, hours=hours)


@pytest.fixture
def world() -> World:
    """A fresh container per test: nothing to reset, no database touched."""
    from project.container import Container

    container = Container()
    container.config.from_dict(MEMORY_CONFIG)
    container.clock.override(FixedClock())
    return World(container)
