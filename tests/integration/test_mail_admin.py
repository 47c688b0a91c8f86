"""The back office shows the delivery records read-only: sent emails and the events waiting in the outbox."""

from __future__ import annotations

import pytest
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from adapters.orm.models import OutboxEvent, SentEmail, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client: Client) -> Client:
    user = User.objects.create_user(email="staff@example.com", password="pw-123456", role="staff", is_staff=True)
    client.force_login(user)
    return client


def rows() -> list[Model]:
    now = timezone.now()
    return [
        SentEmail.objects.create(
            key_hash="a" * 64, status="sent", recipient="ada@example.com", subject="Hi", claimed_at=now, sent_at=now
        ),
        OutboxEvent.objects.create(kind="BookingRequested", ids={"booking_id": "b1"}),
    ]


@pytest.mark.parametrize(("index", "shown"), [(0, "ada@example.com"), (1, "BookingRequested")], ids=["sent", "outbox"])
def test_staff_see_the_records_and_cannot_change_them(staff: Client, index: int, shown: str) -> None:
    row = rows()[index]
    name = row._meta.model_name

    listing = staff.get(reverse(f"admin:orm_{name}_changelist"))
    page = staff.get(reverse(f"admin:orm_{name}_change", args=[row.pk]))
    changed = staff.post(reverse(f"admin:orm_{name}_change", args=[row.pk]), {})

    assert listing.status_code == 200
    assert shown in listing.content.decode()
    assert page.status_code == 200
    assert changed.status_code == 403
    assert staff.get(reverse(f"admin:orm_{name}_delete", args=[row.pk])).status_code == 403
