"""How an account looks on the wire."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from rest_framework import serializers

from api.serializers.common import AwareDateTimeField
from domain.users import Role, User, email_key

USER_READ_ONLY = ("id", "signed_up_at", "expert_profile_id", "is_staff", "is_active")


class MailboxEmailField(serializers.EmailField):
    """An email address folded to its domain.users.email_key before it is validated.

    Validating the typed form would refuse a fullwidth address that the login accepts,
    and let "sam@example.com" spelt with a long s (which Django's validator takes for an
    s) through as a second account of the same mailbox; folded first, they are one.
    """

    def to_internal_value(self, data: Any) -> str:
        return email_key(super().to_internal_value(data))


class UserSerializer(serializers.Serializer):
    """An account; ``context["expert_profile_id"]`` is its expert profile's id, when it has one."""

    id = serializers.UUIDField()
    email = serializers.EmailField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=[r.value for r in Role])
    signed_up_at = AwareDateTimeField()
    expert_profile_id = serializers.SerializerMethodField(help_text="Null until an expert creates a profile.")

    class Meta:
        ref_name = "User"

    def get_expert_profile_id(self, user: User) -> UUID | None:
        return self.context.get("expert_profile_id")
