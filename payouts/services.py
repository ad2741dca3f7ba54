"""Writes of the payouts app: statement runs (computed by payouts.engine) and their finalization."""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.locks import lock_within, xact_lock
from ledger.choices import AccountPurpose, OwnerType
from ledger.money import Money
from ledger.services import Entry, account_get_or_create, accounts_get_or_create_bulk, journal_post_bulk
from licensing.models import PeriodStatus, ReportingPeriod, Term, UsageReport
from licensing.usage import USAGE_CLOSE_LOCK

from .engine import PeriodBusy, RunRefused, last_day, later_runs, period_lock_key, refuse_closed, usage_mark
from .models import Invoice, RoyaltyStage, RunStatus, Statement, StatementRun, StatementStatus


def statement_run_create(*, period: dt.date, requested_by=None) -> StatementRun:
    """A queued run of a period (the Celery task computes it). RunRefused when the period is final or has not
    begun (Asia/Tokyo)."""
    if period > timezone.localdate().replace(day=1):
        raise RunRefused(_("%(period)s has not begun: a run computes a month that has begun.")
                         % {"period": f"{period:%Y-%m}"})  # fmt: skip
    refuse_closed(period)
    return StatementRun.objects.create(period=period, requested_by=requested_by)


def statement_run_finalize(*, run: StatementRun) -> StatementRun:
    """Make the run's statements and invoices final and post them to the ledger, in one transaction; the period
    becomes final. Idempotent: a second call, a duplicate delivery or a retry after a crash posts nothing twice
    (each posting has the idempotency key of its statement or invoice, and a finalized run is left as it is)."""
    with transaction.atomic():
        # a run of the same period computing right now, or another finalizing: waited for, up to a bound (a run
        # takes minutes: the request gets its answer, not the web worker's timeout)
        if not xact_lock(period_lock_key(run.period), timeout=settings.FINALIZE_WAIT_SECONDS / 2):
            raise PeriodBusy(
                _("%(period)s is being computed or made final right now: finalize when that is done.")
                % {"period": f"{run.period:%Y-%m}"}
            )
        run = StatementRun.objects.select_for_update().get(pk=run.pk)
        if run.finalized_at is not None:
            return run
        if run.status != RunStatus.DONE:
            raise RunRefused(_("Only a run that is done can be finalized."))
        _refuse_later_runs(run)  # before waiting for the reports being stored (a run refused meanwhile: failed)
        if timezone.localdate() <= last_day(run.period):  # its usage is still coming in
            raise RunRefused(
                _("%(period)s has not ended: its statements can be made final from %(date)s.")
                % {"period": f"{run.period:%Y-%m}", "date": last_day(run.period) + dt.timedelta(days=1)}
            )
        _close_usage()
        _refuse_later_runs(run)
        if Statement.objects.filter(period=run.period, status=StatementStatus.DRAFT).exclude(run=run).exists() or (
            Invoice.objects.filter(period=run.period, status=StatementStatus.DRAFT).exclude(run=run).exists()
        ):
            raise RunRefused(_("The period's drafts are not this run's: compute it again."))
        _refuse_out_of_order(run)
        if usage_mark(run.period) != run.usage_mark:
            raise RunRefused(_("Usage was reported for this period after the run computed it: compute it again."))
        if UsageReport.objects.filter(pk__in=run.late_reports, adjusted_in__isnull=False).exists():
            raise RunRefused(_("Late usage this run adjusts was adjusted by another run since: compute it again."))
        statements = list(Statement.objects.filter(run=run, status=StatementStatus.DRAFT))
        invoices = list(Invoice.objects.filter(run=run, status=StatementStatus.DRAFT))
        accounts = _Accounts()
        for currency in {s.currency for s in statements}:
            accounts.prefetch(AccountPurpose.RIGHTS_HOLDER_PAYABLE, currency, OwnerType.RIGHTS_HOLDER,
                              [s.rights_holder_id for s in statements if s.currency == currency])  # fmt: skip
        effective = last_day(run.period)
        entries = [e for e in (_statement_entry(s, accounts, effective) for s in statements) if e is not None]
        entries += [e for e in (_invoice_entry(i, accounts, effective) for i in invoices) if e is not None]
        if entries:
            journal_post_bulk(entries=entries)
        now = timezone.now()
        Statement.objects.filter(run=run, status=StatementStatus.DRAFT).update(
            status=StatementStatus.FINAL, finalized_at=now
        )
        Invoice.objects.filter(run=run, status=StatementStatus.DRAFT).update(
            status=StatementStatus.FINAL, finalized_at=now
        )
        # the late reports this run adjusted are done: never adjusted again
        UsageReport.objects.filter(pk__in=run.late_reports).update(adjusted_in=run.period)
        ReportingPeriod.objects.update_or_create(
            period=run.period, defaults={"status": PeriodStatus.FINAL, "finalized_at": now}
        )
        run.finalized_at = now
        run.save(update_fields=["finalized_at"])
        # lines staged by parts of runs of the period that were never assembled (failed, replaced): never will be
        RoyaltyStage.objects.filter(run__period=run.period).delete()
    return run


