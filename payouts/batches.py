"""Writes of payouts after statements (RULES.md, Zengin transfer file; Ledger): payout batches, their bank files,
their confirmation as paid and transfers the bank returned.

The money moves through the ledger in two steps. Finalizing a statement credits the holder's payable and the
withholding tax *accrued* (payouts.services). Paying it, here, debits the payable against the bank and moves the
withholding from accrued to *payable to the tax office*: Japanese withholding falls due with the payment (by the
10th of the following month), not with the statement. A returned transfer reverses that payment exactly.

Every step is one database transaction, keyed so that a second click, a retried request or a duplicate delivery
posts nothing twice, and leaves an append-only PayoutEvent (the audit history).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.locks import xact_lock
from ledger.choices import AccountPurpose, OwnerType
from ledger.models import JournalTransaction
from ledger.money import Money, MoneyError, validate_currency
from ledger.services import journal_post_bulk, journal_reverse
from licensing.choices import AccountType

from . import zengin
from .documents import _csv as documents_csv
from .models import (
    BatchStatus,
    ItemStatus,
    PayoutBatch,
    PayoutEvent,
    PayoutEventKind,
    PayoutItem,
    Statement,
    StatementStatus,
)
from .services import _Accounts, _entry

MAX_REASON = 500


class PayoutRefused(Exception):
    """The batch or item is not in a state that allows this (API: 409; admin: an error message)."""


class PayoutInvalid(ValueError):
    """Input or data that cannot be used, with every problem (API: 400 naming each field; admin: each one shown).
    `problems` is a list, or a dict field → list of messages for the input's fields."""

    def __init__(self, problems: list[str] | dict[str, list[str]]):
        self.by_field = dict(problems) if isinstance(problems, dict) else {"problems": list(problems)}
        self.problems = [message for messages in self.by_field.values() for message in messages]
        super().__init__("; ".join(self.problems))


def _event(batch: PayoutBatch, kind: str, actor, item: PayoutItem | None = None, **detail) -> PayoutEvent:
    actor = actor if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) else None
    return PayoutEvent.objects.create(batch=batch, item=item, kind=kind, actor=actor, detail=detail)


# creating ---------------------------------------------------------------------------------------------------------
# A statement c carried into s: the same holder and currency, earlier, final, carried forward, not yet paid, and no
# statement between them that was not carried forward (each statement carries only the payable of the one before it,
# and only when that one was carried forward: payouts.engine._carried_in).
CARRIED_INTO = """c.status = 'final' AND c.carried_out AND c.payout_id IS NULL
              AND NOT EXISTS (SELECT 1 FROM payouts_statement m
                               WHERE m.rights_holder_id = c.rights_holder_id AND m.currency = c.currency
                                 AND m.period > c.period AND m.period < {s}.period AND NOT m.carried_out)"""

# The final statements to pay: not carried forward, not held by another batch, with what was withheld from them and
# from the statements carried into them.
_CANDIDATES = """
SELECT s.id, s.rights_holder_id, s.payable,
       s.withholding_tax + coalesce((
           SELECT sum(c.withholding_tax) FROM payouts_statement c
            WHERE c.rights_holder_id = s.rights_holder_id AND c.currency = s.currency AND c.period < s.period
              AND {carried_into_s}), 0) AS withholding,
       h.name, h.bank_code, h.branch_code, h.account_type, h.account_number, h.account_holder_kana
  FROM payouts_statement s
  JOIN licensing_rightsholder h ON h.id = s.rights_holder_id
 WHERE s.currency = %(currency)s AND s.status = 'final' AND NOT s.carried_out AND s.payable > 0
   AND NOT EXISTS (SELECT 1 FROM payouts_payoutitem i
                    WHERE i.statement_id = s.id AND i.status IN ('included', 'paid'))
 ORDER BY h.name, s.rights_holder_id, s.period
""".replace("{carried_into_s}", CARRIED_INTO.replace("{s}", "s"))


def _blocked_reason(currency: str, row: tuple) -> str:
    _id, _holder, payable, _wht, name, bank_code, branch_code, account_type, account_number, kana = row
    if bank_code is None:
        return _("No bank account on record for %(holder)s.") % {"holder": name}
    if currency != "JPY":
        return ""
    payee = zengin.Payee(label=name, bank_code=bank_code, bank_name="", branch_code=branch_code, branch_name="",
                         account_type=account_type, account_number=account_number, name=kana or "",
                         amount=payable)  # fmt: skip
    problems = zengin.validate(_NO_REQUESTER, [payee])
    return " ".join(problems)


