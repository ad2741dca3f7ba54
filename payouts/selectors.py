"""Reads of the payouts app, scoped to what the caller may see."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from rest_framework import exceptions

from licensing.principals import Access

from .models import Invoice, InvoiceLine, Statement, StatementLine, StatementRun


def run_list() -> QuerySet[StatementRun]:
    return StatementRun.objects.order_by("-created_at", "id")


def statement_list(*, access: Access) -> QuerySet[Statement]:
    """Staff: every statement; a rights holder's user: its holders' own; a licensee: none (403)."""
    lines = StatementLine.objects.select_related("licensee", "agreement", "work").order_by("licensee", "work", "use",
                                                                                           "basis", "id")  # fmt: skip
    qs = Statement.objects.select_related("rights_holder").prefetch_related(Prefetch("lines", queryset=lines))
    if access.is_staff:
        return qs.order_by("-period", "id")
    if access.holder_ids:
        return qs.filter(rights_holder_id__in=access.holder_ids).order_by("-period", "id")
    raise exceptions.PermissionDenied()


def invoice_list(*, access: Access) -> QuerySet[Invoice]:
    """Staff: every invoice; a licensee: its own; anyone else: 403."""
    qs = Invoice.objects.select_related("licensee", "agreement").prefetch_related(
        Prefetch("lines", queryset=InvoiceLine.objects.order_by("basis", "use", "id"))
    )
    if access.is_staff:
        return qs.order_by("-period", "id")
    if access.is_licensee:
        return qs.filter(licensee=access.licensee).order_by("-period", "id")
    raise exceptions.PermissionDenied()
