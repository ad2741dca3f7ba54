"""Statements, invoices and statement runs over the API (API.md, Statements, invoices and payouts). Thin views:
parse, call one selector or service, render."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.http import Http404, HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.problems import Conflict
from config.schema import problem_responses
from licensing.api.usage_views import parse_period
from licensing.api.views import LicensingView

from .. import selectors, services
from ..engine import RunRefused
from . import presenters
from .serializers import InvoiceOutput, StatementOutput, StatementRunOutput

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
    """A statement's or an invoice's CSV or PDF (the same visibility as the JSON)."""

    kind = ""  # "statement" | "invoice"
    RENDER = {
        ("statement", "csv"): ("statement_csv", "text/csv; charset=utf-8"),
        ("statement", "pdf"): ("statement_pdf", "application/pdf"),
        ("invoice", "csv"): ("invoice_csv", "text/csv; charset=utf-8"),
        ("invoice", "pdf"): ("invoice_pdf", "application/pdf"),
    }

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)  # a file, whatever Accept says

    @extend_schema(exclude=True)
    def get(self, request: Request, pk, fmt: str) -> HttpResponse:
        from .. import documents

        queryset = (selectors.statement_list if self.kind == "statement" else selectors.invoice_list)(
            access=self.access
        )
        obj = self.get_visible(queryset, pk)
        function, content_type = self.RENDER[self.kind, fmt]
        response = HttpResponse(getattr(documents, function)(obj), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{self.kind}-{obj.period:%Y-%m}-{obj.pk}.{fmt}"'
        return response


class StatementDocumentView(DocumentView):
    kind = "statement"


class InvoiceDocumentView(DocumentView):
    kind = "invoice"
