"""Finance reports in the admin: one page with a form per report (trial balance as of a date, reconciliation of a
period, withholding tax of a year, payment summary of a year), each answered as an HTML table with a CSV download
of the same rows (payouts.reports). Platform staff only (the Staff and Finance groups).

Mounted by config/urls.py under /admin/payouts/reports/ (namespace `payouts_reports`), inside the admin's own login
(`admin.site.admin_view`); the admin index links to it (templates/admin/index.html).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from licensing.principals import Access

from . import batches, reports

app_name = "payouts_reports"
FIRST_YEAR, LAST_YEAR = 2000, 9998


class TrialBalanceForm(forms.Form):
    as_of = forms.DateField(label=gettext_lazy("As of"), widget=forms.DateInput(attrs={"type": "date"}),
                            help_text=gettext_lazy("Transactions effective on or before this date."))  # fmt: skip


class PeriodForm(forms.Form):
    period = forms.RegexField(
        label=gettext_lazy("Period"), regex=r"^\d{4}-(0[1-9]|1[0-2])$", max_length=7,
        widget=forms.TextInput(attrs={"placeholder": "2026-10", "size": 8}),
        error_messages={"invalid": gettext_lazy("A period is YYYY-MM, e.g. 2026-10.")},
    )  # fmt: skip

    def clean_period(self) -> dt.date:
        year, month = self.cleaned_data["period"].split("-")
        if not FIRST_YEAR <= int(year) <= LAST_YEAR:
            raise forms.ValidationError(_("A period is YYYY-MM, e.g. 2026-10."))
        return dt.date(int(year), int(month), 1)


class YearForm(forms.Form):
    year = forms.IntegerField(label=gettext_lazy("Year"), min_value=FIRST_YEAR, max_value=LAST_YEAR)


class RemittanceForm(PeriodForm):
    """Finance records the payment of a month's withholding tax to the tax office."""

    currency = forms.CharField(label=gettext_lazy("Currency"), max_length=3, initial="JPY")
    paid_on = forms.DateField(label=gettext_lazy("Paid on"), widget=forms.DateInput(attrs={"type": "date"}))


def _trial_balance(data):
    report = reports.trial_balance_report(as_of=data["as_of"])
    return report, reports.trial_balance_table, reports.trial_balance_csv, f"trial-balance-{data['as_of']}"


def _reconciliation(data):
    report = reports.reconciliation(period=data["period"])
    return report, reports.reconciliation_table, reports.reconciliation_csv, f"reconciliation-{data['period']:%Y-%m}"


def _withholding(data):
    year = data["year"]
    report = reports.withholding_report(start=dt.date(year, 1, 1), end=dt.date(year, 12, 1))
    return report, reports.withholding_table, reports.withholding_csv, f"withholding-{year}"


def _payment_summary(data):
    report = reports.payment_summary(year=data["year"])
    return report, reports.payment_summary_table, reports.payment_summary_csv, f"payment-summary-{data['year']}"


# slug → (title, note, form, compute, the table's numeric columns)
REPORTS = {
    "trial-balance": (
        gettext_lazy("Trial balance"),
        gettext_lazy("Per account and currency, the transactions effective on or before the date; the totals of each "
                     "currency balance to zero."),
        TrialBalanceForm, _trial_balance, (4, 5, 6),
    ),
    "reconciliation": (
        gettext_lazy("Reconciliation of a period"),
        gettext_lazy("The period's statements, invoices, usage, payouts and journal transactions checked against "
                     "each other, and the ledger's own verification: every difference is listed."),
        PeriodForm, _reconciliation, (5, 6),
    ),
    "withholding": (
        gettext_lazy("Withholding tax payable by month"),
        gettext_lazy("Withheld when holders are paid, less returned transfers. Due on the 10th of the following "
                     "month, or the Monday after when it is a Saturday or Sunday; national holidays are not taken "
                     "into account: check them."),
        YearForm, _withholding, (2, 3, 4, 6, 7),
    ),
    "payment-summary": (
        gettext_lazy("Annual payment summary (支払調書)"),
        gettext_lazy("Per rights holder, the transfers paid in the year (returned ones excluded): the amount before "
                     "withholding, consumption tax included."),
        YearForm, _payment_summary, (9, 10, 11, 12, 13),
    ),
}  # fmt: skip


def _initial(slug: str) -> dict:
    today = timezone.localdate()
    previous = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    return {
        "trial-balance": {"as_of": today},
        "reconciliation": {"period": f"{previous:%Y-%m}"},
        "withholding": {"year": today.year},
        "payment-summary": {"year": today.year - 1 if today.month <= 1 else today.year},
    }[slug]


def _staff_only(request) -> None:
    if not Access(request.user).is_staff:
        raise PermissionDenied


def _context(request, **extra) -> dict:
    return {**admin.site.each_context(request), **extra}


def index(request):
    _staff_only(request)
    forms_ = [(slug, spec[0], spec[1], spec[2](initial=_initial(slug))) for slug, spec in REPORTS.items()]
    return render(request, "admin/payouts/reports/index.html",
                  _context(request, title=_("Finance reports"), reports=forms_))  # fmt: skip


def report(request, slug: str):
    _staff_only(request)
    if slug not in REPORTS:
        raise Http404
    title, note, form_class, compute, numeric = REPORTS[slug]
    form = form_class(request.GET or None, initial=_initial(slug))
    context = _context(request, title=title, note=note, slug=slug, form=form, numeric=numeric, total_label=_("Total"))
    if slug == "withholding" and request.user.has_perm("payouts.confirm_payoutbatch"):
        context["remittance_form"] = RemittanceForm(initial={"paid_on": timezone.localdate()})
    if form.is_bound and form.is_valid():
        result, table, csv, filename = compute(form.cleaned_data)
        if request.GET.get("format") == "csv":
            response = HttpResponse(csv(result), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
            return response
        header, rows = table(result)
        query = request.GET.copy()
        query["format"] = "csv"
        context.update(report=result, header=header, rows=rows, csv_query=query.urlencode())
    return render(request, "admin/payouts/reports/report.html", context)


def remit(request):
    """POST: record a month's withholding tax as paid to the tax office (finance), then back to the report."""
    _staff_only(request)
    if not request.user.has_perm("payouts.confirm_payoutbatch"):
        raise PermissionDenied
    if request.method != "POST":
        return redirect("payouts_reports:report", slug="withholding")
    form = RemittanceForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            batches.withholding_remittance_record(month=data["period"], currency=data["currency"].strip().upper(),
                                                  paid_on=data["paid_on"], actor=request.user)  # fmt: skip
        except (batches.PayoutInvalid, batches.PayoutRefused) as exc:
            for problem in getattr(exc, "problems", [str(exc)]):
                messages.error(request, problem)
        else:
            messages.success(request, _("The withholding tax of %(month)s is recorded as paid.")
                             % {"month": f"{data['period']:%Y-%m}"})  # fmt: skip
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    year = form.cleaned_data["period"].year if form.is_valid() else timezone.localdate().year
    return redirect(f"{reverse('payouts_reports:report', args=['withholding'])}?year={year}")


urlpatterns = [
    path("", admin.site.admin_view(index), name="index"),
    path("withholding/remit/", admin.site.admin_view(remit), name="remit"),
    path("<slug:slug>/", admin.site.admin_view(report), name="report"),
]
