"""Consumption and withholding tax of a statement (RULES.md, From royalty to payment, 5 and 6), from the dated
rules of TaxRule: never a rate written in code.

Amounts are integer minor units; each tax is rounded down to the minor unit once per statement."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from django.utils.translation import gettext as _

from licensing.choices import HolderKind

from .models import TaxKind, TaxRule


class MissingTaxRule(LookupError):
    """No rule of a kind in force on a date: the engine stops rather than guess a rate."""


def _floor_percent(amount: int, rate: Decimal) -> int:
    return int((Decimal(amount) * rate / 100).to_integral_value(rounding=ROUND_FLOOR))


@dataclass(frozen=True)
class TaxRates:
    """The rules in force on one date, one per kind."""

    on: dt.date
    rules: dict[str, TaxRule]

    @classmethod
    def on_date(cls, on: dt.date) -> TaxRates:
        rules: dict[str, TaxRule] = {}
        for rule in TaxRule.objects.filter(effective_from__lte=on).order_by("kind", "-effective_from"):
            rules.setdefault(rule.kind, rule)
        return cls(on, rules)

    def rule(self, kind: str) -> TaxRule:
        try:
            return self.rules[kind]
        except KeyError:
            raise MissingTaxRule(
                _("No %(kind)s rule is in force on %(date)s: add one under Tax rules.")
                % {"kind": TaxKind(kind).label, "date": self.on.isoformat()}
            ) from None

    def consumption_tax(self, net_royalties: int, *, registration_number: str | None, resident: bool) -> int:
        """Only for a rights holder with an invoice registration number, resident in Japan: floor(net × rate)."""
        if not registration_number or not resident or net_royalties <= 0:
            return 0
        return _floor_percent(net_royalties, self.rule(TaxKind.CONSUMPTION).rate)

    def withholding_tax(self, net_royalties: int, currency: str, *, kind: str, resident: bool) -> int:
        """Only for individuals, on the net royalties (consumption tax excluded). Resident: `rate` up to the
        threshold and `rate_above` beyond it (10.21 % / 20.42 % around 1,000,000 JPY: 1,500,000 → 204,200);
        non-resident: its own rate on the whole. A threshold is in its own currency (JPY): a statement in another
        currency has the first rate on the whole."""
        if kind != HolderKind.INDIVIDUAL or net_royalties <= 0:
            return 0
        rule = self.rule(TaxKind.WITHHOLDING_RESIDENT if resident else TaxKind.WITHHOLDING_NON_RESIDENT)
        threshold = rule.threshold
        if threshold is None or currency != rule.threshold_currency or net_royalties <= threshold:
            return _floor_percent(net_royalties, rule.rate)
        return _floor_percent(net_royalties - threshold, rule.rate_above) + _floor_percent(threshold, rule.rate)
