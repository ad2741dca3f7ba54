"""The finance reports of issue 7 (payouts/reports.py): trial balance, reconciliation of a period, withholding tax
payable by month and the annual payment summary, in the API (JSON and CSV) and the admin. Every figure is worked out
by hand in the comments from test_engine's world (October: A 2,911 gross, 291 commission, 267 withheld, payable
2,353; B 1,747, 175, consumption tax 157, payable 1,729; C 1,165, 116, 214 withheld, 835 carried; one invoice of
5,823 royalties, 5,000 advance recouped, 823 due)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from ledger.verification import verify_ledger
from licensing.models import Agreement, Term, Work
from licensing.roles import FINANCE, role_group
from payouts import batches, reports
from payouts.models import Invoice, PayoutItem, Statement
from payouts.services import statement_run_finalize
from tests.licensing.factories import holder_user, work_with_shares

from .test_api import client_for
from .test_engine import NOVEMBER, OCTOBER, SEPTEMBER, late_report, october_usage, run, usage, world  # noqa: F401

pytestmark = pytest.mark.django_db

REQUESTER = {"code": "1234567890", "name": "ｶ)ﾗｲﾂﾚｼﾞﾔ-", "bank_code": "0001", "bank_name": "ﾐｽﾞﾎ",
             "branch_code": "001", "branch_name": "ﾄｳｷﾖｳ", "account_type": "ordinary",
             "account_number": "7654321"}  # fmt: skip


def finalize(period):
    return statement_run_finalize(run=run(period))


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # a byte-order mark, for Excel
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def tamper(statement: str, params=None) -> None:
    """Write behind the ledger's back: its triggers (and those of payouts) off for this statement only. The checks
    deferred to COMMIT are run first (on the rows as posted), so that the test's end does not run them on these."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(statement, params or [])
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def differences(report) -> set[tuple]:
    return {(d.kind, d.object_id, d.field, d.expected, d.found) for d in report.differences if d.kind != "ledger"}


@pytest.fixture
def staff(staff_user):
    return client_for(user=staff_user)


def finance_user(username: str = "finance"):
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw-finance-123", is_staff=True)
    user.groups.add(role_group(FINANCE))
    return user


# trial balance ----------------------------------------------------------------------------------------------------
def test_the_trial_balance_balances_to_zero_and_its_csv_reads_back(world, staff):  # noqa: F811
    october_usage(world)
    finalize(OCTOBER)  # posted effective 2026-10-31
    response = staff.get("/api/v1/ledger/trial-balance?as_of=2026-10-31")
    assert response.status_code == 200, response.content
    body = response.json()
    a, b, c, licensee = world["a"].pk, world["b"].pk, world["c"].pk, world["licensee"].pk
    accounts = {row["code"]: (row["kind"], row["debits"]["amount"], row["credits"]["amount"], row["balance"]["amount"])
                for row in body["accounts"]}  # fmt: skip
    assert accounts == {
        # clearing: 2,911 + 1,747 + 1,165 = 5,823 out to the holders, the invoice's 5,823 in
        "platform:royalty_expense:JPY": ("expense", "5823", "5823", "0"),
        "platform:commission_income:JPY": ("income", "0", "582", "-582"),  # 291 + 175 + 116
        "platform:consumption_tax_receivable:JPY": ("asset", "157", "0", "157"),
        "platform:withholding_tax_accrued:JPY": ("liability", "0", "481", "-481"),  # 267 + 214, not paid yet
        f"rights_holder:{a}:rights_holder_payable:JPY": ("liability", "0", "2353", "-2353"),
        f"rights_holder:{b}:rights_holder_payable:JPY": ("liability", "0", "1729", "-1729"),
        f"rights_holder:{c}:rights_holder_payable:JPY": ("liability", "0", "835", "-835"),
        f"licensee:{licensee}:licensee_receivable:JPY": ("asset", "823", "0", "823"),
        f"licensee:{licensee}:licensee_advance:JPY": ("liability", "5000", "0", "5000"),  # its receipt not booked
    }
    # debits 5,823 + 157 + 823 + 5,000 = 11,803; credits 5,823 + 582 + 481 + 2,353 + 1,729 + 835 = 11,803
    assert body["totals"] == [{"currency": "JPY", "debits": {"amount": "11803", "currency": "JPY"},
                               "credits": {"amount": "11803", "currency": "JPY"},
                               "balance": {"amount": "0", "currency": "JPY"}}]  # fmt: skip
    assert (body["as_of"], body["balanced"]) == ("2026-10-31", True)

    rows = read_csv(staff.get("/api/v1/ledger/trial-balance.csv?as_of=2026-10-31").content)
    header, lines = rows[0], rows[1:]
    assert len(header) == 7
    totals = [line for line in lines if line[0] == "Total"]
    account_lines = [line for line in lines if line[0] != "Total"]
    assert {line[0]: (line[4], line[5], line[6]) for line in account_lines} == {
        code: (debits, credits, balance) for code, (_kind, debits, credits, balance) in accounts.items()
    }
    assert totals == [["Total", "", "", "JPY", "11803", "11803", "0"]]
    assert sum(int(line[4]) for line in account_lines) == sum(int(line[5]) for line in account_lines) == 11803
    assert sum(int(line[6]) for line in account_lines) == 0

    # a day before the postings' effective date: nothing yet; today by default
    assert staff.get("/api/v1/ledger/trial-balance?as_of=2026-10-30").json()["accounts"] == []
    assert staff.get("/api/v1/ledger/trial-balance/").json()["as_of"] == timezone.localdate().isoformat()


