"""Statements, invoices and statement runs over the API (API.md, Statements, invoices and payouts). Thin views:
parse, call one selector or service, render."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.problems import Conflict
from config.schema import problem_responses
from licensing.api.usage_views import parse_period
from licensing.api.views import LicensingView

from .. import batches, selectors, services
from ..engine import RunRefused
from ..models import ItemStatus, PayoutBatch, PayoutItem
from . import presenters
from .serializers import (
    InvoiceOutput,
    PayoutBatchInput,
    PayoutBatchOutput,
    PayoutCancelInput,
    PayoutItemOutput,
    PayoutReturnInput,
    RemittanceInput,
    RemittanceOutput,
    StatementOutput,
    StatementRunOutput,
)

READ = problem_responses(400, 401, 403, 404)


class PayoutsView(LicensingView):
    def uuid_or_404(self, value) -> uuid.UUID:
        try:
            return uuid.UUID(str(value))
        except ValueError:
            raise Http404 from None

    def staff_only(self) -> None:
        self.require(self.access.is_staff)


class StatementRunsView(PayoutsView):
    @extend_schema(
        operation_id="statement_runs_create",
        request=inline_serializer("StatementRunInput", {"period": serializers.CharField(help_text="YYYY-MM")}),
        responses={202: StatementRunOutput, **problem_responses(400, 401, 403, 409)},
        description="Staff: compute (or recompute) the period's draft statements and invoices, in the background.",
    )
    def post(self, request: Request) -> Response:
        self.staff_only()
        period = parse_period(request.data.get("period") if isinstance(request.data, dict) else None)
        try:
            run = services.statement_run_create(period=period, requested_by=request.user)
        except RunRefused as exc:
            raise Conflict(str(exc)) from None
        from ..tasks import compute_statement_run

        transaction.on_commit(lambda: compute_statement_run.delay(str(run.pk)))
        return Response(presenters.run(run), status=status.HTTP_202_ACCEPTED)

    @extend_schema(operation_id="statement_runs_list", responses={200: StatementRunOutput(many=True), **READ})
    def get(self, request: Request) -> Response:
        self.staff_only()
        return self.page(selectors.run_list(), lambda runs: [presenters.run(r) for r in runs])


class StatementRunDetailView(PayoutsView):
    @extend_schema(operation_id="statement_runs_retrieve", responses={200: StatementRunOutput, **READ})
    def get(self, request: Request, pk) -> Response:
        self.staff_only()
        return Response(presenters.run(self.get_visible(selectors.run_list(), pk)))


class StatementRunFinalizeView(PayoutsView):
    @extend_schema(
        operation_id="statement_runs_finalize",
        request=None,
        responses={200: StatementRunOutput, **problem_responses(401, 403, 404, 409)},
        description="Staff: the run's statements and invoices become final and are posted to the ledger (once).",
    )
    def post(self, request: Request, pk) -> Response:
        self.staff_only()
        run = self.get_visible(selectors.run_list(), pk)
        try:
            run = services.statement_run_finalize(run=run)
        except RunRefused as exc:
            raise Conflict(str(exc)) from None
        return Response(presenters.run(run))


class StatementsView(PayoutsView):
    @extend_schema(
        operation_id="statements_list",
        parameters=[
            OpenApiParameter("period", str, description="YYYY-MM"),
            OpenApiParameter("rights_holder", uuid.UUID),
        ],
        responses={200: StatementOutput(many=True), **READ},
    )
    def get(self, request: Request) -> Response:
        qs = selectors.statement_list(access=self.access)
        if request.query_params.get("period"):
            qs = qs.filter(period=parse_period(request.query_params["period"]))
        if request.query_params.get("rights_holder"):
            try:
                qs = qs.filter(rights_holder_id=uuid.UUID(request.query_params["rights_holder"]))
            except ValueError:
                raise exceptions.ValidationError({"rights_holder": [_("Not a rights holder id.")]}) from None
        return self.page(qs, presenters.statements)


class StatementDetailView(PayoutsView):
    @extend_schema(operation_id="statements_retrieve", responses={200: StatementOutput, **READ})
    def get(self, request: Request, pk) -> Response:
        return Response(presenters.statements([self.get_visible(selectors.statement_list(access=self.access), pk)])[0])


class InvoicesView(PayoutsView):
    @extend_schema(
        operation_id="invoices_list",
        parameters=[OpenApiParameter("period", str, description="YYYY-MM")],
        responses={200: InvoiceOutput(many=True), **READ},
    )
    def get(self, request: Request) -> Response:
        qs = selectors.invoice_list(access=self.access)
        if request.query_params.get("period"):
            qs = qs.filter(period=parse_period(request.query_params["period"]))
        return self.page(qs, presenters.invoices)


class InvoiceDetailView(PayoutsView):
    @extend_schema(operation_id="invoices_retrieve", responses={200: InvoiceOutput, **READ})
    def get(self, request: Request, pk) -> Response:
        return Response(presenters.invoices([self.get_visible(selectors.invoice_list(access=self.access), pk)])[0])


class DocumentView(PayoutsView):
    """A statement's or an invoice's CSV or PDF (the same visibility as the JSON). One view per kind and format, so
    that each download is its own path and operation in the schema."""

    kind = ""  # "statement" | "invoice"
    fmt = ""  # "csv" | "pdf"
    CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)  # a file, whatever Accept says

    def get(self, request: Request, pk) -> HttpResponse:
        from .. import documents

        queryset = (selectors.statement_list if self.kind == "statement" else selectors.invoice_list)(
            access=self.access
        )
        obj = self.get_visible(queryset, pk)
        content = getattr(documents, f"{self.kind}_{self.fmt}")(obj)
        response = HttpResponse(content, content_type=self.CONTENT_TYPES[self.fmt])
        response["Content-Disposition"] = f'attachment; filename="{self.kind}-{obj.period:%Y-%m}-{obj.pk}.{self.fmt}"'
        return response


def _download(kind: str, fmt: str, description: str):
    """The schema of one download: the file as a binary body, and the problems the view answers (no valid key: 401;
    a caller who may see no document of this kind: 403; an unknown id, or another party's: 404)."""
    media_type, body = {
        "csv": ("text/csv", "UTF-8 with a byte-order mark: the details, one row per line, then the totals."),
        "pdf": ("application/pdf", "A4; Japanese text in reportlab's built-in CID font."),
    }[fmt]
    return extend_schema(
        operation_id=f"{kind}s_{fmt}",
        parameters=[OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH, description=f"The {kind}'s id.")],
        responses={
            (200, media_type): OpenApiResponse(OpenApiTypes.BINARY, description=body),
            **problem_responses(401, 403, 404),
        },
        description=f"{description} Sent as an attachment (`Content-Disposition`), whatever `Accept` says.",
    )


