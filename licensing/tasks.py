import datetime as dt
import logging

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from .usage import (
    PartitionBusy,
    usage_partitions_make,
    usage_report_fail,
    usage_report_process,
    usage_reports_requeue_stalled,
)

logger = logging.getLogger(__name__)


class UsageReportTask(Task):
    """When the task fails for good (an error that is not retried, or the retries spent), the report says so
    (status failed) instead of processing forever; the client polling it sends it again under a new key."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        report_id = kwargs.get("report_id") or (args[0] if args else None)
        logger.error("usage report %s failed in task %s: %r", report_id, task_id, exc)
        if report_id:
            usage_report_fail(report_id=report_id)


@shared_task(
    base=UsageReportTask, name="licensing.process_usage_report", acks_late=True,
    # the database gone for a moment (a restart, a failover): again later, 5 times at most, backing off
    autoretry_for=(OperationalError, InterfaceError), retry_backoff=10, retry_backoff_max=600, max_retries=5,
)  # fmt: skip
def process_usage_report(report_id: str) -> None:
    usage_report_process(report_id=report_id)


@shared_task(name="licensing.requeue_stalled_usage_reports")
def requeue_stalled_usage_reports(minutes: int = 15) -> int:
    """Scheduled (django-celery-beat, every 10 minutes, editable in the admin): see usage_reports_requeue_stalled."""
    return usage_reports_requeue_stalled(older_than=dt.timedelta(minutes=minutes))


@shared_task(
    name="licensing.make_usage_partitions",
    # the usage table held by a long DDL or VACUUM: again later rather than wait (the months are made ahead)
    autoretry_for=(PartitionBusy, OperationalError, InterfaceError), retry_backoff=60, max_retries=10,
)  # fmt: skip
def make_usage_partitions(months_ahead: int = 2) -> list[str]:
    """Scheduled (django-celery-beat, daily at 00:05 Asia/Tokyo, editable in the admin): usage_partitions_make."""
    return usage_partitions_make(months_ahead=months_ahead)
