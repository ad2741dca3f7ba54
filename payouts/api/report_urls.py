from django.urls import re_path

from . import report_views as views

# Trailing slashes optional, no redirect (API.md, Conventions); a CSV download is the same path with `.csv`.
urlpatterns = [
    re_path(r"^ledger/trial-balance/?$", views.TrialBalanceView.as_view(), name="ledger-trial-balance"),
    re_path(r"^ledger/trial-balance\.csv/?$", views.TrialBalanceCsvView.as_view(), name="ledger-trial-balance-csv"),
    re_path(r"^reports/reconciliation/?$", views.ReconciliationView.as_view(), name="report-reconciliation"),
    re_path(r"^reports/reconciliation\.csv/?$", views.ReconciliationCsvView.as_view(), name="report-reconcile-csv"),
    re_path(r"^reports/withholding/?$", views.WithholdingView.as_view(), name="report-withholding"),
    re_path(r"^reports/withholding\.csv/?$", views.WithholdingCsvView.as_view(), name="report-withholding-csv"),
    re_path(r"^reports/payment-summary/?$", views.PaymentSummaryView.as_view(), name="report-payment-summary"),
    re_path(r"^reports/payment-summary\.csv/?$", views.PaymentSummaryCsvView.as_view(), name="report-payments-csv"),
]