class StatementCsvView(DocumentView):
    kind, fmt = "statement", "csv"

    @_download("statement", "csv", "Staff, or a user of the rights holder: the statement as CSV.")
    def get(self, request: Request, pk) -> HttpResponse:
        return super().get(request, pk)


class StatementPdfView(DocumentView):
    kind, fmt = "statement", "pdf"

    @_download(
        "statement", "pdf",
        "Staff, or a user of the rights holder: the statement as PDF (支払明細書): the lines by AI company and work, "
        "the totals and the qualified-invoice items (registration number, amount and consumption tax by rate, "
        "withholding).",
    )  # fmt: skip
    def get(self, request: Request, pk) -> HttpResponse:
        return super().get(request, pk)


class InvoiceCsvView(DocumentView):
    kind, fmt = "invoice", "csv"

    @_download("invoice", "csv", "Staff, or the licensee: the invoice as CSV.")
    def get(self, request: Request, pk) -> HttpResponse:
        return super().get(request, pk)


class InvoicePdfView(DocumentView):
    kind, fmt = "invoice", "pdf"

    @_download("invoice", "pdf", "Staff, or the licensee: the invoice as PDF (請求書): what it owes by basis and use, "
               "less the advance recouped.")  # fmt: skip
    def get(self, request: Request, pk) -> HttpResponse:
        return super().get(request, pk)


# payout batches -----------------------------------------------------------------------------------------------------
class PayoutBatchView(PayoutsView):
    def finance(self, permission: str) -> None:
        """Finance staff only (API.md: roles): the Finance group has these permissions, Staff does not."""
        self.require(self.access.can(f"payouts.{permission}"))

    def batch(self, pk) -> PayoutBatch:
        self.staff_only()
        return self.get_visible(selectors.payout_batch_list(), pk)

    def present(self, batch: PayoutBatch) -> dict:
        return presenters.payout_batch(batch, items=selectors.payout_items(batch))


def _refused(exc: Exception):
    if isinstance(exc, batches.PayoutInvalid):
        return exceptions.ValidationError(exc.by_field)
    return Conflict(str(exc))


