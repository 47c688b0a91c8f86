"""How an expert profile looks on the wire."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rest_framework import serializers

from api.serializers.common import AwareDateTimeField, MoneySerializer
from domain.experts import ExpertProfile, ExpertStatus
from domain.ids import ExpertId

AvatarUrls = Callable[..., Mapping[ExpertId, str]]

# Output keys clients may read but never write: status and ratings are derived.
PROFILE_READ_ONLY = (
    "id",
    "status",
    "rating_average",
    "rating_count",
    "avatar_url",
    "published_at",
    "created_at",
    "updated_at",
)


class ExpertProfileSerializer(serializers.Serializer):
    """A profile; ``context["avatar_urls"]`` maps expert ids to presigned avatar URLs."""

    id = serializers.UUIDField()
    display_name = serializers.CharField()
    headline = serializers.CharField()
    bio = serializers.CharField()
    skills = serializers.ListField(child=serializers.CharField(), help_text="Normalised tags, e.g. `django`.")
    languages = serializers.ListField(child=serializers.CharField(), help_text="ISO 639-1 codes.")
    timezone = serializers.CharField(help_text="IANA name, e.g. `Europe/Berlin`.")
    hourly_rate = MoneySerializer()
    status = serializers.ChoiceField(choices=[s.value for s in ExpertStatus])
    rating_average = serializers.FloatField(allow_null=True, help_text="Null until the first review.")
    rating_count = serializers.IntegerField()
    avatar_url = serializers.SerializerMethodField(help_text="A presigned URL valid for an hour, or null.")
    published_at = AwareDateTimeField(allow_null=True)
    created_at = AwareDateTimeField()
    updated_at = AwareDateTimeField()

    class Meta:
        ref_name = "ExpertProfile"

    def get_avatar_url(self, profile: ExpertProfile) -> str | None:
        return self.context.get("avatar_urls", {}).get(profile.id)


def profile_data(profile: ExpertProfile, *, avatar_urls: AvatarUrls) -> dict[str, Any]:
    """One profile rendered, its avatar URL presigned by the ``expert_avatar_urls`` use case."""
    context = {"avatar_urls": avatar_urls(profiles=[profile])}
    return ExpertProfileSerializer(profile, context=context).data
