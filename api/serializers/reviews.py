"""How a review looks on the wire."""

from __future__ import annotations

from rest_framework import serializers

from api.serializers.common import AwareDateTimeField

REVIEW_READ_ONLY = ("id", "booking_id", "expert_id", "author_id", "created_at")


class PublicReviewSerializer(serializers.Serializer):
    """A review as anyone browsing an expert sees it: who wrote it stays private."""

    id = serializers.UUIDField()
    expert_id = serializers.UUIDField()
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField()
    created_at = AwareDateTimeField()

    class Meta:
        ref_name = "PublicReview"


class ReviewSerializer(PublicReviewSerializer):
    """A review as its author sees it."""

    booking_id = serializers.UUIDField()
    author_id = serializers.UUIDField()

    class Meta:
        ref_name = "Review"
