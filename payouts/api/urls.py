from django.urls import re_path

from . import views

# Trailing slashes optional, no redirect (API.md, Conventions).
ID = r"(?P<pk>[^/]+?)"
urlpatterns = [
    re_path(r"^statement-runs/?$", views.StatementRunsView.as_view(), name="statement-runs"),
    re_path(rf"^statement-runs/{ID}/?$", views.StatementRunDetailView.as_view(), name="statement-run-detail"),
    re_path(rf"^statement-runs/{ID}/finalize/?$", views.StatementRunFinalizeView.as_view(), name="statement-run-final"),
    re_path(r"^statements/?$", views.StatementsView.as_view(), name="statements"),
    re_path(rf"^statements/{ID}\.(?P<fmt>csv|pdf)$", views.StatementDocumentView.as_view(), name="statement-document"),
    re_path(rf"^statements/{ID}/?$", views.StatementDetailView.as_view(), name="statement-detail"),
    re_path(r"^invoices/?$", views.InvoicesView.as_view(), name="invoices"),
    re_path(rf"^invoices/{ID}\.(?P<fmt>csv|pdf)$", views.InvoiceDocumentView.as_view(), name="invoice-document"),
    re_path(rf"^invoices/{ID}/?$", views.InvoiceDetailView.as_view(), name="invoice-detail"),
]
