"""Bulk writes to any index go in fixed-size batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of at most ``size`` items, streamed (itertools.batched arrives in Python 3.12)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