def _refuse_later_runs(run: StatementRun) -> None:
    later = later_runs(run).order_by("-created_at").first()
    if later is not None and later.status == RunStatus.DONE:
        raise RunRefused(_("A later run of this period exists: finalize that one."))
    if later is not None:
        raise RunRefused(_("A later run of this period is queued or running: finalize it when it is done."))


def _close_usage() -> None:
    """Wait for the usage reports being stored right now (licensing.usage.USAGE_CLOSE_LOCK), then hold new ones off
    until this transaction ends; RunRefused after FINALIZE_WAIT_SECONDS (a very large report still storing).

    For the first half of the wait it tries for the lock, which holds up no one; then it queues for it (new reports
    then wait behind it, for as long as the reports under way take): under a steady stream of overlapping reports
    trying alone would never get in."""
    wait = settings.FINALIZE_WAIT_SECONDS
    deadline = time.monotonic() + wait
    with connection.cursor() as cursor:
        while time.monotonic() < deadline - wait / 2:
            cursor.execute(f"SELECT pg_try_advisory_xact_lock({USAGE_CLOSE_LOCK})")
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    if not lock_within(f"SELECT pg_advisory_xact_lock({USAGE_CLOSE_LOCK})", [], deadline - time.monotonic()):
        raise RunRefused(_("Usage reports are being stored right now: finalize again when they are done."))


