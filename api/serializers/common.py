"""Serializer building blocks shared by the resources: strict input, money, aware datetimes, tag lists."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from domain.experts import time_zones
from domain.money import CURRENCY_EXPONENTS, MAX_MINOR_UNITS, Money
from domain.skills import LANGUAGE_INPUT_PATTERN, SKILL_INPUT_PATTERN

CURRENCIES = tuple(sorted(CURRENCY_EXPONENTS))
READ_ONLY_MESSAGE = "This field is read-only."
UNKNOWN_MESSAGE = "Unknown field."
BLANK_MESSAGE = "This field may not be blank."
NOT_TEXT_MESSAGE = "Not a valid string."


class StrictInputSerializer(serializers.Serializer):
    """An input serializer that rejects keys it does not accept, instead of silently dropping them.

    A client that sends ``status`` or ``price`` believes it sets them; telling
    it so (400, "read-only") beats ignoring it. ``read_only_fields`` names the
    keys of the resource's output that clients may not write.
    """

    read_only_fields: ClassVar[tuple[str, ...]] = ()

    def to_internal_value(self, data: Any) -> Any:
        unexpected = {**self._unexpected_fields(data), **self._non_text_fields(data)}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unexpected and isinstance(error.detail, Mapping):
                raise serializers.ValidationError({**error.detail, **unexpected}) from error
            raise
        if unexpected:
            raise serializers.ValidationError(unexpected)
        return value

    def _non_text_fields(self, data: Any) -> dict[str, list[str]]:
        # DRF's CharField turns 0 into "0"; the schema says string, so a number is refused.
        if not isinstance(data, Mapping):
            return {}
        return {
            name: [NOT_TEXT_MESSAGE]
            for name, field in self.fields.items()
            if isinstance(field, serializers.CharField)
            and data.get(name) is not None
            and not isinstance(data[name], str)
        }

    def _unexpected_fields(self, data: Any) -> dict[str, list[str]]:
        if not isinstance(data, Mapping):
            return {}  # DRF itself reports "expected a dictionary"
        writable = {name for name, field in self.fields.items() if not field.read_only}
        return {
            str(key): [READ_ONLY_MESSAGE if key in self.read_only_fields else UNKNOWN_MESSAGE]
            for key in data
            if key not in writable
        }


class StrictQuerySerializer(serializers.Serializer):
    """Query parameters where ``?status=`` is a blank value, refused unless the field allows blanks.

    DRF reads an empty optional parameter as a missing one, so ``?status=`` would list every
    status and ``?sort=`` sort by relevance: the client asked for something and got something
    else. The schema says these parameters have a value; the server holds them to it.
    """

    def to_internal_value(self, data: Any) -> Any:
        blank = self._blank_fields(data)
        if blank:
            raise serializers.ValidationError(blank)
        return super().to_internal_value(data)

    def _blank_fields(self, data: Any) -> dict[str, list[str]]:
        if not hasattr(data, "getlist"):
            return {}
        return {
            name: [BLANK_MESSAGE]
            for name, field in self.fields.items()
            if not getattr(field, "allow_blank", False) and "" in data.getlist(name)
        }


class MoneySerializer(serializers.Serializer):
    """Money out: integer minor units, the currency, and a display string."""

    amount = serializers.IntegerField(help_text="Minor units (cents); never a float.")
    currency = serializers.CharField(help_text="ISO 4217 code.")
    display = serializers.SerializerMethodField(help_text='E.g. "120.00 USD".')

    def get_display(self, money: Money) -> str:
        return str(money)


class MoneyInputSerializer(StrictInputSerializer):
    """Money in: both parts always, even in a partial update; validates into a domain Money."""

    read_only_fields = ("display",)

    amount = serializers.IntegerField(min_value=0, max_value=MAX_MINOR_UNITS, help_text="Minor units (cents).")
    currency = serializers.ChoiceField(choices=CURRENCIES, help_text="ISO 4217 code.")

    class Meta:
        ref_name = "MoneyInput"

    def validate(self, attrs: dict[str, Any]) -> Money:
        # A partial update skips missing nested fields; half an amount is no amount.
        missing = {name: ["This field is required."] for name in ("amount", "currency") if name not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        return Money(attrs["amount"], attrs["currency"])


class AwareDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a UTC offset. A naive time is refused, not guessed in the server's zone."""

    default_error_messages = {
        "naive": "Include a UTC offset, e.g. 2030-01-31T14:00:00+01:00.",
        "out_of_range": "Date is out of range.",
    }

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        if value.year >= datetime.max.year:
            self.fail("out_of_range")  # leaves room for start + duration without overflow
        return super().enforce_timezone(value).astimezone(UTC)


class StrictUUIDField(serializers.UUIDField):
    """A UUID given as a string; DRF would also take an integer and turn 42 into a valid-looking id."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


class CommaSeparatedListField(serializers.ListField):
    """A query parameter given repeated (?skills=a&skills=b), comma-separated (?skills=a,b), or both."""

    def to_internal_value(self, data: Any) -> list[Any]:
        if isinstance(data, str):
            data = [data]
        if isinstance(data, list) and all(isinstance(item, str) for item in data):
            data = [part.strip() for item in data for part in item.split(",") if part.strip()]
        return super().to_internal_value(data)


# The domain normalises skills and languages (and says which field was wrong); these only
# publish, in the schema, the inputs it accepts.
class TextOnlyField(serializers.CharField):
    """A CharField that takes only a JSON string: DRF would turn 0 into "0", which the schema refuses."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


@extend_schema_field({"type": "string", "pattern": SKILL_INPUT_PATTERN})
class SkillInputField(TextOnlyField):
    """A skill as typed, e.g. `Machine Learning`; stored as a tag, e.g. `machine-learning`."""


@extend_schema_field({"type": "string", "pattern": LANGUAGE_INPUT_PATTERN})
class LanguageInputField(TextOnlyField):
    """An ISO 639-1 code, any case."""


@extend_schema_field({"type": "string", "enum": sorted(time_zones())})
class TimeZoneInputField(TextOnlyField):
    """An IANA time zone name; the domain checks it, the schema lists the names it accepts."""
