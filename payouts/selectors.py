"""Reads of the payouts app, scoped to what the caller may see."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from rest_framework import exceptions

from licensing.principals import Access

from .models import Invoice, InvoiceLine, PayoutBatch, PayoutItem, Statement, StatementLine, StatementRun


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


def payout_batch_list() -> QuerySet[PayoutBatch]:
    return PayoutBatch.objects.order_by("-created_at", "id")


def payout_items(batch: PayoutBatch) -> QuerySet[PayoutItem]:
    return batch.items.select_related("statement").order_by("status", "rights_holder_id", "statement__period", "id")


def payout_item_list(*, access: Access) -> QuerySet[PayoutItem]:
    """Staff: every transfer; a rights holder's user: its holders' own (blocked ones too, with the reason, so that
    it can fix its bank account); a licensee: none."""
    qs = (
        PayoutItem.objects.select_related("statement", "batch")
        .exclude(status="cancelled")
        .order_by("-batch__created_at", "rights_holder_id", "statement__period", "id")
    )
    if access.is_staff:
        return qs
    return qs.filter(rights_holder_id__in=access.holder_ids)