# validate() checks the requester too: a valid placeholder so that only the payee's problems are reported here
_NO_REQUESTER = zengin.Requester(code="0000000000", name="X", bank_code="0000", bank_name="", branch_code="000",
                                 branch_name="", account_type="ordinary", account_number="0000000")  # fmt: skip


def batch_input_problems(currency, pay_date) -> dict[str, list[str]]:
    """What is wrong with a batch's currency and pay date (the transfer date: today up to a year ahead), by field."""
    problems: dict[str, list[str]] = {}
    try:
        validate_currency(currency if isinstance(currency, str) else "")
    except MoneyError as exc:
        problems["currency"] = [str(exc)]
    today = timezone.localdate()
    if not isinstance(pay_date, dt.date):
        problems["pay_date"] = [_("The pay date must be a date (YYYY-MM-DD).")]
    elif pay_date < today:
        problems["pay_date"] = [_("The pay date %(date)s is in the past.") % {"date": pay_date.isoformat()}]
    elif pay_date > today + dt.timedelta(days=366):
        problems["pay_date"] = [_("The pay date %(date)s is more than a year ahead.") % {"date": pay_date.isoformat()}]
    return problems


def due_statements_exist(currency: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS ({_CANDIDATES.split('ORDER BY')[0]})", {"currency": currency})
        return cursor.fetchone()[0]


class IdempotencyConflict(PayoutRefused):
    """The Idempotency-Key was used for another request."""


def _replay(key: str, digest: str) -> PayoutBatch | None:
    earlier = PayoutBatch.objects.filter(idempotency_key=key).first()
    if earlier is not None and earlier.request_digest != digest:
        raise IdempotencyConflict(_("This Idempotency-Key was already used for a different payout batch."))
    return earlier


def payout_batch_create(*, currency: str, pay_date: dt.date, created_by=None,
                        idempotency_key: str | None = None) -> PayoutBatch:  # fmt: skip
    """A batch of the currency's final, unpaid statements that are due (not carried forward below the minimum
    payout), each with its holder's bank account as it is now; a holder without a usable account is listed as
    blocked with the reason. PayoutInvalid for bad input, PayoutRefused when there is nothing to pay.

    With an `idempotency_key`, the same request again (a retry after a lost answer) returns the batch it created,
    whatever happened since; the same key with another currency or pay date is IdempotencyConflict."""
    digest = hashlib.sha256(f"{currency}|{pay_date}".encode()).hexdigest()
    with transaction.atomic():
        if idempotency_key is not None:  # first: a retry the next day is the original answer, not "in the past"
            xact_lock(f"payouts:batch-key:{idempotency_key}")  # retries at once: one creates, the others replay it
            earlier = _replay(idempotency_key, digest)
            if earlier is not None:
                return earlier
        problems = batch_input_problems(currency, pay_date)
        if problems:
            raise PayoutInvalid(problems)
        return _create(currency, pay_date, created_by, idempotency_key, digest)


def _create(currency: str, pay_date: dt.date, created_by, idempotency_key: str | None, digest: str) -> PayoutBatch:
    try:
        with transaction.atomic():
            xact_lock(f"payouts:batch:{currency}")  # two creations at once: the second sees what the first took
            with connection.cursor() as cursor:
                cursor.execute(_CANDIDATES, {"currency": currency})
                rows = cursor.fetchall()
            if not rows:
                raise PayoutRefused(
                    _("No final, unpaid statement in %(currency)s is due for payment.") % {"currency": currency}
                )
            reasons = [_blocked_reason(currency, row) for row in rows]
            if all(reasons):
                raise PayoutRefused(
                    _("Nothing to transfer: every statement due in %(currency)s is blocked. %(reasons)s")
                    % {"currency": currency, "reasons": " ".join(dict.fromkeys(reasons))}
                )
            batch = PayoutBatch.objects.create(currency=currency, pay_date=pay_date, created_by=_user(created_by),
                                               idempotency_key=idempotency_key, request_digest=digest)  # fmt: skip
            items = []
            for row, reason in zip(rows, reasons, strict=True):
                statement_id, holder_id, payable, withholding, _name, bank, branch, kind, number, kana = row
                items.append(
                    PayoutItem(
                        batch=batch,
                        statement_id=statement_id,
                        rights_holder_id=holder_id,
                        currency=currency,
                        amount=payable,
                        withholding_tax=withholding,
                        status=ItemStatus.BLOCKED if reason else ItemStatus.INCLUDED,
                        blocked_reason=reason,
                        bank_code=bank or "",
                        branch_code=branch or "",
                        account_type=kind or "",
                        account_number=number or "",
                        account_holder_kana=kana or "",
                    )
                )
            PayoutItem.objects.bulk_create(items, batch_size=2000)
            included = [i for i in items if i.status == ItemStatus.INCLUDED]
            batch.transfers = len(included)
            batch.total = sum(i.amount for i in included)
            batch.blocked = len(items) - len(included)
            batch.save(update_fields=["transfers", "total", "blocked"])
            _event(batch, PayoutEventKind.CREATED, created_by, transfers=batch.transfers,
                   total=_money(batch.total, currency), blocked=batch.blocked,
                   pay_date=pay_date.isoformat())  # fmt: skip
    except IntegrityError as exc:  # a statement taken meanwhile by a batch made without the lock (raw SQL)
        raise PayoutRefused(_("Another batch holds some of these statements: try again.")) from exc
    return batch


def _user(user):
    return user if getattr(user, "is_authenticated", False) and getattr(user, "pk", None) else None


def _money(amount: int, currency: str) -> str:
    return Money(amount, currency).to_string()


# exporting --------------------------------------------------------------------------------------------------------
def _included(batch: PayoutBatch) -> list[PayoutItem]:
    return list(batch.items.filter(status=ItemStatus.INCLUDED).select_related("rights_holder", "statement")
                .order_by("rights_holder__name", "rights_holder_id", "statement__period"))  # fmt: skip


def payees(batch: PayoutBatch, items: list[PayoutItem]) -> list[zengin.Payee]:
    return [
        zengin.Payee(
            label=item.rights_holder.name,
            bank_code=item.bank_code,
            bank_name="",
            branch_code=item.branch_code,
            branch_name="",
            account_type=item.account_type,
            account_number=item.account_number,
            name=item.account_holder_kana,
            amount=item.amount,
        )
        for item in items
    ]


def payout_batch_problems(batch: PayoutBatch) -> list[str]:
    """What would stop the export, all of it (shown before anything is exported)."""
    items = _included(batch)
    if not items:
        return [_("Nothing to transfer: every statement of this batch is blocked.")]
    if batch.currency != "JPY":
        return []
    try:
        requester = zengin.requester_from_settings()
    except zengin.ZenginError as exc:
        return exc.problems
    return zengin.validate(requester, payees(batch, items))


def payout_batch_export(*, batch: PayoutBatch, actor=None) -> tuple[str, str, bytes]:
    """The batch's transfer file: Zengin 総合振込 for JPY (one file, or a zip of files of at most 9,999 transfers),
    a CSV transfer list for other currencies. Each download is recorded (who, when, the file's SHA-256); the first
    makes the batch `exported`. PayoutInvalid lists every problem, before anything is written."""
    with transaction.atomic():
        batch = PayoutBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status == BatchStatus.CANCELLED:
            raise PayoutRefused(_("This batch is cancelled."))
        if batch.status == BatchStatus.CONFIRMED:  # its file was used: another copy could be sent and paid again
            raise PayoutRefused(_("This batch is confirmed as paid: its transfer file is not issued again."))
        problems = payout_batch_problems(batch)
        if problems:
            raise PayoutInvalid(problems)
        items = _included(batch)
        stem = f"payouts-{batch.pay_date:%Y%m%d}-{batch.currency}-{str(batch.pk)[:8]}"
        if batch.currency == "JPY":
            try:
                files = zengin.build_files(zengin.requester_from_settings(), batch.pay_date, payees(batch, items))
            except zengin.ZenginError as exc:
                raise PayoutInvalid(exc.problems) from exc
            filename, content_type, content = zengin.package(files, f"zengin-{stem[len('payouts-') :]}")
            count = len(files)
        else:
            filename, content_type, content = f"{stem}.csv", "text/csv; charset=utf-8", transfer_list_csv(batch, items)
            count = 1
        if batch.status == BatchStatus.DRAFT:
            batch.status = BatchStatus.EXPORTED
            batch.exported_at = timezone.now()
            batch.save(update_fields=["status", "exported_at"])
        _event(batch, PayoutEventKind.EXPORTED, actor, filename=filename, sha256=hashlib.sha256(content).hexdigest(),
               bytes=len(content), files=count, transfers=len(items),
               total=_money(sum(i.amount for i in items), batch.currency))  # fmt: skip
    return filename, content_type, content


def transfer_list_csv(batch: PayoutBatch, items: list[PayoutItem]) -> bytes:
    """Transfers in a currency other than JPY, for the bank's own upload or a person: UTF-8 with a BOM."""
    rows = [[_("Reference"), _("Rights holder"), _("Account holder"), _("Bank code"), _("Branch code"),
             _("Account type"), _("Account number"), _("Amount"), _("Currency"), _("Pay date"), _("Statement"),
             _("Period")]]  # fmt: skip
    for item in items:
        kind = AccountType(item.account_type).label if item.account_type in AccountType.values else item.account_type
        rows.append([item.pk, item.rights_holder.name, item.account_holder_kana, item.bank_code, item.branch_code,
                     kind, item.account_number, _money(item.amount, item.currency), item.currency,
                     batch.pay_date.isoformat(), item.statement_id, f"{item.statement.period:%Y-%m}"])  # fmt: skip
    rows.append([_("Total"), "", "", "", "", "", "", _money(sum(i.amount for i in items), batch.currency),
                 batch.currency, "", "", ""])  # fmt: skip
    return documents_csv(rows)


# confirming -------------------------------------------------------------------------------------------------------
# each item's statement, and the earlier statements carried into it, are paid by it
_PAY_STATEMENTS = """
UPDATE payouts_statement c SET status = 'paid', paid_at = %(now)s, payout_id = i.id
  FROM payouts_payoutitem i JOIN payouts_statement p ON p.id = i.statement_id
 WHERE i.id = ANY(%(ids)s) AND c.payout_id IS NULL
   AND (c.id = p.id OR (c.rights_holder_id = p.rights_holder_id AND c.currency = p.currency AND c.period < p.period
                        AND {carried_into_p}))
""".replace("{carried_into_p}", CARRIED_INTO.replace("{s}", "p"))


def _payment_key(item_id) -> str:
    return f"payouts:payout:{item_id}"


def payout_batch_confirm(*, batch: PayoutBatch, actor=None) -> PayoutBatch:
    """The bank made the transfers: per item, Dr the holder's payable and Cr the bank for the amount, and the
    withholding moves from accrued to payable to the tax office, dated the pay date; the statements paid (each
    with those carried into it) become `paid`. Confirming again, or a retry after a crash, posts nothing twice."""
    with transaction.atomic():
        batch = PayoutBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status == BatchStatus.CONFIRMED:
            return batch
        if batch.status == BatchStatus.CANCELLED:
            raise PayoutRefused(_("This batch is cancelled."))
        if batch.status != BatchStatus.EXPORTED:
            raise PayoutRefused(_("Export the transfer file before confirming the batch."))
        if batch.pay_date > timezone.localdate():
            raise PayoutRefused(
                _("The transfers are due on %(date)s: confirm them once the bank has made them.")
                % {"date": batch.pay_date.isoformat()}
            )
        items = list(batch.items.filter(status=ItemStatus.INCLUDED).order_by("rights_holder_id", "statement__period"))
        accounts = _Accounts()
        c = batch.currency
        accounts.prefetch(AccountPurpose.RIGHTS_HOLDER_PAYABLE, c, OwnerType.RIGHTS_HOLDER,
                          [item.rights_holder_id for item in items])  # fmt: skip
        entries = []
        for item in items:
            legs = [
                (accounts(AccountPurpose.RIGHTS_HOLDER_PAYABLE, c, OwnerType.RIGHTS_HOLDER, item.rights_holder_id),
                 item.amount),
                (accounts(AccountPurpose.BANK, c), -item.amount),
                (accounts(AccountPurpose.WITHHOLDING_TAX_ACCRUED, c), item.withholding_tax),
                (accounts(AccountPurpose.WITHHOLDING_TAX_PAYABLE, c), -item.withholding_tax),
            ]  # fmt: skip
            entries.append(_entry(_payment_key(item.pk), legs, c, memo=f"payout {batch.pay_date}",
                                  effective=batch.pay_date, cause_type="payout", cause_id=item.pk))  # fmt: skip
        journal_post_bulk(entries=entries)
        now = timezone.now()
        ids = [item.pk for item in items]
        PayoutItem.objects.filter(pk__in=ids).update(status=ItemStatus.PAID, paid_at=now)
        with connection.cursor() as cursor:
            # each item's statement, and the earlier statements carried into it, are paid by it
            cursor.execute(
                _PAY_STATEMENTS,
                {"now": now, "ids": ids},
            )
        batch.status = BatchStatus.CONFIRMED
        batch.confirmed_at = now
        batch.save(update_fields=["status", "confirmed_at"])
        _event(batch, PayoutEventKind.CONFIRMED, actor, transfers=len(items),
               total=_money(sum(i.amount for i in items), c),
               withholding_tax=_money(sum(i.withholding_tax for i in items), c))  # fmt: skip
    return batch


def payout_batch_cancel(
    *, batch: PayoutBatch, actor=None, file_not_sent: bool = False, reason: str = ""
) -> PayoutBatch:
    """A batch not confirmed is dropped and its statements released for another batch. Once its file was exported,
    only with the word of the person cancelling that the file was not sent to the bank (`file_not_sent`) and why:
    released statements go into the next batch, and a file the bank already has would pay them twice. Once the bank
    may have paid, confirm the batch and record returned transfers instead."""
    reason = reason.strip() if isinstance(reason, str) else ""
    with transaction.atomic():
        batch = PayoutBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status == BatchStatus.CANCELLED:
            return batch
        if batch.status == BatchStatus.CONFIRMED:
            raise PayoutRefused(_("A confirmed batch cannot be cancelled: record returned transfers instead."))
        if batch.status == BatchStatus.EXPORTED:
            problems = {}
            if file_not_sent is not True:
                problems["file_not_sent"] = [
                    _("This batch's file was exported: cancel it only if the file was not sent to the bank, and say "
                      "so (file_not_sent).")
                ]  # fmt: skip
            if not reason:
                problems["reason"] = [_("Say why an exported batch is cancelled.")]
            elif len(reason) > MAX_REASON:
                problems["reason"] = [_("The reason is longer than %(n)d characters.") % {"n": MAX_REASON}]
            if problems:
                raise PayoutInvalid(problems)
        batch.items.filter(status=ItemStatus.INCLUDED).update(status=ItemStatus.CANCELLED)
        was_exported = batch.status == BatchStatus.EXPORTED
        batch.status = BatchStatus.CANCELLED
        batch.cancelled_at = timezone.now()
        batch.save(update_fields=["status", "cancelled_at"])
        _event(batch, PayoutEventKind.CANCELLED, actor, transfers=batch.transfers, exported=was_exported,
               file_not_sent=was_exported, reason=reason)  # fmt: skip
    return batch


# withholding tax remitted ---------------------------------------------------------------------------------------------
def withholding_remittance_record(*, month: dt.date, currency: str, paid_on: dt.date, actor=None) -> JournalTransaction:
    """The income tax withheld from the month's payments is paid to the tax office: Dr withholding tax payable, Cr
    bank, for the month's withheld tax less returned transfers (payouts.reports), dated the day it was paid. Once
    per month and currency: PayoutRefused if recorded already or nothing is due."""
    from .reports import withholding_report

    problems: dict[str, list[str]] = {}
    try:
        currency = validate_currency(currency if isinstance(currency, str) else "")
    except MoneyError as exc:
        problems["currency"] = [str(exc)]
    month = month.replace(day=1) if isinstance(month, dt.date) else None
    if month is None:
        problems["month"] = [_("A month is YYYY-MM, e.g. 2026-10.")]
    if not isinstance(paid_on, dt.date):
        problems["paid_on"] = [_("The payment date must be a date (YYYY-MM-DD).")]
    elif paid_on > timezone.localdate():
        problems["paid_on"] = [_("The payment date %(date)s is in the future.") % {"date": paid_on.isoformat()}]
    elif month is not None and paid_on < (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1):
        problems["paid_on"] = [_("A month's withholding tax is paid once the month is over.")]
    if problems:
        raise PayoutInvalid(problems)
    key = f"payouts:remittance:{currency}:{month:%Y-%m}"
    with transaction.atomic():
        xact_lock(key)
        if JournalTransaction.objects.filter(idempotency_key=key).exists():
            raise PayoutRefused(_("The withholding tax of %(month)s is already recorded as paid.")
                                % {"month": f"{month:%Y-%m}"})  # fmt: skip
        row = next((m for m in withholding_report(start=month, end=month).months if m.currency == currency), None)
        due = row.net - row.remitted if row else 0
        if due <= 0:
            raise PayoutRefused(_("No withholding tax of %(month)s in %(currency)s is due.")
                                % {"month": f"{month:%Y-%m}", "currency": currency})  # fmt: skip
        accounts = _Accounts()
        legs = [(accounts(AccountPurpose.WITHHOLDING_TAX_PAYABLE, currency), due),
                (accounts(AccountPurpose.BANK, currency), -due)]  # fmt: skip
        by = f" ({actor.get_username()})" if _user(actor) else ""
        entry = _entry(key, legs, currency, memo=f"withholding tax {month:%Y-%m} paid{by}", effective=paid_on,
                       cause_type="remittance", cause_id=f"{currency}:{month:%Y-%m}")  # fmt: skip
        (txn_id,) = journal_post_bulk(entries=[entry])
    return JournalTransaction.objects.get(pk=txn_id)


# returns ------------------------------------------------------------------------------------------------------------
def payout_item_return(*, item: PayoutItem, reason: str, returned_on: dt.date | None = None,
                       actor=None) -> PayoutItem:  # fmt: skip
    """The bank returned one transfer (closed account, wrong name...): the payment is reversed in the ledger exactly
    (the holder is owed again, the withholding is accrued again) and its statements are unpaid, ready for another
    batch once the account is fixed. Recording the same return again changes nothing."""
    reason = (reason or "").strip() if isinstance(reason, str) else ""
    problems: dict[str, list[str]] = {}
    if not reason:
        problems["reason"] = [_("Say why the bank returned the transfer.")]
    elif len(reason) > MAX_REASON:
        problems["reason"] = [_("The reason is longer than %(n)d characters.") % {"n": MAX_REASON}]
    returned_on = returned_on or timezone.localdate()
    if not isinstance(returned_on, dt.date):
        problems["returned_on"] = [_("The return date must be a date (YYYY-MM-DD).")]
    elif returned_on > timezone.localdate():
        problems["returned_on"] = [_("The return date %(date)s is in the future.") % {"date": returned_on.isoformat()}]
    if problems:
        raise PayoutInvalid(problems)
    with transaction.atomic():
        item = PayoutItem.objects.select_for_update().select_related("batch").get(pk=item.pk)
        if item.status == ItemStatus.RETURNED:
            return item
        if item.status != ItemStatus.PAID:
            raise PayoutRefused(_("Only a paid transfer can be returned."))
        if returned_on < item.batch.pay_date:
            raise PayoutInvalid({"returned_on": [_("A transfer cannot come back before its pay date.")]})
        payment = JournalTransaction.objects.filter(idempotency_key=_payment_key(item.pk)).first()
        if payment is None:  # cannot happen through these services: the payment is posted with the status
            raise PayoutRefused(_("The payment of this transfer is not in the ledger."))
        journal_reverse(original=payment, idempotency_key=f"payouts:return:{item.pk}", effective_date=returned_on,
                        memo=f"returned transfer {item.batch.pay_date}")  # fmt: skip
        Statement.objects.filter(payout=item).update(status=StatementStatus.FINAL, paid_at=None, payout=None)
        item.status = ItemStatus.RETURNED
        item.returned_at = timezone.now()
        item.returned_on = returned_on
        item.returned_reason = reason
        item.save(update_fields=["status", "returned_at", "returned_on", "returned_reason"])
        _event(item.batch, PayoutEventKind.RETURNED, actor, item=item, reason=reason,
               returned_on=returned_on.isoformat(), amount=_money(item.amount, item.currency),
               rights_holder=str(item.rights_holder_id))  # fmt: skip
    return item