class PayoutBatchesView(PayoutBatchView):
    @extend_schema(
        operation_id="payout_batches_create",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "minLength": 1, "maxLength": 200},
                OpenApiParameter.HEADER,
                required=False,
                description="Same key and body: the batch it created, nothing created twice. "
                "Same key, other body: 409.",
            ),
        ],
        request=PayoutBatchInput,
        responses={201: PayoutBatchOutput, **problem_responses(400, 401, 403, 409)},
        description="Finance: a batch of the currency's final, unpaid statements due for payment (payable at least "
        "the holder's minimum payout); holders without a usable bank account are listed as `blocked` with the reason.",
    )
    def post(self, request: Request) -> Response:
        self.finance("add_payoutbatch")
        key = request.headers.get("Idempotency-Key")
        if key is not None and (not key or len(key) > 200 or not key.isprintable()):
            raise exceptions.ValidationError({"Idempotency-Key": [_("An Idempotency-Key is 1 to 200 characters.")]})
        data = self.parse(PayoutBatchInput)
        try:
            batch = batches.payout_batch_create(currency=data["currency"], pay_date=data["pay_date"],
                                                created_by=request.user, idempotency_key=key)  # fmt: skip
        except (batches.PayoutInvalid, batches.PayoutRefused) as exc:
            raise _refused(exc) from None
        return Response(self.present(batch), status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="payout_batches_list", responses={200: PayoutBatchOutput(many=True), **READ})
    def get(self, request: Request) -> Response:
        self.staff_only()
        return self.page(selectors.payout_batch_list(), lambda rows: [presenters.payout_batch(b) for b in rows])


class PayoutBatchDetailView(PayoutBatchView):
    @extend_schema(operation_id="payout_batches_retrieve", responses={200: PayoutBatchOutput, **READ})
    def get(self, request: Request, pk) -> Response:
        return Response(self.present(self.batch(pk)))


class PayoutBatchActionView(PayoutBatchView):
    action = ""  # "confirm" | "cancel"

    def post(self, request: Request, pk) -> Response:
        batch = self.batch(pk)
        if self.action == "confirm":
            self.finance("confirm_payoutbatch")
            service, options = batches.payout_batch_confirm, {}
        else:
            self.finance("add_payoutbatch")
            service, options = batches.payout_batch_cancel, self.parse(PayoutCancelInput)
        try:
            batch = service(batch=batch, actor=request.user, **options)
        except (batches.PayoutInvalid, batches.PayoutRefused) as exc:
            raise _refused(exc) from None
        return Response(self.present(batch))


class PayoutBatchConfirmView(PayoutBatchActionView):
    action = "confirm"

    @extend_schema(
        operation_id="payout_batches_confirm",
        request=None,
        responses={200: PayoutBatchOutput, **problem_responses(401, 403, 404, 409)},
        description="Finance: the bank made the transfers. Posts each payment to the ledger once (payable → bank, "
        "withholding → tax payable); the statements become `paid`. Confirming again changes nothing.",
    )
    def post(self, request: Request, pk) -> Response:
        return super().post(request, pk)


class PayoutBatchCancelView(PayoutBatchActionView):
    action = "cancel"

    @extend_schema(
        operation_id="payout_batches_cancel",
        request=PayoutCancelInput,
        responses={200: PayoutBatchOutput, **problem_responses(400, 401, 403, 404, 409)},
        description="Finance: drop a batch that was not sent to the bank; its statements can be paid in another. "
        "Once its file was exported, only with `file_not_sent: true` and a reason (kept in the audit history).",
    )
    def post(self, request: Request, pk) -> Response:
        return super().post(request, pk)


class PayoutBatchFileView(PayoutBatchView):
    """The transfer file: `zengin` for a JPY batch, `transfer-list.csv` for other currencies."""

    kind = ""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)  # a file, whatever Accept says

    def get(self, request: Request, pk) -> HttpResponse:
        batch = self.batch(pk)
        self.finance("export_payoutbatch")
        if (batch.currency == "JPY") != (self.kind == "zengin"):
            raise Conflict(
                _("A JPY batch is exported as a Zengin file (/zengin); other currencies as a transfer list "
                  "(/transfer-list.csv).")
            )  # fmt: skip
        try:
            filename, content_type, content = batches.payout_batch_export(batch=batch, actor=request.user)
        except (batches.PayoutInvalid, batches.PayoutRefused) as exc:
            raise _refused(exc) from None
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class PayoutBatchZenginView(PayoutBatchFileView):
    kind = "zengin"

    @extend_schema(
        operation_id="payout_batches_zengin",
        responses={
            (200, "text/plain"): OpenApiTypes.BINARY,
            (200, "application/zip"): OpenApiTypes.BINARY,
            **problem_responses(400, 401, 403, 404, 409),
        },
        description="Finance: the Zengin 総合振込 file of a JPY batch (cp932, 120-byte records; a zip of files of at "
        "most 9,999 transfers when larger). 400 lists every problem (e.g. a name a bank file cannot carry) before "
        "anything is exported. Each download is in the batch's audit history.",
    )
    def get(self, request: Request, pk) -> HttpResponse:
        return super().get(request, pk)


