"""Review: one per completed booking, by its client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.errors import InvalidInput
from domain.ids import BookingId, ExpertId, ReviewId, UserId

COMMENT_MAX = 2000


def validate_rating(rating: int) -> int:
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise InvalidInput.on_field("rating", "Rating must be an integer from 1 to 5.")
    return rating


def validate_comment(comment: str) -> str:
    text = comment.strip()
    if len(text) > COMMENT_MAX:
        raise InvalidInput.on_field("comment", f"At most {COMMENT_MAX} characters.")
    return text


@dataclass(frozen=True, slots=True)
class Review:
    id: ReviewId
    booking_id: BookingId
    expert_id: ExpertId
    author_id: UserId
    rating: int
    comment: str
    created_at: datetime
