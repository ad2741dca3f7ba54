"""Statement and invoice downloads: CSV that Excel opens with Japanese intact, PDF with the qualified-invoice items.

The PDFs are built uncompressed, so ASCII text set in Helvetica (registration number, period, amounts) is in the bytes
as it is; Japanese text, in the CID font, is there as escaped UTF-16."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.utils import translation
from reportlab.lib.rl_accel import escapePDF

from licensing.models import Agreement
from payouts.documents import invoice_csv, invoice_pdf, statement_csv, statement_pdf
from payouts.models import Invoice, InvoiceLine, Statement, StatementLine, StatementRun
from tests.licensing.factories import LicenseeFactory, RightsHolderFactory, work_with_shares

pytestmark = pytest.mark.django_db

OCTOBER = dt.date(2026, 10, 1)
BOM = b"\xef\xbb\xbf"
REGISTRATION = "T7000012050002"


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def world():
    holder = RightsHolderFactory(
        name="山田スタジオ", postal_code="100-0001", address="東京都千代田区千代田1-1",
        invoice_registration_number=REGISTRATION,
    )  # fmt: skip
    work = work_with_shares((holder, "100.00"), title="星の海")
    licensee = LicenseeFactory(name="AI Video Co")
    agreements = {
        currency: Agreement.objects.create(
            licensee=licensee, reference=f"AGR-{currency}", currency=currency, starts_on="2026-01-01",
            territories=["*"], uses=["training", "generation"], commission=Decimal("10"),
        )
        for currency in ("JPY", "USD")
    }  # fmt: skip
    return {"holder": holder, "work": work, "licensee": licensee, "agreements": agreements,
            "run": StatementRun.objects.create(period=OCTOBER)}  # fmt: skip


def make_statement(world, currency, lines, *, consumption_tax=0, withholding_tax=0, registration_number=""):
    """lines: (use, basis, quantity, gross, commission)"""
    gross, commission = sum(line[3] for line in lines), sum(line[4] for line in lines)
    statement = Statement.objects.create(
        run=world["run"], rights_holder=world["holder"], period=OCTOBER, currency=currency, gross=gross,
        commission=commission, net_royalties=gross - commission, consumption_tax=consumption_tax,
        withholding_tax=withholding_tax, payable=gross - commission + consumption_tax - withholding_tax,
        registration_number=registration_number,
    )  # fmt: skip
    agreement = world["agreements"][currency]
    StatementLine.objects.bulk_create(
        StatementLine(statement=statement, period=OCTOBER, licensee=world["licensee"], agreement=agreement,
                      work=world["work"], use=use, basis=basis, quantity=quantity, gross=g, commission=c, net=g - c)
        for use, basis, quantity, g, c in lines
    )  # fmt: skip
    return Statement.objects.get(pk=statement.pk)


@pytest.fixture
def jpy_statement(world):
    # net 1,111 + 594 = 1,705; consumption tax floor(1,705 × 10 %) = 170; payable 1,875
    return make_statement(
        world, "JPY", [("training", "per_unit", 13, 1234, 123), ("generation", "revenue_share", 3, 660, 66)],
        consumption_tax=170, registration_number=REGISTRATION,
    )  # fmt: skip


@pytest.fixture
def invoice(world):
    invoice = Invoice.objects.create(
        run=world["run"], licensee=world["licensee"], agreement=world["agreements"]["USD"], period=OCTOBER,
        currency="USD", royalties=12345, advance_recouped=5000, amount_due=7345,
    )  # fmt: skip
    InvoiceLine.objects.create(invoice=invoice, basis="per_unit", use="training", quantity=1000, amount=12000)
    InvoiceLine.objects.create(invoice=invoice, basis="flat_fee", use="", quantity=0, amount=345)
    return Invoice.objects.get(pk=invoice.pk)


def rows(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM)
    return list(csv.reader(io.StringIO(data[len(BOM) :].decode("utf-8"))))


def in_pdf(text: str, pdf: bytes) -> bool:
    """ASCII is set in Helvetica; other text in the CID font, as UTF-16. Both in PDF strings, escaped."""
    return escapePDF(text.encode("ascii" if text.isascii() else "utf-16-be")).encode("latin-1") in pdf


def pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))


def test_statement_csv_has_a_bom_japanese_text_lines_and_totals(jpy_statement):
    table = rows(statement_csv(jpy_statement))
    assert table[:6] == [
        ["Rights holder", "山田スタジオ"], ["Period", "2026-10"], ["Currency", "JPY"],
        ["Invoice registration number", REGISTRATION], ["Status", "Draft"],
        ["Licensee", "Agreement", "Work", "Use", "Basis", "Quantity", "Gross", "Commission", "Net"],
    ]  # fmt: skip
    assert table[6:8] == [
        ["AI Video Co", "AGR-JPY", "星の海", "Generation", "Revenue share", "3", "660", "66", "594"],
        ["AI Video Co", "AGR-JPY", "星の海", "Training", "Per unit", "13", "1234", "123", "1111"],
    ]
    assert [(row[0], row[-1]) for row in table[8:]] == [
        ("Gross", "1894"), ("Commission", "189"), ("Net royalties", "1705"), ("Consumption tax", "170"),
        ("Withholding tax", "0"), ("Carried forward", "0"), ("Payable", "1875"),
    ]  # fmt: skip


def test_statement_csv_usd_amounts_have_two_decimals(world):
    statement = make_statement(world, "USD", [("training", "per_unit", 5, 1234, 120)], withholding_tax=113)
    table = rows(statement_csv(statement))
    assert table[6][5:] == ["5", "12.34", "1.20", "11.14"]
    assert [row[-1] for row in table[7:]] == ["12.34", "1.20", "11.14", "0.00", "1.13", "0.00", "10.01"]


def test_statement_pdf_states_the_registration_number_period_and_tax_by_rate(jpy_statement):
    pdf = statement_pdf(jpy_statement)
    assert pdf.startswith(b"%PDF")
    for text in (
        REGISTRATION,
        "2026-10",
        "山田スタジオ",
        "星の海",
        "AI Video Co",
        "1,875",
        "Consumption tax (10 %)",
        "subject to 10 % tax",
    ):
        assert in_pdf(text, pdf), text


def test_statement_pdf_states_the_withholding_tax_and_the_payable_after_it(world):
    """An individual's statement: 1,500,000 net, 204,200 withheld (RULES.md 6), 1,295,800 payable."""
    statement = make_statement(world, "JPY", [("training", "per_unit", 1, 1_666_667, 166_667)],
                               withholding_tax=204_200)  # fmt: skip
    assert (statement.net_royalties, statement.payable) == (1_500_000, 1_295_800)
    pdf = statement_pdf(statement)
    for text in ("Withholding tax", "204,200", "1,295,800", "1,500,000"):
        assert in_pdf(text, pdf), text
    assert not in_pdf("204,201", pdf)


