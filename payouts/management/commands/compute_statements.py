"""python manage.py compute_statements --period 2026-10 [--finalize]: the statement job, synchronously."""

from __future__ import annotations

import datetime as dt
import re

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from payouts.engine import RunRefused, statement_run_compute
from payouts.models import RunStatus, StatementRun
from payouts.services import statement_run_create, statement_run_finalize


class Command(BaseCommand):
    help = "Compute a period's statements and invoices (draft), and optionally finalize them (ledger postings)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--period", required=True, help="YYYY-MM")
        parser.add_argument("--finalize", action="store_true", help="make them final and post them to the ledger")

    def handle(self, *args, period: str, finalize: bool, **options) -> None:
        match = re.fullmatch(r"(\d{4})-(\d{2})", period)
        if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
            raise CommandError("--period is YYYY-MM, e.g. 2026-10")
        try:
            run = statement_run_create(period=dt.date(int(match[1]), int(match[2]), 1))
        except RunRefused as exc:
            raise CommandError(str(exc)) from None
        try:
            run = statement_run_compute(run=run)
            if finalize:
                run = statement_run_finalize(run=run)
        except Exception as exc:  # the run says it failed rather than stay queued; the command exits non-zero
            StatementRun.objects.filter(pk=run.pk).exclude(status=RunStatus.DONE).update(
                status=RunStatus.FAILED, error=str(exc)[:2000], finished_at=timezone.now()
            )
            raise CommandError(str(exc)) from None
        statements = run.statements.count()
        self.stdout.write(
            f"{run.period:%Y-%m}: {run.agreements_done} agreements, {statements} statements, "
            f"{run.lines_written} lines, {run.invoices.count()} invoices"
            + (" (final, posted to the ledger)" if finalize else " (draft)")
        )
