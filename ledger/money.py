"""Exact money: integer minor units beside an ISO 4217 currency. No floats anywhere.

`Money.parse("12.50", "USD")` → 1250 cents; `"12.5"` JPY is an error (JPY has no minor unit).
`allocate(total, weights)` splits an integer total by the largest-remainder method so the parts always add up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache
from typing import Any

from babel.numbers import format_currency, get_currency_precision, is_currency
from django.utils.translation import gettext as _


class MoneyError(ValueError):
    """A money value or operation that cannot be exact."""


class CurrencyMismatch(MoneyError):
    pass


_AMOUNT_RE = re.compile(r"^(?P<sign>-)?(?P<int>[0-9]+)(?:\.(?P<frac>[0-9]+))?$")
MAX_MINOR = 2**63 - 1  # what a PostgreSQL bigint holds


@lru_cache(maxsize=512)
def currency_digits(currency: str) -> int:
    """Minor-unit digits of an ISO 4217 code (JPY 0, USD 2, KWD 3), from CLDR via babel."""
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper() or not is_currency(currency):
        raise MoneyError(_("%(currency)s is not an ISO 4217 currency code.") % {"currency": currency})
    return get_currency_precision(currency)


def validate_currency(currency: str) -> str:
    currency_digits(currency)
    return currency


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount) is not int:
            raise MoneyError(_("A money amount is an integer number of minor units."))
        if abs(self.amount) > MAX_MINOR:
            raise MoneyError(_("The amount is too large."))
        validate_currency(self.currency)

    # construction ---------------------------------------------------------------------------------------------
    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def parse(cls, value: str, currency: str, *, allow_negative: bool = False) -> Money:
        """A decimal string in major units with at most the currency's minor digits ("1500" JPY, "12.50" USD)."""
        digits = currency_digits(currency)
        if not isinstance(value, str):
            raise MoneyError(_('An amount is a decimal string, such as "1500" or "12.50".'))
        match = _AMOUNT_RE.match(value.strip())
        if not match:
            raise MoneyError(
                _('%(value)s is not a decimal amount, such as "1500" or "12.50".') % {"value": repr(value)[:40]}
            )
        frac = match["frac"] or ""
        if len(frac) > digits:
            raise MoneyError(
                _("%(currency)s amounts have at most %(digits)d decimal digits.")
                % {"currency": currency, "digits": digits}
            )
        if len(match["int"]) > 18:
            raise MoneyError(_("The amount is too large."))
        minor = int(match["int"]) * 10**digits + int(frac.ljust(digits, "0") or 0)
        if minor > MAX_MINOR:
            raise MoneyError(_("The amount is too large."))
        if match["sign"]:
            if not allow_negative:
                raise MoneyError(_("The amount must not be negative."))
            minor = -minor
        return cls(minor, currency)

    @classmethod
    def from_decimal(cls, value: Decimal, currency: str, *, rounding: str = ROUND_HALF_UP) -> Money:
        """Round a Decimal in major units to the minor unit (half-up unless told otherwise)."""
        digits = currency_digits(currency)
        try:
            minor = (Decimal(value) * (10**digits)).to_integral_value(rounding=rounding)
        except InvalidOperation as exc:
            raise MoneyError(_("The amount is not a finite number.")) from exc
        return cls(int(minor), currency)

    @classmethod
    def floor(cls, value: Decimal, currency: str) -> Money:
        return cls.from_decimal(value, currency, rounding=ROUND_FLOOR)

    # representation ------------------------------------------------------------------------------------------
    @property
    def digits(self) -> int:
        return currency_digits(self.currency)

    def to_decimal(self) -> Decimal:
        """The exact value in major units."""
        return Decimal(self.amount).scaleb(-self.digits)

    def to_string(self) -> str:
        """API form: "1500", "12.50", "-3.05"."""
        digits = self.digits
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 10**digits)
        return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"

    def as_dict(self) -> dict[str, str]:
        return {"amount": self.to_string(), "currency": self.currency}

    def format(self, locale: str = "ja_JP") -> str:
        """For people: "￥1,500", "$12.50"."""
        return format_currency(self.to_decimal(), self.currency, locale=locale)

    def __str__(self) -> str:
        return f"{self.to_string()} {self.currency}"

    # arithmetic ----------------------------------------------------------------------------------------------
    def _check(self, other: Any) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(
                _("Cannot combine %(a)s and %(b)s amounts.") % {"a": self.currency, "b": other.currency}
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._check(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._check(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.amount), self.currency)

    def __mul__(self, factor: int) -> Money:
        if type(factor) is not int:
            raise TypeError("Money multiplies by an int only; use from_decimal for rates")
        return Money(self.amount * factor, self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._check(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._check(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._check(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._check(other).amount

    def __bool__(self) -> bool:
        return self.amount != 0

    def allocate(self, weights: Sequence[Decimal | int | Fraction], order: Sequence[Any] | None = None) -> list[Money]:
        return [Money(part, self.currency) for part in allocate(self.amount, weights, order)]


def allocate(total: int, weights: Sequence[Decimal | int | Fraction], order: Sequence[Any] | None = None) -> list[int]:
    """Split `total` minor units in proportion to `weights`; the parts always sum to `total` exactly.

    Largest-remainder method (RULES.md, Split): each part gets the floor of its exact quota, and the units left over
    go one each to the largest remainders; ties go to the larger weight, then to the smaller `order` key (the lower
    rights-holder id; by default the position). A negative total is split as its magnitude, then negated.
    """
    if type(total) is not int:
        raise MoneyError("allocate() splits an integer number of minor units")
    if not weights:
        raise MoneyError(_("Nothing to allocate to."))
    exact = [Fraction(weight) for weight in weights]
    if any(weight < 0 for weight in exact):
        raise MoneyError(_("Allocation weights must not be negative."))
    weight_sum = sum(exact)
    if weight_sum == 0:
        raise MoneyError(_("Allocation weights must not all be zero."))
    keys = list(order) if order is not None else list(range(len(exact)))
    if len(keys) != len(exact):
        raise MoneyError("order must have one key per weight")
    magnitude = abs(total)
    quotas = [magnitude * weight / weight_sum for weight in exact]
    parts = [quota.numerator // quota.denominator for quota in quotas]
    left = magnitude - sum(parts)
    ranking = sorted(range(len(exact)), key=lambda i: (-(quotas[i] - parts[i]), -exact[i], keys[i]))
    for i in ranking[:left]:
        parts[i] += 1
    return [-part for part in parts] if total < 0 else parts
