import datetime as dt
import logging

from celery import Task, chord, shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .engine import (
    PeriodBusy,
    RunRefused,
    late_reports_of,
    later_runs,
    refuse_closed,
    run_agreements,
    statement_run_assemble,
    statement_run_compute,
    statement_run_compute_part,
    usage_mark,
)
from .models import RunStatus, StatementRun
from .services import statement_run_create

logger = logging.getLogger(__name__)


class StatementRunTask(Task):
    """A run that fails says so (status failed, with the error) instead of staying queued or running."""

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        run_id = kwargs.get("run_id") or (args[0] if args else None)
        logger.error("statement run %s failed in task %s: %r", run_id, task_id, exc)
        if run_id:
            StatementRun.objects.filter(pk=run_id).exclude(status=RunStatus.DONE).update(
                status=RunStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
            )


def _busy_retry(task: Task, run: StatementRun, exc: PeriodBusy):
    """A run already under way, or delivered again after its worker was lost (the broker says so: its worker may
    have died before the run said it was running), that finds its period's lock held: the lost worker's session,
    which PostgreSQL ends within a second, or a run of the period still computing; tried again a little later
    rather than failed. A run not started yet is refused as before (two runs at once)."""
    redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
    if run.status != RunStatus.RUNNING and not redelivered and not task.request.retries:  # (a retry: tried before)
        raise exc
    return task.retry(exc=exc, countdown=settings.STATEMENT_RUN_BUSY_RETRY_SECONDS,
                      max_retries=settings.STATEMENT_RUN_BUSY_RETRIES)  # fmt: skip


@shared_task(base=StatementRunTask, name="payouts.compute_statement_run", acks_late=True, bind=True)
def compute_statement_run(self, run_id: str) -> None:
    """Idempotent: delivered again once the run is done, failed or final, it does nothing (a worker that stopped
    after the run's commit, before acknowledging it); while it is running (its worker stopped mid-run: the run's
    transaction left nothing), it computes it.

    With STATEMENT_RUN_PARTS above 1, a chord: that many workers compute the royalty lines of their share of the
    agreements side by side, then one assembles the statements and invoices."""
    run = StatementRun.objects.get(pk=run_id)
    if run.finalized_at is not None or run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
        return
    parts = settings.STATEMENT_RUN_PARTS
    if parts <= 1 or (run.status == RunStatus.RUNNING and not run.parts):
        # one worker; or a run one worker was computing when it stopped (STATEMENT_RUN_PARTS raised since)
        try:
            statement_run_compute(run=run)
        except PeriodBusy as exc:
            raise _busy_retry(self, run, exc) from None
        return
    with transaction.atomic():
        run = StatementRun.objects.select_for_update().get(pk=run_id)
        if run.status == RunStatus.RUNNING and run.parts:
            # delivered again after it was dispatched: the chord may never have been sent (the worker stopped
            # between this transaction's commit and sending it), so it is sent again, with the same parts. That is
            # harmless when the first one is under way: a part replaces its own lines, and the run is assembled once
            dealt = run.parts
        elif run.status != RunStatus.QUEUED:
            return  # done, failed or replaced
        else:
            refuse_closed(run.period)  # nothing staged for a run that could never be assembled
            if later_runs(run).exists():
                raise RunRefused(_("A later run of this period exists: this one is superseded."))
            run.late_reports = late_reports_of(run)  # fixed once, as the agreements
            agreements = run_agreements(run)  # fixed once, dealt out to the parts
            dealt = deal(agreements, parts)
            StatementRun.objects.filter(pk=run.pk).update(
                late_reports=run.late_reports, status=RunStatus.RUNNING, agreements_total=len(agreements),
                agreements_done=0, started_at=timezone.now(), error="", usage_mark=usage_mark(run.period),
                parts=dealt,
            )  # fmt: skip
        header = [compute_statement_run_part.si(run_id, part, ids) for part, ids in enumerate(dealt)]
        transaction.on_commit(lambda: chord(header)(assemble_statement_run.si(run_id)))


def deal(agreements: list, parts: int) -> list[list[str]]:
    """The agreements' ids dealt out to `parts` parts, the versions of one agreement (same licensee and reference,
    one contract: its guarantee, per_work pairs and late usage span them) always in the same part."""
    contracts: dict[tuple, list[str]] = {}
    for agreement in agreements:
        contracts.setdefault((agreement.licensee_id, agreement.reference), []).append(str(agreement.pk))
    dealt: list[list[str]] = [[] for _ in range(parts)]
    for index, ids in enumerate(contracts.values()):
        dealt[index % parts].extend(ids)
    return dealt


@shared_task(base=StatementRunTask, name="payouts.compute_statement_run_part", acks_late=True)
def compute_statement_run_part(run_id: str, part: int, agreement_ids: list[str]) -> int:
    run = StatementRun.objects.get(pk=run_id)
    return statement_run_compute_part(run=run, part=part, agreement_ids=agreement_ids)


@shared_task(base=StatementRunTask, name="payouts.assemble_statement_run", acks_late=True, bind=True)
def assemble_statement_run(self, run_id: str) -> None:
    run = StatementRun.objects.get(pk=run_id)
    if run.finalized_at is None:
        try:
            statement_run_assemble(run=run)
        except PeriodBusy as exc:  # a run of the period computing, finalizing, or a lost worker's session
            raise _busy_retry(self, run, exc) from None


@shared_task(name="payouts.monthly_statements")
def monthly_statements() -> str | None:
    """Scheduled on the 1st at 03:00 Asia/Tokyo (django-celery-beat, editable in the admin): the previous month, as
    the schedule's own time zone counts it (with DJANGO_TIME_ZONE=UTC, 03:00 in Tokyo on the 1st is still the last
    day of the month before in UTC)."""
    today = timezone.localdate(timezone=_schedule_zone())
    period = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    try:
        run = statement_run_create(period=period)
    except RunRefused as exc:
        logger.warning("monthly statements for %s: %s", period, exc)
        return None
    compute_statement_run.delay(str(run.pk))
    return str(run.pk)


def _schedule_zone():
    """The time zone of the monthly schedule's crontab (Asia/Tokyo as installed), or the service's."""
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.filter(task="payouts.monthly_statements", crontab__isnull=False, enabled=True)
    crontab = task.select_related("crontab").order_by("pk").first()
    return crontab.crontab.timezone if crontab is not None else timezone.get_current_timezone()
