"""Taxes of a statement (RULES.md 5, 6): figures worked out by hand here, rates from the dated rule table."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from payouts.models import TaxRule
from payouts.taxes import MissingTaxRule, TaxRates

pytestmark = pytest.mark.django_db

OCTOBER = dt.date(2026, 10, 31)


@pytest.fixture
def rates() -> TaxRates:
    return TaxRates.on_date(OCTOBER)


@pytest.mark.parametrize(
    ("net", "expected"),
    [
        (500_000, 51_050),  # 500,000 × 10.21 %
        (999_999, 102_099),  # 102,099.8979 → floor
        (1_000_000, 102_100),  # at the threshold: still 10.21 %
        (1_000_001, 102_100),  # 1 × 20.42 % = 0.2042 → 0, + 102,100
        (1_500_000, 204_200),  # RULES.md's example: 500,000 × 20.42 % = 102,100, + 102,100
        (3_333_333, 578_566),  # 2,333,333 × 20.42 % = 476,466.5986 → 476,466, + 102,100
    ],
)
def test_withholding_of_a_resident_individual(rates, net, expected):
    assert rates.withholding_tax(net, "JPY", kind="individual", resident=True) == expected


def test_withholding_of_a_non_resident_individual_and_of_corporations(rates):
    assert rates.withholding_tax(1_500_000, "JPY", kind="individual", resident=False) == 306_300  # × 20.42 %
    assert rates.withholding_tax(1_500_000, "JPY", kind="corporation", resident=True) == 0
    assert rates.withholding_tax(1_500_000, "JPY", kind="corporation", resident=False) == 0
    assert rates.withholding_tax(0, "JPY", kind="individual", resident=True) == 0
    assert rates.withholding_tax(-5_000, "JPY", kind="individual", resident=True) == 0


def test_a_threshold_in_yen_does_not_apply_to_another_currency(rates):
    # 15,000.00 USD = 1,500,000 cents: the first rate on the whole, 10.21 % → 153,150 cents
    assert rates.withholding_tax(1_500_000, "USD", kind="individual", resident=True) == 153_150


def test_consumption_tax_only_with_a_registration_number_and_residence(rates):
    assert rates.consumption_tax(123_457, registration_number="T7000012050002", resident=True) == 12_345
    assert rates.consumption_tax(123_457, registration_number=None, resident=True) == 0
    assert rates.consumption_tax(123_457, registration_number="", resident=True) == 0
    assert rates.consumption_tax(123_457, registration_number="T7000012050002", resident=False) == 0
    assert rates.consumption_tax(-10, registration_number="T7000012050002", resident=True) == 0


def test_a_rule_applies_from_its_date_on():
    TaxRule.objects.create(kind="consumption", effective_from=dt.date(2027, 4, 1), rate=Decimal("12"))
    before = TaxRates.on_date(dt.date(2027, 3, 31))
    after = TaxRates.on_date(dt.date(2027, 4, 1))
    assert before.consumption_tax(1_000, registration_number="T7000012050002", resident=True) == 100
    assert after.consumption_tax(1_000, registration_number="T7000012050002", resident=True) == 120


def test_no_rule_in_force_is_an_error_not_a_guess():
    rates = TaxRates.on_date(dt.date(2010, 1, 31))
    with pytest.raises(MissingTaxRule):
        rates.withholding_tax(1_000, "JPY", kind="individual", resident=True)


def test_finance_adds_a_rule_but_never_rewrites_one_in_force(client):
    from django.contrib.auth import get_user_model

    from licensing.roles import FINANCE, role_group

    user = get_user_model().objects.create_user("finance", "f@example.com", "pw-finance-1", is_staff=True)
    user.groups.add(role_group(FINANCE))
    client.force_login(user)
    in_force = TaxRule.objects.get(kind="consumption", effective_from=dt.date(2019, 10, 1))
    change = {"kind": "consumption", "effective_from": "2019-10-01", "rate": "8", "threshold_currency": "JPY"}
    client.post(f"/admin/payouts/taxrule/{in_force.pk}/change/", change)
    in_force.refresh_from_db()
    assert in_force.rate == Decimal("10")  # read-only: the post changed nothing
    new = {"kind": "consumption", "effective_from": "2031-10-01", "rate": "12", "threshold_currency": "JPY", "note": ""}
    response = client.post("/admin/payouts/taxrule/add/", new)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert TaxRates.on_date(dt.date(2031, 10, 1)).rule("consumption").rate == Decimal("12")
