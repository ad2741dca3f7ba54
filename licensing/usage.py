"""Usage report services: idempotent by key, processed at once or, when large, by a Celery task."""

from __future__ import annotations

import datetime as dt
import gzip
from dataclasses import dataclass

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import ingest
from .models import Licensee, PeriodStatus, ReportingPeriod, ReportStatus, UsageReport, UsageReportPayload


class IdempotencyConflict(Exception):
    """The key was used before for another body."""


@dataclass
class Outcome:
    report: UsageReport
    replay: bool  # the original answer again: nothing was stored this time


# Storing usage and closing periods exclude each other: a report's events are stored holding this lock shared (their
# `late` flag read under it), a finalization takes it exclusively (payouts.services). So a report either commits
# before the period closes (and the finalization sees its events: "usage reported after the run") or reads the
# period closed and is flagged late (adjusted in the next open period); none lands unbilled in a final period.
USAGE_CLOSE_LOCK = "hashtextextended('rights-ledger:usage-close', 0)"


def period_closed(period: dt.date) -> bool:
    """Usage of the period is late: its statements are final, or a later period's are (periods become final in
    order, so a month never computed before a later one became final is closed too) (RULES.md 8)."""
    return ReportingPeriod.objects.filter(period__gte=period, status=PeriodStatus.FINAL).exists()


class PartitionBusy(Exception):
    """The month's partition could not be made within USAGE_PARTITION_LOCK_TIMEOUT: try again shortly."""


def ensure_partition(period: dt.date) -> None:
    """The month's partition, in its own short transaction when possible. The scheduled make_usage_partitions
    makes the coming months' ahead; making one here (a month long past or far ahead) waits for its locks at most
    USAGE_PARTITION_LOCK_TIMEOUT, then gives up (PartitionBusy) rather than queue other users of the usage table
    behind it."""
    _make_partitions(period, 0, settings.USAGE_PARTITION_LOCK_TIMEOUT)


def usage_partitions_make(*, months_ahead: int = 2) -> list[str]:
    """This month's usage partition (Asia/Tokyo) and the next `months_ahead` months', those missing made
    (scheduled daily): the first report of a month finds its partition there. PartitionBusy as ensure_partition."""
    return _make_partitions(timezone.localdate().replace(day=1), months_ahead, settings.USAGE_PARTITION_LOCK_TIMEOUT)


def _make_partitions(first: dt.date, months_ahead: int, wait: str) -> list[str]:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT licensing_usage_partition((%s::date + m * interval '1 month')::date, %s)"
                " FROM generate_series(0, %s) m ORDER BY m", [first, wait, months_ahead],
            )  # fmt: skip
            return [row[0] for row in cursor.fetchall()]
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        raise PartitionBusy(_("The usage table is busy; send the report again in a few seconds.")) from None


def usage_report_ingest(
    *, licensee: Licensee, period: dt.date, idempotency_key: str, body: bytes, content_type: str,
    content_encoding: str = "",
) -> Outcome:  # fmt: skip
    """Store a report's events (or queue them when the report is large). Same key and body: the original report,
    nothing stored twice, also under concurrent retries. Same key, other body: IdempotencyConflict.
    A body that cannot be read at all, or holds too many events, raises ingest.BodyError before anything is stored."""
    data = ingest.decompress(body, content_encoding)
    digest = ingest.body_hash(data, content_type)
    ingest.check_body(data, content_type)  # not a report, or too many events: before a key is spent on it
    ensure_partition(period)
    with transaction.atomic():
        report = _claim(licensee, period, idempotency_key, digest)
        if report is None:
            existing = UsageReport.objects.get(licensee=licensee, idempotency_key=idempotency_key)
            if existing.body_sha256 != digest or existing.period != period:
                raise IdempotencyConflict(_("This Idempotency-Key was already used for a different report."))
            return Outcome(existing, replay=True)
        if len(data) > settings.USAGE_ASYNC_THRESHOLD_BYTES:
            UsageReportPayload.objects.create(
                report=report, content_type=content_type, body_gzip=gzip.compress(data, compresslevel=1)
            )
            from .tasks import process_usage_report

            transaction.on_commit(lambda: process_usage_report.delay(str(report.pk)))
            return Outcome(report, replay=False)
        _process(report, data, content_type)
    return Outcome(report, replay=False)


