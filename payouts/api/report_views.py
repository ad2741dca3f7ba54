"""The finance reports over the API (staff only), as JSON and as CSV downloads: the trial balance, the reconciliation
of a period, withholding tax payable by month and the annual payment summary per rights holder. Thin views: parse the
query, call one selector of payouts.reports, render."""

from __future__ import annotations

import datetime as dt
import re

from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from config.fields import parse_iso_date
from config.schema import problem_responses
from ledger.money import Money
from licensing.api.usage_views import parse_period

from .. import reports
from .report_serializers import PaymentSummaryOutput, ReconciliationOutput, TrialBalanceOutput, WithholdingOutput
from .views import PayoutsView

ERRORS = problem_responses(400, 401, 403)
CSV = "text/csv; charset=utf-8"
CSV_RESPONSE = {
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="UTF-8 with a byte-order mark."),
    **ERRORS,
}
MONTH_RE = re.compile(r"([0-9]{4})-([0-9]{2})")
YEAR_RE = re.compile(r"[0-9]{4}")
FIRST_YEAR, LAST_YEAR = 2000, 9998
MAX_MONTHS = 120


# parsing the query ------------------------------------------------------------------------------------------------
def _invalid(field: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [message]})


def parse_date(value: str | None, field: str) -> dt.date:
    day = parse_iso_date(value) if isinstance(value, str) else None
    if day is None:
        raise _invalid(field, _("A date is YYYY-MM-DD, e.g. 2026-10-31."))
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise _invalid(field, _("The year must be from %(first)d to %(last)d.") % {"first": FIRST_YEAR,
                                                                                   "last": LAST_YEAR})  # fmt: skip
    return day


def parse_year(value: str | None, field: str = "year") -> int:
    if not isinstance(value, str) or not YEAR_RE.fullmatch(value) or not FIRST_YEAR <= int(value) <= LAST_YEAR:
        raise _invalid(field, _("A year is YYYY, from %(first)d to %(last)d.") % {"first": FIRST_YEAR,
                                                                                 "last": LAST_YEAR})  # fmt: skip
    return int(value)


def parse_month(value: str | None, field: str) -> dt.date:
    match = MONTH_RE.fullmatch(value if isinstance(value, str) else "")
    if not match or not 1 <= int(match[2]) <= 12 or not FIRST_YEAR <= int(match[1]) <= LAST_YEAR:
        raise _invalid(field, _("A month is YYYY-MM, e.g. 2026-10."))
    return dt.date(int(match[1]), int(match[2]), 1)


def _months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def withholding_range(params) -> tuple[dt.date, dt.date]:
    """`year`, or `from` and `to` (months, both included); neither: the current year."""
    if params.get("from") or params.get("to"):
        start, end = parse_month(params.get("from"), "from"), parse_month(params.get("to"), "to")
        if end < start:
            raise _invalid("to", _("The last month comes before the first."))
        if _months_between(start, end) > MAX_MONTHS:
            raise _invalid("to", _("At most %(n)d months at once.") % {"n": MAX_MONTHS})
        return start, end
    year = parse_year(params["year"]) if params.get("year") is not None else timezone.localdate().year
    return dt.date(year, 1, 1), dt.date(year, 12, 1)


# presenting -------------------------------------------------------------------------------------------------------
def _money(amount: int, currency: str) -> dict:
    return Money(amount, currency).as_dict()


def present_trial_balance(report) -> dict:
    return {
        "as_of": report.as_of, "balanced": report.balanced,
        "accounts": [
            {"code": r.code, "name": r.name, "kind": r.kind, "currency": r.currency,
             "debits": _money(r.debits, r.currency), "credits": _money(r.credits, r.currency),
             "balance": _money(r.balance, r.currency)}
            for r in report.rows
        ],
        "totals": [
            {"currency": c, "debits": _money(d, c), "credits": _money(k, c), "balance": _money(b, c)}
            for c, (d, k, b) in sorted(report.totals.items())
        ],
    }  # fmt: skip


def _figure(value: int | None, currency: str | None) -> str | None:
    if value is None:
        return None
    return Money(value, currency).to_string() if currency else str(value)


