"""How a booking looks on the wire."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers.common import AwareDateTimeField, MoneySerializer
from domain.bookings import BookingStatus

BOOKING_READ_ONLY = (
    "id",
    "client_id",
    "expert_user_id",
    "ends_at",
    "price",
    "status",
    "created_at",
    "updated_at",
)


class BookingSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    client_id = serializers.UUIDField()
    expert_id = serializers.UUIDField(help_text="The expert profile booked.")
    expert_user_id = serializers.UUIDField(help_text="The account that owns the expert profile.")
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField()
    duration_minutes = serializers.IntegerField()
    topic = serializers.CharField()
    price = MoneySerializer(help_text="Hourly rate x duration, frozen when the booking was requested.")
    status = serializers.ChoiceField(choices=[s.value for s in BookingStatus])
    created_at = AwareDateTimeField()
    updated_at = AwareDateTimeField()

    class Meta:
        ref_name = "Booking"