def _refuse_out_of_order(run: StatementRun) -> None:
    """Periods are final in order: recoupment, guarantees and carry-forward read the earlier final ones."""
    earlier_drafts = Statement.objects.filter(period__lt=run.period, status=StatementStatus.DRAFT).exists() or (
        Invoice.objects.filter(period__lt=run.period, status=StatementStatus.DRAFT).exists()
    )
    if earlier_drafts:
        raise RunRefused(_("An earlier period has draft statements: finalize it first."))
    latest = (
        ReportingPeriod.objects.filter(status=PeriodStatus.FINAL, period__lt=run.period)
        .order_by("-period").values_list("period", flat=True).first()
    )  # fmt: skip
    following = latest and (latest.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    if following and following != run.period:  # a month skipped: its fixed fees and guarantees never billed
        raise RunRefused(
            _("%(missing)s is not final: months become final one after the other.")
            % {"missing": following.strftime("%Y-%m")}
        )
    final = ReportingPeriod.objects.filter(status=PeriodStatus.FINAL).values("period")
    unbilled = (
        UsageReport.objects.filter(period__lt=run.period, late=False, events_accepted__gt=0)
        .exclude(period__in=final).order_by("period").values_list("period", flat=True).first()
    )  # fmt: skip
    if unbilled is not None:  # once this one is final, that month's usage could no longer be billed
        raise RunRefused(
            _("%(earlier)s has usage and is not final: compute and finalize it first.")
            % {"earlier": unbilled.strftime("%Y-%m")}
        )
    if ReportingPeriod.objects.filter(
        period__lt=run.period, status=PeriodStatus.FINAL, finalized_at__gt=run.finished_at
    ).exists():
        raise RunRefused(_("An earlier period became final after this run computed: compute it again."))


class _Accounts:
    """The ledger accounts of a finalization, each looked up once."""

    def __init__(self) -> None:
        self.cache: dict[tuple, object] = {}

    def prefetch(self, purpose: str, currency: str, owner_type: str, owner_ids) -> None:
        """The accounts of many owners for a purpose, found or created together (ledger.services)."""
        found = accounts_get_or_create_bulk(purpose=purpose, currency=currency, owner_type=owner_type,
                                            owner_ids=owner_ids)  # fmt: skip
        for owner_id, account in found.items():
            self.cache[(purpose, currency, owner_type, owner_id)] = account

    def __call__(self, purpose: str, currency: str, owner_type: str = OwnerType.PLATFORM, owner_id=None):
        key = (purpose, currency, owner_type, owner_id)
        if key not in self.cache:
            self.cache[key] = account_get_or_create(
                purpose=purpose, currency=currency, owner_type=owner_type, owner_id=owner_id
            )
        return self.cache[key]


def _entry(key: str, legs: list[tuple], currency: str, *, memo: str, effective: dt.date, cause_type: str,
           cause_id) -> Entry | None:  # fmt: skip
    legs = [(account, Money(amount, currency)) for account, amount in legs if amount]
    if len(legs) < 2:
        return None
    return Entry(idempotency_key=key, legs=legs, memo=memo, effective_date=effective, cause_type=cause_type,
                 cause_id=str(cause_id))  # fmt: skip


def _statement_entry(statement: Statement, accounts: _Accounts, effective: dt.date) -> Entry | None:
    """The holder's royalties out of the clearing account: commission kept, withholding tax held for the tax
    office, consumption tax paid to a registered holder (and claimed back), the rest owed to the holder.
    Debits: clearing gross + consumption tax; credits: commission + payable + withholding."""
    c, holder = statement.currency, statement.rights_holder_id
    owed = statement.net_royalties + statement.consumption_tax - statement.withholding_tax
    legs = [
        (accounts(AccountPurpose.ROYALTY_EXPENSE, c), statement.gross),
        (accounts(AccountPurpose.CONSUMPTION_TAX_RECEIVABLE, c), statement.consumption_tax),
        (accounts(AccountPurpose.COMMISSION_INCOME, c), -statement.commission),
        (accounts(AccountPurpose.RIGHTS_HOLDER_PAYABLE, c, OwnerType.RIGHTS_HOLDER, holder), -owed),
        (accounts(AccountPurpose.WITHHOLDING_TAX_ACCRUED, c), -statement.withholding_tax),
    ]
    return _entry(f"payouts:statement:{statement.pk}", legs, c, memo=f"statement {statement.period:%Y-%m}",
                  effective=effective, cause_type="statement", cause_id=statement.pk)  # fmt: skip


def _invoice_entry(invoice: Invoice, accounts: _Accounts, effective: dt.date) -> Entry | None:
    """What the licensee owes into the clearing account: receivable for the amount due, the advance used up."""
    c, licensee = invoice.currency, invoice.licensee_id
    legs = [
        (accounts(AccountPurpose.LICENSEE_RECEIVABLE, c, OwnerType.LICENSEE, licensee), invoice.amount_due),
        (accounts(AccountPurpose.LICENSEE_ADVANCE, c, OwnerType.LICENSEE, licensee), invoice.advance_recouped),
        (accounts(AccountPurpose.ROYALTY_EXPENSE, c), -invoice.royalties),
    ]
    return _entry(f"payouts:invoice:{invoice.pk}", legs, c, memo=f"invoice {invoice.period:%Y-%m}",
                  effective=effective, cause_type="invoice", cause_id=invoice.pk)  # fmt: skip


def advance_record_received(*, term, received_on: dt.date) -> bool:
    """A licensee's advance (an `advance` term) received in the bank: Dr bank, Cr the licensee's advance (a
    liability that recoupment then draws down). Once per term (its idempotency key); False if it was recorded."""

    if term.type != "advance":
        raise RunRefused(_("Only an advance term is received in advance."))
    key = f"payouts:advance:{term.pk}"
    agreement = term.agreement
    with transaction.atomic():
        # one contract's advances recorded one at a time (versions: below)
        xact_lock(f"payouts:advance:{agreement.licensee_id}:{agreement.reference}")
        return _advance_record(term, agreement, key, received_on)


def _advance_record(term, agreement, key: str, received_on: dt.date) -> bool:
    from ledger.models import JournalTransaction

    if JournalTransaction.objects.filter(idempotency_key=key).exists():
        return False
    versions = Term.objects.filter(
        type="advance", agreement__licensee_id=agreement.licensee_id, agreement__reference=agreement.reference
    ).exclude(pk=term.pk)
    if JournalTransaction.objects.filter(idempotency_key__in=[f"payouts:advance:{t.pk}" for t in versions]).exists():
        # a new version copies the advance term: it is the same advance, received once
        raise RunRefused(_("This agreement's advance was recorded as received under another version of it."))
    currency, licensee = agreement.currency, agreement.licensee_id
    accounts = _Accounts()
    legs = [
        (accounts(AccountPurpose.BANK, currency), term.amount),
        (accounts(AccountPurpose.LICENSEE_ADVANCE, currency, OwnerType.LICENSEE, licensee), -term.amount),
    ]
    entry = _entry(key, legs, currency, memo=f"advance {agreement.reference}", effective=received_on,
                   cause_type="advance", cause_id=term.pk)  # fmt: skip
    journal_post_bulk(entries=[entry])
    return True
