"""Serializer fields shared by every API: money objects and calendar dates (API.md, Conventions)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ledger.money import Money, MoneyError

MONEY_SCHEMA = {
    "type": "object",
    "properties": {
        "amount": {
            "type": "string",
            "pattern": r"^\d+(\.\d+)?$",
            "example": "1500",
            "description": "Major units, at most the currency's minor digits (JPY 0, USD 2).",
        },
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "example": "JPY"},
    },
    "required": ["amount", "currency"],
}


def parse_iso_date(value: str) -> dt.date | None:
    """The date of `value` written exactly YYYY-MM-DD in ASCII digits, or None. `date.fromisoformat` alone also
    takes ISO week dates ("2026-W40-6") and basic format ("20261005"), which the API does not."""
    if len(value) != 10 or value[4] != "-" or value[7] != "-" or not value.isascii():
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


class ISODateField(serializers.DateField):
    """A date written YYYY-MM-DD, nothing else (DRF's DateField also takes week dates and basic format)."""

    default_error_messages = {"invalid": _("A date is YYYY-MM-DD, e.g. 2026-10-31.")}

    def to_internal_value(self, value):
        if isinstance(value, dt.datetime):
            self.fail("date")
        if isinstance(value, dt.date):
            return value
        day = parse_iso_date(value) if isinstance(value, str) else None
        if day is None:
            self.fail("invalid")
        return day


@extend_schema_field(MONEY_SCHEMA)
class MoneyField(serializers.Field):
    default_error_messages = {
        "invalid": _('A money object is {"amount": "1500", "currency": "JPY"}.'),
    }

    def to_internal_value(self, data) -> Money:
        if not isinstance(data, dict) or set(data) - {"amount", "currency"} or "amount" not in data:
            self.fail("invalid")
        amount, currency = data.get("amount"), data.get("currency")
        if not isinstance(amount, str) or not isinstance(currency, str):
            self.fail("invalid")
        try:
            return Money.parse(amount, currency)
        except MoneyError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: Money) -> dict[str, str]:
        return value.as_dict()


@extend_schema_field(OpenApiTypes.STR)
class WorkReferenceField(serializers.CharField):
    """`<uuid>` · `isbn:…` · `iscc:…` · `ext:<scheme>:<value>` (API.md, Work references)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 300)
        kwargs.setdefault("help_text", _("A work reference: a uuid, isbn:…, iscc:… or ext:<scheme>:<value>."))
        super().__init__(**kwargs)


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "maxLength": 300, "description": "A work reference."},
        "minItems": 1,
        "maxItems": settings.CLEARANCE_MAX_REFS,  # refused with 400 above it (read when the schema module loads)
    }
)
class WorkReferenceListField(serializers.Field):
    """A list of work references, checked as a whole (one pass, no field object per item: a clearance names up to
    10,000 works). Items that are not strings of at most 300 characters are reported by index (the first 20); whether
    each string names a work is the caller's business (an unknown or malformed reference is answered `unknown`)."""

    MAX_ITEM_ERRORS = 20
    default_error_messages = {
        "not_a_list": _("A list of work references."),
        "empty": _("At least one work reference."),
        "item": _("A work reference is a string of at most 300 characters."),
    }

    def to_internal_value(self, data) -> list[str]:
        if not isinstance(data, list):
            self.fail("not_a_list")
        if not data:
            self.fail("empty")
        bad = [index for index, item in enumerate(data) if type(item) is not str or len(item) > 300 or "\x00" in item]
        if bad:
            message = self.error_messages["item"]
            raise serializers.ValidationError({index: [message] for index in bad[: self.MAX_ITEM_ERRORS]})
        return data

    def to_representation(self, value):
        return list(value)