def test_statement_pdf_without_registration_number_has_no_tax_by_rate(world):
    pdf = statement_pdf(make_statement(world, "JPY", [("training", "per_unit", 1, 1000, 100)]))
    assert not in_pdf(REGISTRATION, pdf)
    assert not in_pdf("subject to", pdf)
    assert in_pdf("2026-10", pdf)


def test_long_statement_flows_over_pages_in_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    statement = make_statement(world, "JPY", [("training", "per_unit", n, 100 + n, 10) for n in range(150)])
    with django_assert_max_num_queries(3):  # holder, lines with licensee, agreement and work, tax rules
        pdf = statement_pdf(statement)
    assert pages(pdf) > 1
    statement = Statement.objects.get(pk=statement.pk)
    with django_assert_max_num_queries(2):
        assert len(rows(statement_csv(statement))) == 6 + 150 + 7


def test_invoice_csv_lines_by_basis_and_use_and_amount_due(invoice, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):  # licensee, agreement, lines
        table = rows(invoice_csv(invoice))
    assert table == [
        ["Licensee", "AI Video Co"], ["Agreement", "AGR-USD"], ["Period", "2026-10"], ["Currency", "USD"],
        ["Status", "Draft"], ["Basis", "Use", "Quantity", "Amount"],
        ["Flat fee", "", "0", "3.45"], ["Per unit", "Training", "1000", "120.00"],
        ["Royalties", "", "", "123.45"], ["Advance recouped", "", "", "50.00"], ["Amount due", "", "", "73.45"],
    ]  # fmt: skip


def test_invoice_pdf_shows_the_period_and_amount_due(invoice):
    pdf = invoice_pdf(invoice)
    assert pdf.startswith(b"%PDF")
    for text in ("Invoice", "AGR-USD", "2026-10", "1,000", "123.45", "50.00", "73.45"):
        assert in_pdf(text, pdf), text


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_quoted_numbers_stay():
    from payouts.documents import _csv

    text = _csv([['=HYPERLINK("http://x")', "+1+1", "@SUM(A1)", "-5", "-12.50", "-x", "株式会社", 7]])
    row = text.decode("utf-8-sig").strip()
    assert row == '"\'=HYPERLINK(""http://x"")",\'+1+1,\'@SUM(A1),-5,-12.50,\'-x,株式会社,7'