class PayoutBatchTransferListView(PayoutBatchFileView):
    kind = "csv"

    @extend_schema(
        operation_id="payout_batches_transfer_list",
        responses={(200, "text/csv"): OpenApiTypes.BINARY, **problem_responses(400, 401, 403, 404, 409)},
        description="Finance: the transfers of a batch in a currency other than JPY, as CSV (UTF-8 with BOM).",
    )
    def get(self, request: Request, pk) -> HttpResponse:
        return super().get(request, pk)


class PayoutItemsView(PayoutsView):
    @extend_schema(
        operation_id="payouts_list",
        parameters=[
            OpenApiParameter("batch", uuid.UUID, description="Only this batch's transfers."),
            OpenApiParameter("status", str, enum=ItemStatus.values, description="Only transfers in this status."),
        ],
        responses={200: PayoutItemOutput(many=True), **READ},
        description="Transfers to rights holders (a rights holder sees its own, blocked ones with the reason).",
    )
    def get(self, request: Request) -> Response:
        self.require(self.access.is_staff or self.access.is_holder)
        qs = selectors.payout_item_list(access=self.access)
        if request.query_params.get("batch"):
            try:
                qs = qs.filter(batch_id=uuid.UUID(request.query_params["batch"]))
            except ValueError:
                raise exceptions.ValidationError({"batch": [_("Not a payout batch id.")]}) from None
        if request.query_params.get("status"):
            if request.query_params["status"] not in ItemStatus.values:
                raise exceptions.ValidationError({"status": [_("Not a transfer status.")]})
            qs = qs.filter(status=request.query_params["status"])
        return self.page(qs, lambda rows: [presenters.payout_item(i) for i in rows])


class PayoutItemReturnView(PayoutBatchView):
    @extend_schema(
        operation_id="payouts_return",
        request=PayoutReturnInput,
        responses={200: PayoutItemOutput, **problem_responses(400, 401, 403, 404, 409)},
        description="Finance: the bank returned this transfer. The payment is reversed in the ledger and its "
        "statements are unpaid again. Recording it again changes nothing.",
    )
    def post(self, request: Request, pk) -> Response:
        self.staff_only()
        try:
            item = PayoutItem.objects.select_related("statement").get(pk=uuid.UUID(str(pk)))
        except (ValueError, PayoutItem.DoesNotExist):
            raise Http404 from None
        self.finance("confirm_payoutbatch")
        data = self.parse(PayoutReturnInput)
        try:
            item = batches.payout_item_return(item=item, reason=data["reason"], returned_on=data.get("returned_on"),
                                              actor=request.user)  # fmt: skip
        except (batches.PayoutInvalid, batches.PayoutRefused) as exc:
            raise _refused(exc) from None
        return Response(presenters.payout_item(item))


class RemittancesView(PayoutBatchView):
    @extend_schema(
        operation_id="withholding_remittances_create",
        request=RemittanceInput,
        responses={201: RemittanceOutput, **problem_responses(400, 401, 403, 409)},
        description="Finance: the income tax withheld from a month's payments was paid to the tax office (Dr "
        "withholding tax payable, Cr bank). Once per month and currency; the amount is the month's withholding "
        "less returned transfers (GET /reports/withholding).",
    )
    def post(self, request: Request) -> Response:
        self.staff_only()
        self.finance("confirm_payoutbatch")
        data = self.parse(RemittanceInput)
        month = parse_period(data["month"])
        try:
            txn = batches.withholding_remittance_record(month=month, currency=data["currency"],
                                                        paid_on=data["paid_on"], actor=request.user)  # fmt: skip
        except (batches.PayoutInvalid, batches.PayoutRefused) as exc:
            raise _refused(exc) from None
        posting = txn.postings.filter(amount__gt=0).first()
        body = {"month": f"{month:%Y-%m}", "amount": presenters.money(posting.amount, posting.currency),
                "paid_on": txn.effective_date, "transaction": txn.pk}  # fmt: skip
        return Response(body, status=status.HTTP_201_CREATED)