def present_reconciliation(report: reports.Reconciliation) -> dict:
    return {
        "period": f"{report.period:%Y-%m}", "run": str(report.run_id) if report.run_id else None,
        "balanced": report.balanced, "statements": report.statements, "invoices": report.invoices,
        "payout_items": report.payout_items,
        "checks": [{"kind": c.kind, "label": c.label, "description": c.description, "differences": c.differences,
                    "truncated": c.truncated} for c in report.checks],
        "differences": [
            {"kind": d.kind, "object_type": d.object_type, "object_id": d.object_id, "field": d.field,
             "currency": d.currency, "expected": _figure(d.expected, d.currency),
             "found": _figure(d.found, d.currency), "detail": d.detail}
            for d in report.differences
        ],
    }  # fmt: skip


def present_withholding(report: reports.WithholdingReport) -> dict:
    return {
        "from": f"{report.start:%Y-%m}", "to": f"{report.end:%Y-%m}",
        "months": [
            {"month": f"{m.month:%Y-%m}", "currency": m.currency, "withheld": _money(m.withheld, m.currency),
             "returned": _money(m.returned, m.currency), "net": _money(m.net, m.currency), "due_date": m.due_date,
             "remitted": _money(m.remitted, m.currency), "outstanding": _money(m.outstanding, m.currency)}
            for m in report.months
        ],
        "totals": [
            {"currency": c, "withheld": _money(w, c), "returned": _money(r, c), "net": _money(n, c),
             "remitted": _money(p, c)}
            for c, (w, r, p, n) in sorted(report.totals.items())
        ],
    }  # fmt: skip


def present_payment_summary(report: reports.PaymentSummary) -> dict:
    return {
        "year": report.year,
        "holders": [
            {"rights_holder": str(h.rights_holder_id), "name": h.name, "kind": h.kind, "resident": h.resident,
             "country": h.country, "postal_code": h.postal_code, "address": h.address,
             "invoice_registration_number": h.registration_number or None, "currency": h.currency,
             "payments": h.payments, "amount": _money(h.amount, h.currency),
             "consumption_tax": _money(h.consumption_tax, h.currency),
             "withholding_tax": _money(h.withholding_tax, h.currency),
             "transferred": _money(h.transferred, h.currency)}
            for h in report.holders
        ],
        "totals": [
            {"currency": c, "payments": n, "amount": _money(a, c), "consumption_tax": _money(t, c),
             "withholding_tax": _money(w, c), "transferred": _money(x, c)}
            for c, (n, a, t, w, x) in sorted(report.totals.items())
        ],
    }  # fmt: skip


