"""PageRequest's bounds: no store is ever asked for an offset it cannot take."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from domain.pagination import MAX_PAGE_NUMBER, MAX_PAGE_SIZE, PageRequest


@pytest.mark.parametrize(
    ("number", "size", "field"),
    [
        (0, 20, "page"),
        (MAX_PAGE_NUMBER + 1, 20, "page"),
        (10**30, 20, "page"),
        (1, 0, "page_size"),
        (1, 101, "page_size"),
    ],
)
def test_a_page_out_of_bounds_is_invalid_input(number: int, size: int, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        PageRequest(number, size)

    assert list(raised.value.fields) == [field]


def test_the_deepest_page_has_an_offset_even_a_32_bit_store_takes() -> None:
    deepest = PageRequest(MAX_PAGE_NUMBER, MAX_PAGE_SIZE)

    assert deepest.offset == (MAX_PAGE_NUMBER - 1) * MAX_PAGE_SIZE < 2**31
