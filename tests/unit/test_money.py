"""Money: integer minor units, one currency, never float."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import InvalidInput
from domain.money import CURRENCY_EXPONENTS, MAX_MINOR_UNITS, Money

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
amounts = st.integers(min_value=0, max_value=MAX_MINOR_UNITS // 4)


@given(amounts, amounts, currencies)
def test_addition_is_commutative_and_exact(a: int, b: int, currency: str) -> None:
    assert Money(a, currency) + Money(b, currency) == Money(b, currency) + Money(a, currency) == Money(a + b, currency)


@given(amounts, amounts, amounts, currencies)
def test_addition_is_associative(a: int, b: int, c: int, currency: str) -> None:
    x, y, z = Money(a, currency), Money(b, currency), Money(c, currency)
    assert (x + y) + z == x + (y + z)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=24 * 60), currencies)
def test_price_for_minutes_rounds_half_up_to_a_minor_unit(rate: int, minutes: int, currency: str) -> None:
    price = Money(rate, currency).for_minutes(minutes)
    exact_times_60 = rate * minutes
    # The price is the exact value rounded to the nearest minor unit (half up).
    assert abs(price.amount * 60 - exact_times_60) <= 30
    assert price.currency == currency


@given(st.integers(min_value=0, max_value=10**9), currencies)
def test_an_hour_costs_the_hourly_rate(rate: int, currency: str) -> None:
    assert Money(rate, currency).for_minutes(60) == Money(rate, currency)


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=600), currencies)
def test_longer_sessions_never_cost_less(rate: int, minutes: int, currency: str) -> None:
    money = Money(rate, currency)
    assert money.for_minutes(minutes + 15).amount >= money.for_minutes(minutes).amount


@given(amounts, amounts)
def test_currencies_do_not_mix(a: int, b: int) -> None:
    with pytest.raises(InvalidInput):
        Money(a, "EUR") + Money(b, "USD")


@pytest.mark.parametrize("amount", [-1, 1.5, "100", True, MAX_MINOR_UNITS + 1])
def test_amount_must_be_a_non_negative_integer(amount: object) -> None:
    with pytest.raises(InvalidInput) as error:
        Money(amount, "EUR")  # type: ignore[arg-type]
    assert "amount" in error.value.fields


@pytest.mark.parametrize("currency", ["eur", "XXX", "", "EURO"])
def test_currency_must_be_supported(currency: str) -> None:
    with pytest.raises(InvalidInput) as error:
        Money(100, currency)
    assert "currency" in error.value.fields


@pytest.mark.parametrize(
    ("money", "text"),
    [(Money(12345, "EUR"), "123.45 EUR"), (Money(5, "USD"), "0.05 USD"), (Money(700, "JPY"), "700 JPY")],
)
def test_display(money: Money, text: str) -> None:
    assert str(money) == text
