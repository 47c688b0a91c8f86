"""Page requests and pages, shared by every list port."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.errors import InvalidInput

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class PageRequest:
    """1-based page number and a page size capped at MAX_PAGE_SIZE."""

    number: int = 1
    size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        if self.number < 1:
            raise InvalidInput.on_field("page", "Page numbers start at 1.")
        if not 1 <= self.size <= MAX_PAGE_SIZE:
            raise InvalidInput.on_field("page_size", f"Page size must be 1-{MAX_PAGE_SIZE}.")

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    request: PageRequest

    @property
    def has_next(self) -> bool:
        return self.request.offset + len(self.items) < self.total

    @property
    def has_previous(self) -> bool:
        return self.request.number > 1