def test_the_reports_are_for_staff_and_bad_input_is_a_problem_not_a_crash(world, staff, api_client):  # noqa: F811
    holder = client_for(user=holder_user(world["a"], "holder-a"))
    licensee = client_for(licensee=world["licensee"])
    paths = ["/api/v1/ledger/trial-balance", "/api/v1/ledger/trial-balance.csv",
             "/api/v1/reports/reconciliation?period=2026-10", "/api/v1/reports/reconciliation.csv?period=2026-10",
             "/api/v1/reports/withholding?year=2026", "/api/v1/reports/withholding.csv?year=2026",
             "/api/v1/reports/payment-summary?year=2026", "/api/v1/reports/payment-summary.csv?year=2026"]  # fmt: skip
    for path in paths:
        assert holder.get(path).status_code == 403, path
        assert licensee.get(path).status_code == 403, path
        assert api_client.get(path).status_code == 401, path
        assert staff.get(path).status_code == 200, path
    bad = {
        "/api/v1/ledger/trial-balance?as_of=2026-02-30": "as_of",
        "/api/v1/ledger/trial-balance.csv?as_of=31/10/2026": "as_of",
        "/api/v1/reports/reconciliation": "period",
        "/api/v1/reports/reconciliation.csv?period=2026-13": "period",
        "/api/v1/reports/withholding?year=26": "year",
        "/api/v1/reports/withholding.csv?from=2026-04": "to",
        "/api/v1/reports/withholding?from=2026-04&to=2026-01": "to",
        "/api/v1/reports/payment-summary?year=%00": None,
        "/api/v1/reports/payment-summary.csv?year=abcd": "year",
    }
    for path, field in bad.items():
        response = staff.get(path, HTTP_ACCEPT="text/csv")
        assert response.status_code == 400, (path, response.content)
        assert response["Content-Type"] == "application/problem+json", path
        if field:
            assert [e["field"] for e in response.json()["errors"]] == [field], path


