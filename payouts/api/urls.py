from django.urls import re_path

from . import views

# Trailing slashes optional, no redirect (API.md, Conventions).
ID = r"(?P<pk>[^/]+?)"
urlpatterns = [
    re_path(r"^statement-runs/?$", views.StatementRunsView.as_view(), name="statement-runs"),
    re_path(rf"^statement-runs/{ID}/?$", views.StatementRunDetailView.as_view(), name="statement-run-detail"),
    re_path(rf"^statement-runs/{ID}/finalize/?$", views.StatementRunFinalizeView.as_view(), name="statement-run-final"),
    re_path(r"^statements/?$", views.StatementsView.as_view(), name="statements"),
    re_path(rf"^statements/{ID}\.csv/?$", views.StatementCsvView.as_view(), name="statement-csv"),
    re_path(rf"^statements/{ID}\.pdf/?$", views.StatementPdfView.as_view(), name="statement-pdf"),
    re_path(rf"^statements/{ID}/?$", views.StatementDetailView.as_view(), name="statement-detail"),
    re_path(r"^invoices/?$", views.InvoicesView.as_view(), name="invoices"),
    re_path(rf"^invoices/{ID}\.csv/?$", views.InvoiceCsvView.as_view(), name="invoice-csv"),
    re_path(rf"^invoices/{ID}\.pdf/?$", views.InvoicePdfView.as_view(), name="invoice-pdf"),
    re_path(rf"^invoices/{ID}/?$", views.InvoiceDetailView.as_view(), name="invoice-detail"),
    re_path(r"^payout-batches/?$", views.PayoutBatchesView.as_view(), name="payout-batches"),
    re_path(rf"^payout-batches/{ID}/?$", views.PayoutBatchDetailView.as_view(), name="payout-batch-detail"),
    re_path(rf"^payout-batches/{ID}/confirm/?$", views.PayoutBatchConfirmView.as_view(), name="payout-batch-confirm"),
    re_path(rf"^payout-batches/{ID}/cancel/?$", views.PayoutBatchCancelView.as_view(), name="payout-batch-cancel"),
    re_path(rf"^payout-batches/{ID}/zengin/?$", views.PayoutBatchZenginView.as_view(), name="payout-batch-zengin"),
    re_path(
        rf"^payout-batches/{ID}/transfer-list\.csv/?$",
        views.PayoutBatchTransferListView.as_view(),
        name="payout-batch-transfer-list",
    ),
    re_path(r"^payouts/?$", views.PayoutItemsView.as_view(), name="payouts"),
    re_path(r"^withholding-remittances/?$", views.RemittancesView.as_view(), name="withholding-remittances"),
    re_path(rf"^payouts/{ID}/return/?$", views.PayoutItemReturnView.as_view(), name="payout-return"),
]
