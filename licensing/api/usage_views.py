"""The licensee API: clearance checks and usage reports (API.md). Thin: parse, call, render."""

from __future__ import annotations

import datetime as dt
import re
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiRequest, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from config.fields import MONEY_SCHEMA, ISODateField, WorkReferenceListField
from config.parsers import LargeJSONParser
from config.problems import Conflict, PayloadTooLarge, Unavailable
from config.renderers import FastJSONRenderer
from config.schema import problem, problem_responses

from .. import ingest, selectors
from ..choices import Use
from ..models import ReportStatus, UsageReport
from ..principals import Access
from ..throttling import ClearanceThrottle, UsageReportThrottle
from ..usage import IdempotencyConflict, PartitionBusy, usage_report_ingest
from ..validators import validate_country

PERIOD_RE = re.compile(r"([0-9]{4})-([0-9]{2})")  # ASCII digits, the whole string (fullmatch)


class ClearanceInput(serializers.Serializer):
    use = serializers.ChoiceField(choices=Use.choices)
    date = ISODateField(required=False, help_text="Defaults to today (Asia/Tokyo).")
    territory = serializers.CharField(max_length=2, required=False, help_text="Defaults to the licensee's country.")
    works = WorkReferenceListField()


class ClearanceResult(serializers.Serializer):
    ref = serializers.CharField()
    work = serializers.UUIDField(allow_null=True)
    status = serializers.ChoiceField(choices=["licensed", "not_licensed", "reserved", "unknown"])
    agreement = serializers.UUIDField(allow_null=True)


class ClearanceOutput(serializers.Serializer):
    results = ClearanceResult(many=True)


class ReportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, help_text="The line (NDJSON) or the event (JSON), from 1.")
    message = serializers.CharField()


class UsageReportOutput(serializers.Serializer):
    id = serializers.UUIDField()
    period = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=ReportStatus.choices)
    late = serializers.BooleanField(help_text="Reported after the period was final: billed as adjustments later.")
    events_received = serializers.IntegerField()
    events_accepted = serializers.IntegerField()
    events_rejected = serializers.IntegerField()
    events_unlicensed = serializers.IntegerField()
    errors = ReportErrorSerializer(many=True, help_text="The first 100 rejected lines.")
    failure = serializers.CharField(
        allow_null=True,
        source="failure_or_none",
        help_text="Status failed: why processing in the background failed (send the report again, with a new key).",
    )
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)

    def get_period(self, report) -> str:
        return report.period.strftime("%Y-%m")


class LicenseeView(GenericAPIView):
    serializer_class = None

    @cached_property
    def access(self) -> Access:
        return Access(self.request.user)

    def licensee_only(self):
        if not self.access.is_licensee:
            raise exceptions.PermissionDenied(_("Only a licensee's key may do this."))
        return self.access.licensee


CLEARANCE_EXAMPLE = {"results": [
    {"ref": "isbn:978-4-08-851201-3", "work": "0b7f3c52-5d1e-4a8e-9a51-2f5f1c7e9a10", "status": "licensed",
     "agreement": "6d2a9e47-81f0-4c1b-b0de-3a7c2f9e5b21"},
    {"ref": "ext:hikari:SERIES-0001", "work": "9c4e1a20-7b3d-4f6e-8a2c-5d1b0e9f3a47", "status": "reserved",
     "agreement": None},
    {"ref": "isbn:978-4-08-999999-0", "work": None, "status": "unknown", "agreement": None},
]}  # fmt: skip