# views ------------------------------------------------------------------------------------------------------------
class ReportView(PayoutsView):
    """Staff only. The JSON view answers the report; its `Csv` subclass the same as a download."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)  # JSON or a file, whatever Accept says

    def report(self, params):
        raise NotImplementedError

    def answer(self, request: Request, *, csv: bool):
        self.staff_only()
        report, render, present, filename = self.report(request.query_params)
        if csv:
            response = HttpResponse(render(report), content_type=CSV)
            response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
            return response
        return Response(present(report))


class TrialBalanceView(ReportView):
    def report(self, params):
        as_of = parse_date(params["as_of"], "as_of") if params.get("as_of") else timezone.localdate()
        report = reports.trial_balance_report(as_of=as_of)
        return report, reports.trial_balance_csv, present_trial_balance, f"trial-balance-{as_of.isoformat()}"

    @extend_schema(
        operation_id="ledger_trial_balance",
        parameters=[OpenApiParameter("as_of", OpenApiTypes.DATE, description="YYYY-MM-DD; default today (Tokyo).")],
        responses={200: TrialBalanceOutput, **ERRORS},
        description="Staff: per account and currency, debits, credits and balance of the transactions effective on "
        "or before `as_of`; per currency the totals, which balance to zero.",
    )
    def get(self, request: Request) -> Response:
        return self.answer(request, csv=False)


class TrialBalanceCsvView(TrialBalanceView):
    @extend_schema(
        operation_id="ledger_trial_balance_csv",
        parameters=[OpenApiParameter("as_of", OpenApiTypes.DATE, description="YYYY-MM-DD; default today (Tokyo).")],
        responses=CSV_RESPONSE,
        description="Staff: the trial balance as CSV: one row per account, then a total row per currency.",
    )
    def get(self, request: Request) -> HttpResponse:
        return self.answer(request, csv=True)


PERIOD = OpenApiParameter("period", str, required=True, description="YYYY-MM")
RECONCILIATION = (
    "Staff: the period's statements vs their lines, invoices vs their lines, royalties billed vs allocated, "
    "statements, invoices and payouts vs their journal transactions, usage vs invoiced quantities, and the ledger's "
    "own verification. Each check says what it compares; every difference is listed (at most 1,000 per check)."
)


class ReconciliationView(ReportView):
    def report(self, params):
        period = parse_period(params.get("period"))
        report = reports.reconciliation(period=period)
        return report, reports.reconciliation_csv, present_reconciliation, f"reconciliation-{period:%Y-%m}"

    @extend_schema(operation_id="reports_reconciliation", parameters=[PERIOD],
                   responses={200: ReconciliationOutput, **ERRORS}, description=RECONCILIATION)  # fmt: skip
    def get(self, request: Request) -> Response:
        return self.answer(request, csv=False)


class ReconciliationCsvView(ReconciliationView):
    @extend_schema(operation_id="reports_reconciliation_csv", parameters=[PERIOD], responses=CSV_RESPONSE,
                   description="Staff: the period's differences as CSV (just a header: none).")  # fmt: skip
    def get(self, request: Request) -> HttpResponse:
        return self.answer(request, csv=True)


RANGE = [
    OpenApiParameter("year", str, description="YYYY (default: the current year)."),
    OpenApiParameter("from", str, description="YYYY-MM, with `to`: a range of months instead of a year."),
    OpenApiParameter("to", str, description="YYYY-MM, the last month (included)."),
]
WITHHOLDING = (
    "Staff: withholding income tax payable per month and currency, from the ledger account withholding_tax_payable "
    "(credited when a holder is paid, debited back when a transfer is returned): withheld, returned, net to remit, "
    "its due date (the 10th of the following month, moved to Monday from a weekend; national holidays are not), "
    "remitted and the balance outstanding."
)


class WithholdingView(ReportView):
    def report(self, params):
        start, end = withholding_range(params)
        report = reports.withholding_report(start=start, end=end)
        return report, reports.withholding_csv, present_withholding, f"withholding-{start:%Y-%m}-{end:%Y-%m}"

    @extend_schema(operation_id="reports_withholding", parameters=RANGE,
                   responses={200: WithholdingOutput, **ERRORS}, description=WITHHOLDING)  # fmt: skip
    def get(self, request: Request) -> Response:
        return self.answer(request, csv=False)


class WithholdingCsvView(WithholdingView):
    @extend_schema(operation_id="reports_withholding_csv", parameters=RANGE, responses=CSV_RESPONSE,
                   description="Staff: withholding tax payable by month as CSV, a total row per currency.")  # fmt: skip
    def get(self, request: Request) -> HttpResponse:
        return self.answer(request, csv=True)


YEAR = [OpenApiParameter("year", str, description="YYYY (default: the current year).")]
PAYMENT_SUMMARY = (
    "Staff: per rights holder and currency, the transfers paid (not returned) whose pay date is in the year: the "
    "number of payments, the amount before withholding, of which consumption tax, the withholding tax and the amount "
    "transferred, with the holder's particulars (the data of the 支払調書)."
)


class PaymentSummaryView(ReportView):
    def report(self, params):
        year = parse_year(params["year"]) if params.get("year") is not None else timezone.localdate().year
        report = reports.payment_summary(year=year)
        return report, reports.payment_summary_csv, present_payment_summary, f"payment-summary-{year}"

    @extend_schema(operation_id="reports_payment_summary", parameters=YEAR,
                   responses={200: PaymentSummaryOutput, **ERRORS}, description=PAYMENT_SUMMARY)  # fmt: skip
    def get(self, request: Request) -> Response:
        return self.answer(request, csv=False)


class PaymentSummaryCsvView(PaymentSummaryView):
    @extend_schema(operation_id="reports_payment_summary_csv", parameters=YEAR, responses=CSV_RESPONSE,
                   description="Staff: the annual payment summary as CSV, a total row per currency.")  # fmt: skip
    def get(self, request: Request) -> HttpResponse:
        return self.answer(request, csv=True)
