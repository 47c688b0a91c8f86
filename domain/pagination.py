"""Page requests and pages, shared by every list port."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain.errors import InvalidInput

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Keeps every offset (at most 999,900) far inside what a store takes: an unbounded page
# number overflows SQL's 64-bit OFFSET. Past a few pages clients search or filter instead.
MAX_PAGE_NUMBER = 10_000


@dataclass(frozen=True, slots=True)
class PageRequest:
    """1-based page number up to MAX_PAGE_NUMBER and a page size capped at MAX_PAGE_SIZE."""

    number: int = 1
    size: int = DEFAULT_PAGE_SIZE

    def __post_init__(self) -> None:
        if not 1 <= self.number <= MAX_PAGE_NUMBER:
            raise InvalidInput.on_field("page", f"Page numbers run from 1 to {MAX_PAGE_NUMBER}.")
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