# reconciliation ---------------------------------------------------------------------------------------------------
def event(period, agreement, work, use, quantity, model="m1", revenue=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT licensing_usage_partition(%s)", [period])
        cursor.execute(
            "INSERT INTO licensing_usageevent (period, report_id, line, licensee_id, work_id, agreement_id, use, "
            "quantity, occurred_on, model, territory, revenue_amount, revenue_currency, reserved, late) "
            "VALUES (%s, %s, 1, %s, %s, %s, %s, %s, %s, %s, 'JP', %s, %s, false, false)",
            [period, uuid.uuid4(), agreement.licensee_id, work.pk, agreement.pk, use, quantity, period, model, revenue,
             agreement.currency if revenue is not None else None],
        )  # fmt: skip


@pytest.fixture
def busy_october(world):  # noqa: F811
    """Everything a period can hold: test_engine's October, a final September (per_work: (work, m1), 5,000) with
    late usage adjusted in October, a work without rights holders (unallocated), and a USD agreement whose per_unit
    rate rounds one work's line to zero, with a monthly flat fee."""
    usd = Agreement.objects.create(
        licensee=world["licensee"], reference="AGR-USD", currency="USD", starts_on="2026-10-01", territories=["*"],
        uses=["training"], scope_catalogue=True, status="active", commission=Decimal("15"),
    )  # fmt: skip
    Term.objects.create(agreement=usd, type="per_unit", use="training", rate=Decimal("0.004"))  # 0.4 cent a unit
    Term.objects.create(agreement=usd, type="flat_fee", amount=10_000, every="month")  # 100.00 USD
    one = work_with_shares((world["a"], "100.00"), title="一")
    two = work_with_shares((world["a"], "60.00"), (world["b"], "40.00"), title="二")
    orphan = Work.objects.create(kind="illustration", title="持ち主のない作品")
    october_usage(world)  # with September's (work, m1) fine_tuning pair
    finalize(SEPTEMBER)
    late_report(world, SEPTEMBER, ("training", 4, None), ("generation", 1, 1000), ("fine_tuning", 1, None))
    event(OCTOBER, world["agreement"], orphan, "training", 8)  # 8 × 12.5 = 100 JPY, no one to pay
    event(OCTOBER, usd, one, "training", 1)  # 1 × 0.4 cent rounds to 0: no line, not billed
    event(OCTOBER, usd, two, "training", 5)  # 5 × 0.4 = 2 cents
    october = finalize(OCTOBER)
    return {"usd": usd, "one": one, "two": two, "orphan": orphan, "run": october}


def test_a_finalized_period_reconciles_with_no_difference(world, busy_october, staff,  # noqa: F811
                                                          django_assert_max_num_queries):  # fmt: skip
    assert busy_october["run"].unallocated == {"JPY": 100}
    usd_invoice = Invoice.objects.get(agreement=busy_october["usd"], period=OCTOBER)
    per_unit = usd_invoice.lines.get(basis="per_unit")
    assert (per_unit.quantity, per_unit.amount) == (5, 2)  # work one's single unit is not on the invoice
    assert usd_invoice.royalties == 2 + 10_000
    assert Invoice.objects.get(agreement=world["agreement"], period=OCTOBER).lines.filter(basis="adjustment").exists()
    for period in (SEPTEMBER, OCTOBER):
        with django_assert_max_num_queries(20):  # a fixed number, whatever the size of the period
            report = reports.reconciliation(period=period)
        assert report.differences == [], report.differences
        assert report.balanced
        assert [check.kind for check in report.checks] == list(reports.CHECKS)
        assert all(check.differences == 0 and not check.truncated for check in report.checks)
    body = staff.get("/api/v1/reports/reconciliation?period=2026-10").json()
    assert (body["balanced"], body["differences"], body["run"]) == (True, [], str(busy_october["run"].pk))
    assert (body["statements"], body["invoices"], body["payout_items"]) == (
        Statement.objects.filter(period=OCTOBER).count(), 2, 0)  # fmt: skip
    assert read_csv(staff.get("/api/v1/reports/reconciliation.csv?period=2026-10").content)[1:] == []


def test_each_identity_finds_a_row_changed_behind_the_engines_back(world, busy_october):  # noqa: F811
    jpy = Invoice.objects.get(agreement=world["agreement"], period=OCTOBER)
    usd = Invoice.objects.get(agreement=busy_october["usd"], period=OCTOBER)
    a = Statement.objects.get(rights_holder=world["a"], period=OCTOBER, currency="JPY")
    tamper("UPDATE payouts_invoiceline SET quantity = 6 WHERE invoice_id = %s AND basis = 'per_unit'", [usd.pk])
    tamper("UPDATE payouts_invoiceline SET amount = amount + 1 WHERE invoice_id = %s AND basis = 'per_unit'",
           [jpy.pk])  # fmt: skip
    line = a.lines.filter(basis="per_unit", period=OCTOBER).first()
    tamper("UPDATE payouts_statementline SET gross = gross - 2, net = net - 2 WHERE id = %s AND period = %s",
           [line.pk, OCTOBER])  # fmt: skip
    found = differences(reports.reconciliation(period=OCTOBER))
    assert found == {
        ("usage", str(busy_october["usd"].pk), "per_unit:training", 5, 6),  # 5 units billed, not 6
        ("invoice_lines", str(jpy.pk), "royalties", jpy.royalties + 1, jpy.royalties),
        ("statement_lines", str(a.pk), "gross", a.gross - 2, a.gross),
        ("statement_lines", str(a.pk), "net_royalties", a.net_royalties - 2, a.net_royalties),
        # billed in JPY: 5,823 + 100 unallocated + the adjustments; allocated: the lines (2 short) + 100
        ("royalties", "2026-10", "royalties", jpy.royalties, jpy.royalties - 2),
    }


def test_a_tampered_posting_shows_in_the_reconciliation_and_in_verify_ledger(world, staff, capsys):  # noqa: F811
    october_usage(world)
    finalize(OCTOBER)
    assert reports.reconciliation(period=OCTOBER).balanced
    a = Statement.objects.get(rights_holder=world["a"])
    invoice = Invoice.objects.get()
    tamper(
        "UPDATE ledger_posting SET amount = -2350 WHERE amount = -2353 AND account_id = (SELECT id FROM ledger_account"
        " WHERE purpose = 'rights_holder_payable' AND owner_id = %s)", [world["a"].pk],
    )  # fmt: skip
    report = reports.reconciliation(period=OCTOBER)
    assert differences(report) == {("statement_ledger", str(a.pk), "rights_holder_payable", -2353, -2350)}
    ledger = {d.object_id for d in report.differences if d.kind == "ledger"}
    assert ledger == {"unbalanced", "hash chain"}
    assert not report.balanced
    body = staff.get("/api/v1/reports/reconciliation?period=2026-10").json()
    assert body["balanced"] is False
    assert {(d["kind"], d["field"], d["expected"], d["found"], d["currency"]) for d in body["differences"]} >= {
        ("statement_ledger", "rights_holder_payable", "-2353", "-2350", "JPY")}  # fmt: skip
    assert next(c for c in body["checks"] if c["kind"] == "statement_ledger")["differences"] == 1
    rows = read_csv(staff.get("/api/v1/reports/reconciliation.csv?period=2026-10").content)
    assert ["Statement vs ledger", "statement", str(a.pk), "rights_holder_payable", "JPY", "-2353", "-2350"] in [
        row[:7] for row in rows]  # fmt: skip

    assert not verify_ledger().sound
    with pytest.raises(SystemExit) as exit:
        call_command("verify_ledger")
    assert exit.value.code == 1
    assert "does not balance in JPY: postings sum to 3" in capsys.readouterr().err

    # a transaction gone altogether (its postings and itself): listed as missing
    tamper("DELETE FROM ledger_posting WHERE transaction_id = (SELECT id FROM ledger_journaltransaction "
           "WHERE idempotency_key = %s)", [f"payouts:invoice:{invoice.pk}"])  # fmt: skip
    tamper("DELETE FROM ledger_journaltransaction WHERE idempotency_key = %s", [f"payouts:invoice:{invoice.pk}"])
    missing = [d for d in reports.reconciliation(period=OCTOBER).differences if d.kind == "invoice_ledger"]
    assert [(d.object_id, d.field, d.detail) for d in missing] == [
        (str(invoice.pk), "transaction", f"No journal transaction payouts:invoice:{invoice.pk}.")]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_the_reconciliation_reads_one_read_only_snapshot_outside_a_transaction(world):  # noqa: F811
    october_usage(world)
    finalize(OCTOBER)
    assert not connection.in_atomic_block
    assert reports.reconciliation(period=OCTOBER).balanced
    assert reports.reconciliation(period=NOVEMBER).checks[0].differences == 0  # nothing computed: nothing to differ


# payouts: withholding and the payment summary ---------------------------------------------------------------------
def bank(holder, kana: str, number: str) -> None:
    holder.bank_code, holder.branch_code, holder.account_type = "0005", "123", "ordinary"
    holder.account_number, holder.account_holder_kana = number, kana
    holder.save()


CLOCK = [dt.date(2026, 11, 20)]  # "today" in the `paid` fixture


def pay(pay_date: dt.date):
    """A batch made, exported and confirmed on its pay date (confirmed once the bank has made the transfers)."""
    CLOCK[0] = pay_date
    batch = batches.payout_batch_create(currency="JPY", pay_date=pay_date)
    batches.payout_batch_export(batch=batch)
    return batches.payout_batch_confirm(batch=batch)


@pytest.fixture
def paid(world, settings, monkeypatch):  # noqa: F811
    """Today is 2026-11-20, 2026-12-01 when November is made final, then each pay date in turn (a batch is made and
    confirmed on its pay date).
    - 2026-11-25: A's October (2,353, 267 withheld) and B's (1,729; consumption tax 157) paid. C's 835 is carried.
    - November: 100 training units × 12.5 = 1,250, commission 125 (62.5 / 37.5 / 25: the unit left goes to the
      larger share, A): A 625 − 63 = 562, withheld floor(57.38) = 57, payable 505; B 375 − 37 = 338, consumption
      tax floor(33.8) = 33, payable 371; C 250 − 25 = 225, withheld floor(45.945) = 45, payable 225 − 45 + 835 =
      1,015 (with October's 214 withheld, carried into it).
    - 2026-12-25: A 505 (57), B 371, C 1,015 (45 + 214 = 259) paid; A's comes back on 2026-12-28 (its 57 with it)
      and is paid again that day."""
    real = timezone.localdate
    CLOCK[0] = dt.date(2026, 11, 20)

    def today(value=None, timezone=None):
        return CLOCK[0] if value is None else real(value, timezone)

    monkeypatch.setattr(timezone, "localdate", today)
    settings.ZENGIN_REQUESTER = dict(REQUESTER)
    world["a"].postal_code, world["a"].address = "180-0004", "東京都武蔵野市吉祥寺本町二丁目2番2号"
    bank(world["a"], "ｴ- ﾀﾛｳ", "1111111")
    bank(world["b"], "ﾋﾞ- ｼﾔ", "2222222")
    bank(world["c"], "ｼ- ﾊﾅｺ", "3333333")
    october_usage(world)
    finalize(OCTOBER)
    pay(dt.date(2026, 11, 25))
    usage(world, NOVEMBER, ("training", 100, "m1", None))
    CLOCK[0] = dt.date(2026, 12, 1)  # November has ended: it can be made final
    finalize(NOVEMBER)
    december = pay(dt.date(2026, 12, 25))
    returned = december.items.get(rights_holder=world["a"])
    CLOCK[0] = dt.date(2026, 12, 28)
    batches.payout_item_return(item=returned, reason="口座解約", returned_on=dt.date(2026, 12, 28))
    again = pay(dt.date(2026, 12, 28))
    assert [(i.amount, i.withholding_tax) for i in again.items.all()] == [(505, 57)]
    return {"returned": returned}


def test_withholding_by_month_with_its_due_date_and_a_returned_transfer_netted(world, paid, staff):  # noqa: F811
    # the tax office is paid November's 267 on 2026-12-10 (Dr withholding tax payable, Cr bank), through the API
    finance = client_for(user=finance_user())
    paid_in = {"month": "2026-11", "currency": "JPY", "paid_on": "2026-12-10"}
    remitted = finance.post("/api/v1/withholding-remittances", paid_in, format="json")
    assert remitted.status_code == 201, remitted.content
    assert remitted.json()["amount"] == {"amount": "267", "currency": "JPY"}
    assert finance.post("/api/v1/withholding-remittances", paid_in, format="json").status_code == 409  # once
    assert staff.post("/api/v1/withholding-remittances", paid_in, format="json").status_code == 403  # finance only
    early = {"month": "2026-12", "currency": "JPY", "paid_on": "2026-12-20"}
    assert finance.post("/api/v1/withholding-remittances", early, format="json").status_code == 400
    body = staff.get("/api/v1/reports/withholding?year=2026").json()
    months = [(m["month"], m["withheld"]["amount"], m["returned"]["amount"], m["net"]["amount"], m["due_date"],
               m["remitted"]["amount"], m["outstanding"]["amount"]) for m in body["months"]]  # fmt: skip
    assert months == [
        ("2026-11", "267", "0", "267", "2026-12-10", "267", "0"),  # due Thursday the 10th, paid then: settled
        # 57 (A) + 259 (C, October's 214 carried in) + 57 (A again) withheld; A's returned 57 nets out; due on the
        # 10th, a Sunday: Monday 2027-01-11. Outstanding: 316, not paid yet
        ("2026-12", "373", "57", "316", "2027-01-11", "0", "316"),
    ]
    assert [(t["withheld"]["amount"], t["returned"]["amount"], t["net"]["amount"], t["remitted"]["amount"])
            for t in body["totals"]] == [("640", "57", "583", "267")]  # fmt: skip
    assert (body["from"], body["to"]) == ("2026-01", "2026-12")
    assert staff.get("/api/v1/reports/withholding?from=2026-12&to=2027-02").json()["months"] == body["months"][1:]
    assert staff.get("/api/v1/reports/withholding?year=2027").json()["months"] == []
    rows = read_csv(staff.get("/api/v1/reports/withholding.csv?year=2026").content)
    assert [row[:6] for row in rows[1:]] == [["2026-11", "JPY", "267", "0", "267", "2026-12-10"],
                                            ["2026-12", "JPY", "373", "57", "316", "2027-01-11"],
                                            ["Total", "JPY", "640", "57", "583", ""]]  # fmt: skip
    # the weekend rule alone: 2026-10-10 and 2027-04-10 are Saturdays, 2027-01-10 a Sunday
    assert reports.withholding_due_date(SEPTEMBER) == dt.date(2026, 10, 12)
    assert reports.withholding_due_date(dt.date(2027, 3, 1)) == dt.date(2027, 4, 12)
    assert reports.withholding_due_date(dt.date(2026, 12, 1)) == dt.date(2027, 1, 11)
    assert reports.withholding_due_date(dt.date(2026, 11, 1)) == dt.date(2026, 12, 10)


def test_the_annual_payment_summary_counts_paid_transfers_not_the_returned_one(world, paid, staff):  # noqa: F811
    assert PayoutItem.objects.get(pk=paid["returned"].pk).status == "returned"
    body = staff.get("/api/v1/reports/payment-summary?year=2026").json()
    figures = {
        h["name"]: (h["payments"], h["amount"]["amount"], h["consumption_tax"]["amount"],
                    h["withholding_tax"]["amount"], h["transferred"]["amount"])
        for h in body["holders"]
    }  # fmt: skip
    assert figures == {
        "A": (2, "3182", "0", "324", "2858"),  # (2,353 + 267) + (505 + 57); the returned 505 is not a payment
        "B": (2, "2100", "190", "0", "2100"),  # 1,729 + 371, of which consumption tax 157 + 33
        "C": (1, "1274", "0", "259", "1015"),  # 1,015 + 259 (its October, carried, paid with November)
    }
    a = next(h for h in body["holders"] if h["name"] == "A")
    assert (a["kind"], a["resident"], a["country"], a["postal_code"], a["address"]) == (
        "individual", True, "JP", "180-0004", "東京都武蔵野市吉祥寺本町二丁目2番2号")  # fmt: skip
    b = next(h for h in body["holders"] if h["name"] == "B")
    assert (b["kind"], b["invoice_registration_number"]) == ("corporation", "T7000012050002")
    assert [(t["payments"], t["amount"]["amount"], t["consumption_tax"]["amount"], t["withholding_tax"]["amount"],
             t["transferred"]["amount"]) for t in body["totals"]] == [(5, "6556", "190", "583", "5973")]  # fmt: skip
    rows = read_csv(staff.get("/api/v1/reports/payment-summary.csv?year=2026").content)
    assert [row[1] for row in rows[1:]] == ["A", "B", "C", ""]
    assert rows[-1][8:] == ["JPY", "5", "6556", "190", "583", "5973"]
    assert staff.get("/api/v1/reports/payment-summary?year=2025").json()["holders"] == []


def test_paid_and_returned_transfers_reconcile_and_a_changed_item_does_not(world, paid):  # noqa: F811
    october, november = reports.reconciliation(period=OCTOBER), reports.reconciliation(period=NOVEMBER)
    assert october.differences == november.differences == []
    # October: A's and B's own transfers, and C's November one that paid C's carried October
    assert (october.payout_items, november.payout_items) == (3, 4)  # November: A twice (one returned), B, C
    c_item = PayoutItem.objects.get(rights_holder=world["c"], status="paid")
    tamper("UPDATE payouts_payoutitem SET withholding_tax = 250 WHERE id = %s", [c_item.pk])
    assert differences(reports.reconciliation(period=OCTOBER)) == {
        ("payout", str(c_item.pk), "withholding_tax", 259, 250),  # 214 (October) + 45 (November) withheld
        ("payout_ledger", str(c_item.pk), "withholding_tax_accrued", 250, 259),  # posted: 259
        ("payout_ledger", str(c_item.pk), "withholding_tax_payable", -250, -259),
    }


# the admin ----------------------------------------------------------------------------------------------------------
def test_finance_staff_read_the_reports_in_the_admin_and_download_them(world, client):  # noqa: F811
    october_usage(world)
    finalize(OCTOBER)
    client.force_login(finance_user())
    assert "/admin/payouts/reports/" in client.get("/admin/").content.decode()
    index = client.get("/admin/payouts/reports/")
    assert index.status_code == 200
    assert index.content.decode().count("<form") >= 4
    page = client.get("/admin/payouts/reports/trial-balance/?as_of=2026-10-31").content.decode()
    assert "platform:royalty_expense:JPY" in page
    assert "11803" in page
    download = client.get("/admin/payouts/reports/trial-balance/?as_of=2026-10-31&format=csv")
    assert download["Content-Disposition"] == 'attachment; filename="trial-balance-2026-10-31.csv"'
    assert read_csv(download.content)[-1] == ["Total", "", "", "JPY", "11803", "11803", "0"]
    reconciled = client.get("/admin/payouts/reports/reconciliation/?period=2026-10").content.decode()
    assert 'class="success"' in reconciled
    assert "Statement vs ledger" in reconciled
    assert client.get("/admin/payouts/reports/withholding/?year=2026").status_code == 200
    assert client.get("/admin/payouts/reports/payment-summary/?year=2026").status_code == 200
    invalid = client.get("/admin/payouts/reports/reconciliation/?period=2026-13")
    assert invalid.status_code == 200
    assert "errorlist" in invalid.content.decode()
    assert client.get("/admin/payouts/reports/unknown/").status_code == 404

    client.force_login(holder_user(world["a"], "holder-a"))  # admin access, not platform staff
    assert "/admin/payouts/reports/" not in client.get("/admin/").content.decode()
    assert client.get("/admin/payouts/reports/").status_code == 403
    assert client.get("/admin/payouts/reports/trial-balance/?as_of=2026-10-31&format=csv").status_code == 403
    client.logout()
    assert client.get("/admin/payouts/reports/").status_code == 302  # to the admin's login


def test_finance_records_a_remittance_from_the_withholding_page(world, paid, client, staff_user):  # noqa: F811
    from ledger.models import JournalTransaction

    client.force_login(staff_user)
    page = client.get("/admin/payouts/reports/withholding/?year=2026").content.decode()
    assert "withholding/remit/" not in page  # staff read; only finance records payments
    assert client.post("/admin/payouts/reports/withholding/remit/", {}).status_code == 403
    client.force_login(finance_user())
    assert "withholding/remit/" in client.get("/admin/payouts/reports/withholding/?year=2026").content.decode()
    form = {"period": "2026-12", "currency": "JPY", "paid_on": "2026-12-28"}
    early = client.post("/admin/payouts/reports/withholding/remit/", form, follow=True).content.decode()
    assert "once the month is over" in early  # December is not over on the 28th
    assert not JournalTransaction.objects.filter(cause_type="remittance").exists()
    form["period"] = "2026-11"
    done = client.post("/admin/payouts/reports/withholding/remit/", form, follow=True)
    assert done.status_code == 200
    (txn,) = JournalTransaction.objects.filter(cause_type="remittance")
    assert sorted(p.amount for p in txn.postings.all()) == [-267, 267]
    assert (txn.effective_date, txn.cause_id) == (dt.date(2026, 12, 28), "JPY:2026-11")