class ClearancesView(LicenseeView):
    throttle_classes = [ClearanceThrottle]
    parser_classes = [LargeJSONParser]  # up to CLEARANCE_MAX_BODY_BYTES, not Django's 2.5 MB
    renderer_classes = [FastJSONRenderer]

    @extend_schema(
        operation_id="clearances_create",
        request=ClearanceInput,
        responses={
            200: OpenApiResponse(ClearanceOutput, description="One result per reference, in request order.",
                                 examples=[OpenApiExample("Licensed, reserved, unknown", value=CLEARANCE_EXAMPLE)]),
            **problem_responses(400, 401, 403, 413, 429),
        },
        description="Up to 10,000 work references per call, answered in request order. Default deny.",
        examples=[
            OpenApiExample(
                "Two works",
                request_only=True,
                value={"use": "training", "date": "2026-10-15", "territory": "JP",
                       "works": ["isbn:978-4-08-851201-3", "ext:hikari:SERIES-0001"]},
            ),
        ],
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        licensee = self.licensee_only()
        refuse_declared_larger_than(request, settings.CLEARANCE_MAX_BODY_BYTES)
        works = request.data.get("works") if isinstance(request.data, dict) else None
        if isinstance(works, list) and len(works) > settings.CLEARANCE_MAX_REFS:
            raise ValidationError(
                {"works": [_("At most %(n)d work references per call.") % {"n": settings.CLEARANCE_MAX_REFS}]}
            )
        data = ClearanceInput(data=request.data)
        data.is_valid(raise_exception=True)
        territory = data.validated_data.get("territory") or licensee.country
        try:
            territory = validate_country(territory)
        except ValidationError as exc:
            raise ValidationError({"territory": exc.messages}) from None
        results = selectors.clearance(
            licensee=licensee,
            refs=data.validated_data["works"],
            use=data.validated_data["use"],
            on_date=data.validated_data.get("date") or timezone.localdate(),
            territory=territory,
        )
        return Response({"results": results})


NDJSON_EXAMPLE = (
    '{"work": "isbn:978-4-08-851201-3", "use": "generation", "quantity": 3, "occurred_on": "2026-10-03", '
    '"model": "video-model-2", "territory": "JP", "revenue": {"amount": "1200", "currency": "JPY"}}\n'
    '{"work": "ext:hikari:SERIES-0001", "use": "training", "quantity": 1, "occurred_on": "2026-10-04", '
    '"model": "video-model-2", "revenue": null}\n'
)
JSON_EXAMPLE = {
    "events": [
        {"work": "isbn:978-4-08-851201-3", "use": "generation", "quantity": 3, "occurred_on": "2026-10-03",
         "model": "video-model-2", "territory": "JP", "revenue": {"amount": "1200", "currency": "JPY"}},
        {"work": "ext:hikari:SERIES-0001", "use": "training", "quantity": 1, "occurred_on": "2026-10-04",
         "model": "video-model-2", "revenue": None},
    ]
}  # fmt: skip
REPORT_EXAMPLE = {
    "id": "0f9b7c1e-5a7d-4c59-9a56-2f1f3c1d7b10", "period": "2026-10", "status": "accepted", "late": False,
    "events_received": 3, "events_accepted": 2, "events_rejected": 1, "events_unlicensed": 0,
    "errors": [{"line": 3, "message": "quantity: a whole number from 1."}], "failure": None,
    "created_at": "2026-11-02T10:15:00+09:00", "completed_at": "2026-11-02T10:15:01+09:00",
}  # fmt: skip
PROCESSING_EXAMPLE = {
    **REPORT_EXAMPLE, "status": "processing", "events_received": 0, "events_accepted": 0, "events_rejected": 0,
    "errors": [], "completed_at": None,
}  # fmt: skip
EVENT_SCHEMA = {
    "type": "object",
    "required": ["work", "use", "quantity", "occurred_on", "model"],
    "properties": {
        "work": {"type": "string", "description": "A work reference."},
        "use": {"type": "string", "enum": Use.values},
        "quantity": {"type": "integer", "minimum": 1},
        "occurred_on": {"type": "string", "format": "date", "description": "Inside the period."},
        "model": {"type": "string", "maxLength": 200},
        "territory": {"type": "string", "description": "ISO 3166; defaults to the licensee's country."},
        "revenue": {**MONEY_SCHEMA, "nullable": True},
    },
}


class UsageReportsView(LicenseeView):
    throttle_classes = [UsageReportThrottle]

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(
        operation_id="usage_reports_create",
        parameters=[
            OpenApiParameter("period", {"type": "string", "pattern": r"^\d{4}-(0[1-9]|1[0-2])$"}, required=True,
                             description="YYYY-MM, a calendar month that has begun (Asia/Tokyo)."),
            OpenApiParameter("Idempotency-Key", {"type": "string", "minLength": 1, "maxLength": 200},
                             OpenApiParameter.HEADER, required=True,
                             description="Same key and body: the original response, nothing stored twice. "
                                         "Same key, other body: 409."),
            OpenApiParameter("Content-Encoding", str, OpenApiParameter.HEADER, enum=["gzip"], required=False),
            OpenApiParameter("Location", str, OpenApiParameter.HEADER, response=[202],
                             description="The report to poll: GET /api/v1/usage-reports/{id}."),
        ],
        request={
            "application/json": OpenApiRequest(
                {"type": "object", "required": ["events"],
                 "properties": {"events": {"type": "array", "items": EVENT_SCHEMA}}},
                examples=[OpenApiExample("Two events", value=JSON_EXAMPLE)],
            ),
            "application/x-ndjson": OpenApiRequest(
                {"type": "string", "x-ndjson-items": EVENT_SCHEMA,
                 "description": "One event per line (UTF-8, LF or CRLF; blank lines skipped), each the JSON object "
                                "of `x-ndjson-items`, the same as an item of the JSON body's `events`. Lines count "
                                "from 1; a malformed line is rejected on its own, with its number."},
                examples=[OpenApiExample("Two lines", value=NDJSON_EXAMPLE)],
            ),
        },
        responses={
            201: OpenApiResponse(UsageReportOutput, description="Processed (accepted, or rejected as a whole).",
                                 examples=[OpenApiExample("One line rejected", value=REPORT_EXAMPLE)]),
            202: OpenApiResponse(UsageReportOutput, description="Large: processing. Poll GET /usage-reports/{id}.",
                                 examples=[OpenApiExample("Processing", value=PROCESSING_EXAMPLE)]),
            **problem_responses(400, 401, 403, 409, 413, 429, 503),
            **{(415, "application/problem+json"): problem("Not JSON or NDJSON, or an encoding other than gzip.")},
        },
    )  # fmt: skip
    def post(self, request: Request) -> Response:
        licensee = self.licensee_only()
        period = parse_period(request.query_params.get("period"))
        key = request.headers.get("Idempotency-Key", "").strip()  # as HTTP servers strip it
        if not key or len(key) > 200 or not key.isprintable():
            raise ValidationError(
                {"Idempotency-Key": [_("A header Idempotency-Key of 1 to 200 characters is required.")]}
            )
        content_type = (request.content_type or "").split(";")[0].strip().lower()
        if content_type not in ("application/json", "application/x-ndjson"):
            raise exceptions.UnsupportedMediaType(content_type or "none")
        body = read_body(request)
        try:
            outcome = usage_report_ingest(
                licensee=licensee, period=period, idempotency_key=key, body=body, content_type=content_type,
                content_encoding=request.headers.get("Content-Encoding", ""),
            )  # fmt: skip
        except IdempotencyConflict as exc:
            raise Conflict(str(exc)) from None
        except PartitionBusy as exc:
            raise Unavailable(str(exc), wait=settings.USAGE_PARTITION_RETRY_AFTER) from None
        except ingest.BodyError as exc:
            if exc.status == 413:
                raise PayloadTooLarge(str(exc)) from None
            if exc.status == 415:
                raise exceptions.UnsupportedMediaType(content_type, detail=str(exc)) from None
            raise exceptions.ParseError(str(exc)) from None
        report = outcome.report
        report.refresh_from_db()
        if report.status == ReportStatus.PROCESSING:  # poll it there
            location = reverse("usage-report-detail", kwargs={"pk": report.pk})
            return Response(UsageReportOutput(report).data, status=status.HTTP_202_ACCEPTED,
                            headers={"Location": request.build_absolute_uri(location)})  # fmt: skip
        return Response(UsageReportOutput(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="usage_reports_list",
        parameters=[OpenApiParameter("cursor", str, description="From `next` or `previous`."),
                    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 1000})],
        responses={200: UsageReportOutput(many=True), **problem_responses(400, 401, 403)},
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(reports_for(self.access).order_by("-created_at", "id"))
        return self.get_paginated_response(UsageReportOutput(page, many=True).data)


class UsageReportDetailView(LicenseeView):
    @extend_schema(operation_id="usage_reports_retrieve", responses={200: UsageReportOutput,
                                                                     **problem_responses(401, 403, 404)})  # fmt: skip
    def get(self, request: Request, pk) -> Response:
        import uuid

        try:
            report = reports_for(self.access).filter(pk=uuid.UUID(str(pk))).first()
        except ValueError:
            report = None
        if report is None:
            raise exceptions.NotFound()
        return Response(UsageReportOutput(report).data)


def reports_for(access: Access):
    if access.is_licensee:
        return UsageReport.objects.filter(licensee=access.licensee)
    if access.is_staff:
        return UsageReport.objects.all()
    raise exceptions.PermissionDenied(_("Only licensees and staff read usage reports."))


def parse_period(value: str | None) -> dt.date:
    """A month from 2000-01 to the current one (Asia/Tokyo): usage is reported for months that have begun."""
    match = PERIOD_RE.fullmatch(value if isinstance(value, str) else "")
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
        raise ValidationError({"period": [_("A period is YYYY-MM, e.g. 2026-10.")]})
    period = dt.date(int(match[1]), int(match[2]), 1)
    if period > timezone.localdate().replace(day=1):
        raise ValidationError({"period": [_("A period is a month that has begun, not a later one.")]})
    return period


def refuse_declared_larger_than(request: Request, limit: int) -> None:
    """413 for a body whose Content-Length is over `limit`, before a byte of it is read."""
    declared = request.META.get("CONTENT_LENGTH")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_("The body is larger than %(n)d bytes.") % {"n": limit})


def read_body(request: Request) -> bytes:
    """The raw body, refusing more than USAGE_MAX_BODY_BYTES (413) without reading it all into memory first."""
    limit = settings.USAGE_MAX_BODY_BYTES
    refuse_declared_larger_than(request, limit)
    body = request._request.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(_("The body is larger than %(n)d bytes.") % {"n": limit})
    return body
