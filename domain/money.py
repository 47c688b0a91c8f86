"""Money: an integer number of minor units and an ISO 4217 currency. Never float."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import InvalidInput

# Currencies the marketplace settles in, with their minor-unit exponent.
CURRENCY_EXPONENTS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CHF": 2,
    "CAD": 2,
    "AUD": 2,
    "SEK": 2,
    "PLN": 2,
    "INR": 2,
    "JPY": 0,
}

# A ceiling far above any real session price; it keeps sums inside a BIGINT.
MAX_MINOR_UNITS = 10**12


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (cents) of one currency."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if self.currency not in CURRENCY_EXPONENTS:
            raise InvalidInput.on_field("currency", f"Unsupported currency {self.currency!r}.")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise InvalidInput.on_field("amount", "Amount must be an integer number of minor units.")
        if not 0 <= self.amount <= MAX_MINOR_UNITS:
            raise InvalidInput.on_field("amount", "Amount is out of range.")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def for_minutes(self, minutes: int) -> Money:
        """The price of ``minutes`` at this hourly rate, rounded half up to a minor unit."""
        numerator = self.amount * minutes
        return Money((numerator + 30) // 60, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidInput.on_field("currency", "Cannot combine different currencies.")

    def __str__(self) -> str:
        exponent = CURRENCY_EXPONENTS[self.currency]
        if exponent == 0:
            return f"{self.amount} {self.currency}"
        major, minor = divmod(self.amount, 10**exponent)
        return f"{major}.{minor:0{exponent}d} {self.currency}"
