# ruff: noqa: F811  (pytest fixtures imported from other test modules are redefined as parameters)
"""The PDF's qualified-invoice tax block follows the statement's real tax treatment (RULES.md 5): consumption tax by
rate only for a registered holder resident in Japan; for anyone else, no rate line, and a statement that no
consumption tax applies (the registration number still shown when there is one)."""

from __future__ import annotations

import pytest

from payouts.documents import statement_pdf
from payouts.models import Statement

from .test_documents import REGISTRATION, _english, in_pdf, make_statement, world  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

LINES = [("training", "per_unit", 13, 1234, 123), ("generation", "revenue_share", 3, 660, 66)]  # net 1,111 + 594


def test_a_registered_resident_gets_the_amount_and_consumption_tax_by_rate(world):
    # net 1,705; consumption tax floor(1,705 × 10 %) = 170; payable 1,875
    pdf = statement_pdf(make_statement(world, "JPY", LINES, consumption_tax=170, registration_number=REGISTRATION))
    for text in (REGISTRATION, "Net royalties, subject to 10 % tax", "1,705", "Consumption tax (10 %)", "170",
                 "1,875"):  # fmt: skip
        assert in_pdf(text, pdf), text
    assert not in_pdf("No consumption tax applies", pdf)
    assert not in_pdf("not applicable", pdf)


def test_a_registered_non_resident_gets_no_rate_line_and_is_told_no_consumption_tax_applies(world):
    world["holder"].resident = False
    world["holder"].save(update_fields=["resident"])
    # the engine charged no consumption tax (not resident in Japan): net 1,705, payable 1,705
    pdf = statement_pdf(make_statement(world, "JPY", LINES, registration_number=REGISTRATION))
    assert in_pdf(REGISTRATION, pdf)
    assert in_pdf("1,705", pdf)
    assert not in_pdf("10 %", pdf)
    assert not in_pdf("subject to", pdf)
    assert in_pdf("Consumption tax: not applicable", pdf)
    assert in_pdf("No consumption tax applies: the rights holder is not resident in Japan.", pdf)


def test_a_statement_taxed_while_the_holder_was_resident_keeps_its_rate_line_after_a_move_abroad(world):
    statement = make_statement(world, "JPY", LINES, consumption_tax=170, registration_number=REGISTRATION)
    world["holder"].resident = False
    world["holder"].save(update_fields=["resident"])
    pdf = statement_pdf(Statement.objects.get(pk=statement.pk))
    assert in_pdf("Consumption tax (10 %)", pdf)
    assert not in_pdf("No consumption tax applies", pdf)


def test_an_unregistered_holder_is_told_no_consumption_tax_applies(world):
    pdf = statement_pdf(make_statement(world, "JPY", LINES))
    assert not in_pdf(REGISTRATION, pdf)
    assert not in_pdf("10 %", pdf)
    assert in_pdf("No consumption tax applies: the rights holder has no invoice registration number.", pdf)