def _claim(licensee: Licensee, period: dt.date, key: str, digest: str) -> UsageReport | None:
    """Insert the report row, or None when the key exists. A concurrent identical request waits here for the first
    one to commit (the unique index), then finds its report."""
    late = period_closed(period)  # as it stands now; decided again when the events are stored
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO licensing_usagereport (id, licensee_id, period, idempotency_key, body_sha256, status, late,
                events_received, events_accepted, events_rejected, events_unlicensed, errors, failure, created_at)
            VALUES (gen_random_uuid(), %s, %s, %s, %s, 'processing', %s, 0, 0, 0, 0, '[]', '', now())
            ON CONFLICT (licensee_id, idempotency_key) DO NOTHING
            RETURNING id
            """,
            [licensee.pk, period, key, digest, late],
        )
        row = cursor.fetchone()
    return UsageReport.objects.get(pk=row[0]) if row else None


def _process(report: UsageReport, data: bytes, content_type: str) -> None:
    licensee = report.licensee
    try:
        with transaction.atomic():  # a body found unreadable half-way leaves none of its chunks stored
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_xact_lock_shared({USAGE_CLOSE_LOCK})")
            late = period_closed(report.period)
            if late != report.late:  # the period closed since the report was received (a large one, queued)
                report.late = late
                report.save(update_fields=["late"])
            result = ingest.ingest(
                data, content_type, period=report.period, default_territory=licensee.country, report_id=report.pk,
                licensee_id=licensee.pk, late=report.late,
            )  # fmt: skip
    except ingest.BodyError as exc:  # check_body passed it, so rare: found half-way (nothing of it is stored)
        _fail(report, str(exc))
        return
    _finish(
        report,
        received=result.received,
        accepted=result.accepted,
        rejected=result.rejected,
        unlicensed=result.unlicensed,
        errors=[{"line": line, "message": message} for line, message in result.errors],
    )


def _finish(report: UsageReport, *, received, accepted, rejected, unlicensed, errors) -> None:
    report.events_received = received
    report.events_accepted = accepted
    report.events_rejected = rejected
    report.events_unlicensed = unlicensed
    report.errors = errors
    report.status = ReportStatus.REJECTED if accepted == 0 and errors else ReportStatus.ACCEPTED
    report.completed_at = timezone.now()
    report.save(update_fields=["events_received", "events_accepted", "events_rejected", "events_unlicensed",
                               "errors", "status", "completed_at"])  # fmt: skip


def _fail(report: UsageReport, failure: str) -> None:
    report.status = ReportStatus.FAILED
    report.failure = failure
    report.events_received = report.events_accepted = report.events_rejected = report.events_unlicensed = 0
    report.errors = []
    report.completed_at = timezone.now()
    report.save(update_fields=["status", "failure", "events_received", "events_accepted", "events_rejected",
                               "events_unlicensed", "errors", "completed_at"])  # fmt: skip


def usage_report_fail(*, report_id, failure: str = "") -> bool:
    """A report whose background processing failed for good (the task's retries spent): status failed, nothing of
    it stored, its body kept so that staff can process it again. False when it was no longer processing."""
    with transaction.atomic():
        report = UsageReport.objects.select_for_update().filter(pk=report_id).first()
        if report is None or report.status != ReportStatus.PROCESSING:
            return False
        _fail(report, failure or _("The report could not be processed. Send it again with a new Idempotency-Key."))
    return True


def usage_report_process_again(*, report: UsageReport) -> bool:
    """Staff: queue a failed report again (its body was kept). False when it is not failed or has no body."""
    from .tasks import process_usage_report

    with transaction.atomic():
        report = UsageReport.objects.select_for_update().get(pk=report.pk)
        if report.status != ReportStatus.FAILED or not UsageReportPayload.objects.filter(report=report).exists():
            return False
        report.status, report.failure, report.completed_at = ReportStatus.PROCESSING, "", None
        report.save(update_fields=["status", "failure", "completed_at"])
        transaction.on_commit(lambda: process_usage_report.delay(str(report.pk)))
    return True


def usage_reports_requeue_stalled(*, older_than: dt.timedelta) -> int:
    """Queue again the reports still processing, with their body, received longer ago than `older_than`: a task
    lost before it reached the broker (the process stopped between COMMIT and delay()). Safe when the first task
    is merely slow: processing takes the report's row lock and does nothing for a report no longer processing."""
    from .tasks import process_usage_report

    stalled = list(
        UsageReport.objects.filter(
            status=ReportStatus.PROCESSING, created_at__lt=timezone.now() - older_than, payload__isnull=False
        ).values_list("pk", flat=True)
    )
    for report_id in stalled:
        process_usage_report.delay(str(report_id))
    return len(stalled)


def usage_report_process(*, report_id) -> None:
    """The Celery task's work: idempotent (a report is processed once; a redelivered task finds it done), and
    atomic (a worker killed mid-way leaves nothing behind, and the redelivery starts again)."""
    with transaction.atomic():
        report = UsageReport.objects.select_for_update().select_related("licensee").filter(pk=report_id).first()
        if report is None or report.status != ReportStatus.PROCESSING:
            return
        payload = UsageReportPayload.objects.filter(report=report).first()
        if payload is None:
            return
        _process(report, gzip.decompress(bytes(payload.body_gzip)), payload.content_type)
        payload.delete()
