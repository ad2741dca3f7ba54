"""Finance reports (issue 7): the trial balance, the reconciliation of a period, withholding tax payable by month and
the annual payment summary per rights holder (the data of 支払調書). Selectors return dataclasses; `*_table` gives
the rows people read (the admin's HTML) and `*_csv` the same rows as a download: UTF-8 with a byte-order mark, money
as decimal strings in major units, as in payouts.documents.

Every figure is computed in PostgreSQL, a fixed number of queries per report however large the period: a period has
millions of statement lines and usage events, which are aggregated where they lie, never read row by row. The
reconciliation reads one snapshot (REPEATABLE READ) so that a finalization or payout committing meanwhile cannot make
its figures disagree with each other.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ledger.choices import AccountKind
from ledger.money import Money, currency_digits
from ledger.selectors import TrialBalance, trial_balance
from ledger.verification import verify_ledger
from licensing.choices import HolderKind
from licensing.models import Agreement

from .documents import _csv
from .models import Invoice, RunStatus, Statement, StatementRun

SAMPLE = 1000  # differences listed per kind of check (the count says how many there are in all)
NIL = "'00000000-0000-0000-0000-000000000000'::uuid"  # the owner of the platform's accounts, where NULL cannot join


def _amount(amount: int, currency: str) -> str:
    return Money(amount, currency).to_string()


def _rows(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


@contextmanager
def _snapshot() -> Iterator[None]:
    """The report's queries in one read-only REPEATABLE READ transaction (inside a caller's transaction: that one)."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _next_month(month: dt.date) -> dt.date:
    """The first day of the month after `month`'s."""
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


# trial balance ----------------------------------------------------------------------------------------------------
def trial_balance_report(*, as_of: dt.date) -> TrialBalance:
    """Per account and currency: debits, credits, balance (debits − credits) of the transactions effective on or
    before `as_of`; per currency the totals, which balance to zero when the books are sound (ledger.selectors)."""
    return trial_balance(as_of=as_of)


def _kind(kind: str) -> str:
    return str(AccountKind(kind).label) if kind in AccountKind.values else kind


def trial_balance_table(report: TrialBalance) -> tuple[list[str], list[list[str]]]:
    header = [_("Account code"), _("Account name"), _("Kind"), _("Currency"), _("Debits"), _("Credits"), _("Balance")]
    rows = [
        [row.code, row.name, _kind(row.kind), row.currency, _amount(row.debits, row.currency),
         _amount(row.credits, row.currency), _amount(row.balance, row.currency)]
        for row in report.rows
    ]  # fmt: skip
    for currency, (debits, credits, balance) in sorted(report.totals.items()):
        rows.append([_("Total"), "", "", currency, _amount(debits, currency), _amount(credits, currency),
                     _amount(balance, currency)])  # fmt: skip
    return header, rows


def trial_balance_csv(report: TrialBalance) -> bytes:
    header, rows = trial_balance_table(report)
    return _csv([header, *rows])


# reconciliation ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Difference:
    """One identity that does not hold. `expected` and `found` are minor units of `currency`, or quantities when
    `currency` is None; None where there is no figure (a missing transaction, a wrong status: see `detail`)."""

    kind: str
    object_type: str
    object_id: str
    field: str
    currency: str | None
    expected: int | None
    found: int | None
    detail: str = ""


@dataclass(frozen=True)
class Check:
    kind: str
    description: str
    differences: int  # all of them; at most SAMPLE are listed
    truncated: bool

    @property
    def label(self) -> str:
        return str(CHECK_LABELS.get(self.kind, self.kind))


@dataclass(frozen=True)
class Reconciliation:
    period: dt.date
    run_id: uuid.UUID | None
    statements: int
    invoices: int
    payout_items: int
    checks: list[Check]
    differences: list[Difference] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.differences


# What each kind of check compares (the identities hold by construction of payouts.engine, payouts.services and
# payouts.batches: a difference means a row was changed behind their back, or a bug).
CHECKS = {
    "statement_lines": gettext_lazy(
        "Each statement's gross, commission and net royalties equal the sums of its lines (the period's partition)."
    ),
    "invoice_lines": gettext_lazy("Each invoice's lines add up to its royalties."),
    "royalties": gettext_lazy(
        "Per currency: the invoices' royalties equal the gross of the statement lines plus the royalties the run "
        "left unallocated (works without rights holders)."
    ),
    "statement_ledger": gettext_lazy(
        "Each final or paid statement's journal transaction (payouts:statement:<id>) posts exactly: royalty "
        "clearing its gross and consumption tax receivable its consumption tax (debits); commission income its "
        "commission, the holder's payable its net + consumption tax − withholding, withholding tax accrued its "
        "withholding (credits)."
    ),
    "invoice_ledger": gettext_lazy(
        "Each final invoice's journal transaction (payouts:invoice:<id>) posts exactly: the licensee's receivable "
        "its amount due and the licensee's advance what it recouped (debits); royalty clearing its royalties (credit)."
    ),
    "usage": gettext_lazy(
        "Per agreement and use, the quantities the invoices carry equal the period's licensed usage (not late) the "
        "engine bills: per unit, the events' quantity of the works whose line is not zero; revenue share, the same "
        "of the works with revenue; per work, the (work, model) pairs first reported in the period."
    ),
    "payout_ledger": gettext_lazy(
        "Each paid or returned payout item of the period's statements has its payment (payouts:payout:<id>) posted "
        "exactly: the holder's payable and withholding tax accrued debited, the bank and withholding tax payable "
        "credited; a returned one also its exact reversal (payouts:return:<id>)."
    ),
    "payout": gettext_lazy(
        "Each paid item transferred what the statements it paid owe (net + consumption tax − withholding) and "
        "withheld their withholding tax; a paid statement is paid by a paid item of a confirmed batch; a return "
        "reverses its payment."
    ),
    "ledger": gettext_lazy("The ledger's own verification (verify_ledger): balance per transaction, hash chain."),
}

# the checks' short names, for people (the table, the CSV); the API keeps the codes
CHECK_LABELS = {
    "statement_lines": gettext_lazy("Statement vs its lines"),
    "invoice_lines": gettext_lazy("Invoice vs its lines"),
    "royalties": gettext_lazy("Royalties billed vs distributed"),
    "statement_ledger": gettext_lazy("Statement vs ledger"),
    "invoice_ledger": gettext_lazy("Invoice vs ledger"),
    "usage": gettext_lazy("Usage vs invoices"),
    "payout_ledger": gettext_lazy("Transfer vs ledger"),
    "payout": gettext_lazy("Transfer vs statements"),
    "ledger": gettext_lazy("Ledger verification"),
}


def _sampled(check_sql: str) -> str:
    """At most SAMPLE differences of each kind, with how many there are. The check's columns: kind, object_type,
    object_id, field, currency, expected, found, note."""
    return f"""
    SELECT d.kind, d.object_type, d.object_id, d.field, d.currency, d.expected, d.found, d.note, d.total
      FROM (SELECT c.*, row_number() OVER (PARTITION BY c.kind ORDER BY c.object_id, c.field, c.note) AS n,
                   count(*) OVER (PARTITION BY c.kind) AS total
              FROM ({check_sql}) c) d
     WHERE d.n <= %(limit)s
     ORDER BY d.kind, d.n
    """  # noqa: S608 (constant fragments only)


# (a), (c), (d): one pass over the period's partition of the lines, summed per statement.
# (d) holds by construction: the engine writes every royalty line of a run into payouts_royalty; the invoices sum
# all of them per agreement (INVOICES, INVOICE_LINES); the lines of a work with shares are split among its holders
# by largest remainder, the parts adding up to the line exactly (LINES), and the lines of works without shares are
# summed into StatementRun.unallocated (UNALLOCATED). Fixed terms (flat fee, minimum guarantee) and adjustments
# (late usage) pass through payouts_royalty as well, so they are in both sides. Compared: the sum of the royalties
# of the period's invoices vs the sum of the gross of the period's statement lines plus the unallocated of the run
# that computed them, per currency.
LINES_CHECK = """
WITH lines AS MATERIALIZED (
    SELECT l.statement_id, sum(l.gross) AS gross, sum(l.commission) AS commission, sum(l.net) AS net
      FROM payouts_statementline l
     WHERE l.period = %(period)s
     GROUP BY l.statement_id
), joined AS MATERIALIZED (
    SELECT coalesce(s.id, l.statement_id) AS id, s.currency, s.gross, s.commission, s.net_royalties,
           l.gross AS lines_gross, l.commission AS lines_commission, l.net AS lines_net
      FROM (SELECT * FROM payouts_statement WHERE period = %(period)s) s
      FULL JOIN lines l ON l.statement_id = s.id
), billed AS (
    SELECT i.currency, sum(i.royalties) AS amount FROM payouts_invoice i WHERE i.period = %(period)s GROUP BY 1
), allocated AS (
    SELECT j.currency, j.lines_gross AS amount FROM joined j WHERE j.currency IS NOT NULL
    UNION ALL
    SELECT u.currency, u.amount FROM unnest(%(unallocated_in)s::text[], %(unallocated)s::bigint[]) u(currency, amount)
), found AS (
    SELECT a.currency, sum(a.amount) AS amount FROM allocated a GROUP BY 1
), invoice_lines AS (
    SELECT i.id, i.currency, i.royalties, coalesce(sum(l.amount), 0) AS amount
      FROM payouts_invoice i LEFT JOIN payouts_invoiceline l ON l.invoice_id = i.id
     WHERE i.period = %(period)s
     GROUP BY i.id
)
SELECT 'statement_lines' AS kind, 'statement' AS object_type, j.id::text AS object_id, f.field, j.currency,
       f.expected, f.found, '' AS note
  FROM joined j
 CROSS JOIN LATERAL (VALUES ('gross', coalesce(j.lines_gross, 0), j.gross),
                            ('commission', coalesce(j.lines_commission, 0), j.commission),
                            ('net_royalties', coalesce(j.lines_net, 0), j.net_royalties)) f(field, expected, found)
 WHERE f.expected IS DISTINCT FROM f.found
UNION ALL
SELECT 'invoice_lines', 'invoice', i.id::text, 'royalties', i.currency, i.amount, i.royalties, ''
  FROM invoice_lines i
 WHERE i.amount <> i.royalties
UNION ALL
SELECT 'royalties', 'period', %(label)s, 'royalties', coalesce(b.currency, f.currency), coalesce(b.amount, 0),
       coalesce(f.amount, 0), ''
  FROM billed b FULL JOIN found f ON f.currency = b.currency
 WHERE coalesce(b.amount, 0) <> coalesce(f.amount, 0)
"""

# The payout items of the period's statements: the item of each statement of the period (its own transfer, returned
# or not) and the items that paid a statement of the period (carried into a later one).
PERIOD_ITEMS = """
SELECT i.id, i.batch_id, i.statement_id, i.rights_holder_id, i.currency, i.status, i.amount, i.withholding_tax
  FROM payouts_payoutitem i
 WHERE i.status IN ('paid', 'returned')
   AND (i.statement_id IN (SELECT s.id FROM payouts_statement s WHERE s.period = %(period)s)
        OR i.id IN (SELECT s.payout_id FROM payouts_statement s
                     WHERE s.period = %(period)s AND s.payout_id IS NOT NULL))
"""

# (b), (f) in the ledger: the legs each object's journal transaction must have (payouts.services._statement_entry,
# _invoice_entry; payouts.batches.payout_batch_confirm, payout_item_return), per (account purpose, owner, currency),
# vs what the transaction of its idempotency key posts. A transaction is posted only when a leg is not zero (an
# entry with fewer than two non-zero legs is not posted, and since the legs balance, one non-zero leg is impossible):
# an object with a non-zero leg and no transaction is listed as missing; one with a transaction, leg by leg.
LEDGER_CHECK = """
WITH period_items AS MATERIALIZED (<items>), expected AS (
    SELECT 'statement_ledger' AS kind, 'statement' AS object_type, s.id::text AS object_id,
           'payouts:statement:' || s.id::text AS key, s.currency, v.purpose, v.owner_id, v.amount
      FROM payouts_statement s
     CROSS JOIN LATERAL (VALUES
           ('royalty_expense', <nil>, s.gross),
           ('consumption_tax_receivable', <nil>, s.consumption_tax),
           ('commission_income', <nil>, -s.commission),
           ('rights_holder_payable', s.rights_holder_id, -(s.net_royalties + s.consumption_tax - s.withholding_tax)),
           ('withholding_tax_accrued', <nil>, -s.withholding_tax)) v(purpose, owner_id, amount)
     WHERE s.period = %(period)s AND s.status IN ('final', 'paid')
    UNION ALL
    SELECT 'invoice_ledger', 'invoice', i.id::text, 'payouts:invoice:' || i.id::text, i.currency, v.purpose,
           v.owner_id, v.amount
      FROM payouts_invoice i
     CROSS JOIN LATERAL (VALUES
           ('licensee_receivable', i.licensee_id, i.amount_due),
           ('licensee_advance', i.licensee_id, i.advance_recouped),
           ('royalty_expense', <nil>, -i.royalties)) v(purpose, owner_id, amount)
     WHERE i.period = %(period)s AND i.status IN ('final', 'paid')
    UNION ALL
    SELECT 'payout_ledger', 'payout_item', i.id::text, k.prefix || i.id::text, i.currency, v.purpose, v.owner_id,
           k.sign * v.amount
      FROM period_items i
     CROSS JOIN LATERAL (VALUES ('payouts:payout:', 1), ('payouts:return:', -1)) k(prefix, sign)
     CROSS JOIN LATERAL (VALUES
           ('rights_holder_payable', i.rights_holder_id, i.amount),
           ('bank', <nil>, -i.amount),
           ('withholding_tax_accrued', <nil>, i.withholding_tax),
           ('withholding_tax_payable', <nil>, -i.withholding_tax)) v(purpose, owner_id, amount)
     WHERE k.sign = 1 OR i.status = 'returned'
), objects AS MATERIALIZED (
    SELECT e.kind, e.object_type, e.object_id, e.key, bool_or(e.amount <> 0) AS posts
      FROM expected e
     GROUP BY e.kind, e.object_type, e.object_id, e.key
), txns AS MATERIALIZED (
    SELECT o.key, t.id FROM objects o JOIN ledger_journaltransaction t ON t.idempotency_key = o.key
    UNION ALL  -- a statement finalized before withholding was accrued: its reclassification counts with it
    SELECT o.key, t.id FROM objects o
      JOIN ledger_journaltransaction t
        ON t.idempotency_key = 'payouts:withholding-accrued:' || o.object_id AND o.object_type = 'statement'
), found AS (
    SELECT x.key, a.purpose, coalesce(a.owner_id, <nil>) AS owner_id, p.currency, sum(p.amount) AS amount
      FROM txns x
      JOIN ledger_posting p ON p.transaction_id = x.id
      JOIN ledger_account a ON a.id = p.account_id
     GROUP BY x.key, a.purpose, coalesce(a.owner_id, <nil>), p.currency
), legs AS (
    SELECT coalesce(e.key, f.key) AS key, coalesce(e.purpose, f.purpose) AS purpose,
           coalesce(e.owner_id, f.owner_id) AS owner_id, coalesce(e.currency, f.currency) AS currency,
           coalesce(e.amount, 0) AS expected, coalesce(f.amount, 0) AS found
      FROM (SELECT * FROM expected WHERE key IN (SELECT key FROM txns)) e
      FULL JOIN found f ON f.key = e.key AND f.purpose = e.purpose AND f.owner_id = e.owner_id
                       AND f.currency = e.currency
)
SELECT o.kind, o.object_type, o.object_id, 'transaction' AS field, NULL AS currency, NULL::numeric AS expected,
       NULL::numeric AS found, 'missing:' || o.key AS note
  FROM objects o
 WHERE o.posts AND NOT EXISTS (SELECT 1 FROM txns x WHERE x.key = o.key)
UNION ALL
SELECT o.kind, o.object_type, o.object_id, l.purpose, l.currency, l.expected, l.found,
       'leg:' || l.key || CASE WHEN l.owner_id = <nil> THEN '' ELSE ':' || l.owner_id::text END
  FROM legs l JOIN objects o ON o.key = l.key
 WHERE l.expected <> l.found
""".replace("<items>", PERIOD_ITEMS).replace("<nil>", NIL)

# (f) outside the ledger. Holds by construction of payouts.batches: an item's amount is its statement's payable,
# which is net + consumption tax − withholding plus the payable carried into it from the holder's earlier statements
# below the minimum payout; confirming links that statement and the carried ones to the item (Statement.payout), and
# the item's withholding is theirs. So, per paid item: amount = Σ (net + consumption tax − withholding) and
# withholding = Σ withholding over the statements it paid. A return unlinks the statements and reverses the payment.
PAYOUT_CHECK = """
WITH period_items AS MATERIALIZED (<items>), paid_by AS (
    SELECT s.payout_id, sum(s.net_royalties + s.consumption_tax - s.withholding_tax) AS owed,
           sum(s.withholding_tax) AS withheld
      FROM payouts_statement s
     WHERE s.payout_id IN (SELECT id FROM period_items)
     GROUP BY s.payout_id
)
SELECT 'payout' AS kind, 'payout_item' AS object_type, i.id::text AS object_id, f.field, i.currency, f.expected,
       f.found, '' AS note
  FROM period_items i
  LEFT JOIN paid_by p ON p.payout_id = i.id
 CROSS JOIN LATERAL (VALUES ('amount', coalesce(p.owed, 0), i.amount),
                            ('withholding_tax', coalesce(p.withheld, 0), i.withholding_tax)) f(field, expected, found)
 WHERE i.status = 'paid' AND f.expected <> f.found
UNION ALL
SELECT 'payout', 'statement', s.id::text, 'payout', NULL, NULL, NULL,
       'item:' || i.id::text || ':' || i.status || ':' || b.status
  FROM payouts_statement s
  JOIN payouts_payoutitem i ON i.id = s.payout_id
  JOIN payouts_payoutbatch b ON b.id = i.batch_id
 WHERE s.period = %(period)s AND s.status = 'paid' AND (i.status <> 'paid' OR b.status <> 'confirmed')
UNION ALL
SELECT 'payout', 'payout_item', i.id::text, 'reverses', NULL, NULL, NULL, 'reverses:' || r.id::text
  FROM period_items i
  JOIN ledger_journaltransaction r ON r.idempotency_key = 'payouts:return:' || i.id::text
  LEFT JOIN ledger_journaltransaction p ON p.idempotency_key = 'payouts:payout:' || i.id::text
 WHERE i.status = 'returned' AND r.reverses_id IS DISTINCT FROM p.id
""".replace("<items>", PERIOD_ITEMS)

# (e) Holds by construction of payouts.engine (USAGE_LINES, PER_WORK_LINES, INVOICE_LINES): the
# invoice line of a (basis, use) sums the quantities of the agreement's royalty lines of that basis and use. Those
# are, per (agreement, work, use) over the period's licensed events (an agreement, not late): per_unit, the events'
# quantity, when round(quantity × rate in minor units) is not zero (a line of zero is not written); revenue_share,
# the same quantity, when the revenue is not zero and round(revenue × percent / 100) is not zero; per_work, the
# (work, model) pairs never reported under the agreement for that use in an earlier period, when the fee is not
# zero. Rates of one type and use are added up, as the engine does. Adjustment lines (late usage, priced by the
# three kinds at once) and fixed terms carry no usage quantity of the period: they are in the money checks only.
USAGE_CHECK = """
WITH scales AS (
    SELECT s.currency, s.scale FROM unnest(%(currencies)s::text[], %(scales)s::bigint[]) s(currency, scale)
), usage AS MATERIALIZED (
    SELECT e.agreement_id, e.work_id, e.use, sum(e.quantity) AS quantity, sum(e.revenue_amount) AS revenue
      FROM licensing_usageevent e
     WHERE e.period = %(period)s AND NOT e.late AND e.agreement_id IS NOT NULL
     GROUP BY e.agreement_id, e.work_id, e.use
), prices AS MATERIALIZED (
    SELECT t.agreement_id, t.use,
           sum(t.rate) FILTER (WHERE t.type = 'per_unit') * s.scale AS unit,
           sum(t.percent) FILTER (WHERE t.type = 'revenue_share') AS percent,
           sum(t.amount) FILTER (WHERE t.type = 'per_work') AS fee
      FROM licensing_term t
      JOIN licensing_agreement a ON a.id = t.agreement_id
      JOIN scales s ON s.currency = a.currency
     WHERE t.type IN ('per_unit', 'revenue_share', 'per_work')
       AND t.agreement_id IN (SELECT DISTINCT agreement_id FROM usage)
     GROUP BY t.agreement_id, t.use, s.scale
), pairs AS (
    SELECT e.agreement_id, e.work_id, e.use, e.model
      FROM licensing_usageevent e
      JOIN prices p ON p.agreement_id = e.agreement_id AND p.use = e.use AND p.fee IS NOT NULL AND p.fee <> 0
     WHERE e.period = %(period)s AND NOT e.late
     GROUP BY e.agreement_id, e.work_id, e.use, e.model
), expected AS (
    SELECT u.agreement_id, u.use, 'per_unit' AS basis, sum(u.quantity) AS quantity
      FROM usage u JOIN prices p ON p.agreement_id = u.agreement_id AND p.use = u.use
     WHERE p.unit IS NOT NULL AND round(u.quantity * p.unit)::bigint <> 0
     GROUP BY u.agreement_id, u.use
    UNION ALL
    SELECT u.agreement_id, u.use, 'revenue_share', sum(u.quantity)
      FROM usage u JOIN prices p ON p.agreement_id = u.agreement_id AND p.use = u.use
     WHERE p.percent IS NOT NULL AND u.revenue <> 0 AND round(u.revenue * p.percent / 100)::bigint <> 0
     GROUP BY u.agreement_id, u.use
    UNION ALL
    SELECT p.agreement_id, p.use, 'per_work', count(*)
      FROM pairs p
     WHERE NOT EXISTS (
           SELECT 1 FROM licensing_usageevent o
            WHERE o.agreement_id = p.agreement_id AND o.work_id = p.work_id AND o.use = p.use
              AND o.model = p.model AND o.period < %(period)s)
     GROUP BY p.agreement_id, p.use
), billed AS (
    SELECT i.agreement_id, l.use, l.basis, sum(l.quantity) AS quantity
      FROM payouts_invoiceline l JOIN payouts_invoice i ON i.id = l.invoice_id
     WHERE i.period = %(period)s AND l.basis IN ('per_unit', 'revenue_share', 'per_work')
     GROUP BY i.agreement_id, l.use, l.basis
)
SELECT 'usage' AS kind, 'agreement' AS object_type, coalesce(e.agreement_id, b.agreement_id)::text AS object_id,
       coalesce(e.basis, b.basis) || ':' || coalesce(e.use, b.use) AS field, NULL AS currency,
       coalesce(e.quantity, 0) AS expected, coalesce(b.quantity, 0) AS found, '' AS note
  FROM expected e
  FULL JOIN billed b ON b.agreement_id = e.agreement_id AND b.use = e.use AND b.basis = e.basis
 WHERE coalesce(e.quantity, 0) <> coalesce(b.quantity, 0)
"""


def _run_of(period: dt.date) -> StatementRun | None:
    """The run whose statements and invoices the period holds: the finalized one, else the latest that is done
    (a rerun moves every draft to itself; a run that failed or is under way has not)."""
    return (
        StatementRun.objects.filter(period=period, status=RunStatus.DONE)
        .order_by(F("finalized_at").desc(nulls_last=True), "-created_at")
        .first()
    )


def _note(note: str) -> str:
    """The human detail of a difference, from the note its query wrote."""
    head, _sep, rest = note.partition(":")
    if head == "missing":
        return _("No journal transaction %(key)s.") % {"key": rest}
    if head == "leg":
        key, _sep, owner = rest.rpartition(":") if rest.count(":") > 2 else (rest, "", "")
        if owner:
            return _("In %(key)s, the account of %(owner)s.") % {"key": key, "owner": owner}
        return _("In %(key)s.") % {"key": key}
    if head == "item":
        item, status, batch_status = rest.split(":")
        return _("Paid by payout item %(item)s, which is %(status)s (its batch: %(batch)s).") % {
            "item": item, "status": status, "batch": batch_status}  # fmt: skip
    if head == "reverses":
        return _("The return, transaction #%(id)s, does not reverse the item's payment.") % {"id": rest}
    return note


def reconciliation(*, period: dt.date) -> Reconciliation:
    """Statement totals vs their lines, invoices vs their lines, royalties billed vs allocated, statements, invoices
    and payouts vs their journal transactions, usage vs invoiced quantities, and the ledger's own verification: every
    difference. A finalized period, untouched, has none."""
    with _snapshot():
        run = _run_of(period)
        unallocated = {c: int(a) for c, a in (run.unallocated if run else {}).items()}
        currencies = sorted(set(Agreement.objects.values_list("currency", flat=True).distinct()))
        params = {
            "period": period, "label": f"{period:%Y-%m}", "limit": SAMPLE,
            "unallocated_in": list(unallocated), "unallocated": list(unallocated.values()),
        }  # fmt: skip
        usage_params = {**params, "currencies": currencies, "scales": [10 ** currency_digits(c) for c in currencies]}
        found: list[tuple] = []
        found += _rows(_sampled(LINES_CHECK), params)
        found += _rows(_sampled(LEDGER_CHECK), params)
        found += _rows(_sampled(USAGE_CHECK), usage_params)
        found += _rows(_sampled(PAYOUT_CHECK), params)
        ledger = verify_ledger()
        statements = Statement.objects.filter(period=period).count()
        invoices = Invoice.objects.filter(period=period).count()
        ((items,),) = _rows(f"SELECT count(*) FROM ({PERIOD_ITEMS}) i", params)  # noqa: S608 (constant SQL)
    totals: dict[str, int] = {}
    differences = []
    for kind, object_type, object_id, field_, currency, expected, found_, note, total in found:
        totals[kind] = int(total)
        differences.append(
            Difference(
                kind=kind, object_type=object_type, object_id=object_id, field=field_, currency=currency,
                expected=None if expected is None else int(expected), found=None if found_ is None else int(found_),
                detail=_note(note),
            )
        )  # fmt: skip
    for problem_kind, problems in ledger.problems.items():
        totals["ledger"] = totals.get("ledger", 0) + len(problems)
        for problem in problems:
            differences.append(Difference(kind="ledger", object_type="ledger", object_id=problem_kind, field="",
                                          currency=None, expected=None, found=None, detail=problem))  # fmt: skip
    listed = {kind: sum(1 for d in differences if d.kind == kind) for kind in CHECKS}
    checks = [
        Check(kind, str(description), totals.get(kind, 0), totals.get(kind, 0) > listed[kind])
        for kind, description in CHECKS.items()
    ]
    return Reconciliation(period=period, run_id=run.pk if run else None, statements=statements, invoices=invoices,
                          payout_items=items, checks=checks, differences=differences)  # fmt: skip


def _figure(value: int | None, currency: str | None) -> str:
    if value is None:
        return ""
    return _amount(value, currency) if currency else str(value)


def reconciliation_table(report: Reconciliation) -> tuple[list[str], list[list[str]]]:
    header = [_("Check"), _("Object type"), _("Object"), _("Field or account"), _("Currency"), _("Expected"),
              _("Found"), _("Detail")]  # fmt: skip
    rows = [
        [str(CHECK_LABELS.get(d.kind, d.kind)), d.object_type, d.object_id, d.field, d.currency or "",
         _figure(d.expected, d.currency),
         _figure(d.found, d.currency), d.detail]
        for d in report.differences
    ]  # fmt: skip
    return header, rows


def reconciliation_csv(report: Reconciliation) -> bytes:
    header, rows = reconciliation_table(report)
    return _csv([header, *rows])


# withholding tax payable by month ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class WithholdingMonth:
    """One month (by the transactions' effective dates) and currency of the withholding tax payable account.

    withheld: credited by payments (payouts:payout:<item>); returned: debited by reversals (a returned transfer
    reverses its payment, dated the day the money came back); remitted: the other debits, net of reversed
    remittances (paid to the tax office; a remittance recorded by payouts.batches.withholding_remittance_record
    counts for the month whose tax it pays); net: withheld − returned, the month's tax to remit by `due_date`;
    outstanding: what is still owed to the tax office for this month and the earlier ones."""

    month: dt.date
    currency: str
    withheld: int
    returned: int
    remitted: int
    outstanding: int
    due_date: dt.date

    @property
    def net(self) -> int:
        return self.withheld - self.returned


@dataclass(frozen=True)
class WithholdingReport:
    start: dt.date  # first month
    end: dt.date  # last month
    months: list[WithholdingMonth]

    @property
    def totals(self) -> dict[str, tuple[int, int, int, int]]:
        """currency → (withheld, returned, remitted, net)."""
        out: dict[str, tuple[int, int, int, int]] = {}
        for m in self.months:
            w, r, p, n = out.get(m.currency, (0, 0, 0, 0))
            out[m.currency] = (w + m.withheld, r + m.returned, p + m.remitted, n + m.net)
        return out


def withholding_due_date(month: dt.date) -> dt.date:
    """When the income tax withheld in `month` is due (源泉所得税の納期限): the 10th of the following month; on a
    Saturday or Sunday, the following Monday. National holidays (祝日) and the year-end closing are not shifted
    for: check them by hand. The semi-annual special rule (納期の特例) is not modelled."""
    due = _next_month(month.replace(day=1)).replace(day=10)
    if due.weekday() >= 5:  # Saturday 5, Sunday 6
        due += dt.timedelta(days=7 - due.weekday())
    return due


WITHHOLDING = """
WITH movements AS (
    -- a remittance counts for the month whose tax it pays (cause id "<currency>:<YYYY-MM>", payouts.batches),
    -- whenever it was paid; everything else for the month it is effective in
    SELECT CASE WHEN t.cause_type = 'remittance' AND t.cause_id ~ '^[A-Z]{3}:[0-9]{4}-[0-9]{2}$'
                THEN to_date(split_part(t.cause_id, ':', 2), 'YYYY-MM')
                ELSE date_trunc('month', t.effective_date)::date END AS month,
           p.currency, p.amount, t.reverses_id IS NOT NULL AS reversal
      FROM ledger_account a
      JOIN ledger_posting p ON p.account_id = a.id
      JOIN ledger_journaltransaction t ON t.id = p.transaction_id
     WHERE a.purpose = 'withholding_tax_payable' AND t.effective_date < %(end)s
), months AS (
    SELECT m.month, m.currency,
           coalesce(-sum(m.amount) FILTER (WHERE NOT m.reversal AND m.amount < 0), 0) AS withheld,
           coalesce(sum(m.amount) FILTER (WHERE m.reversal AND m.amount > 0), 0) AS returned,
           coalesce(sum(m.amount) FILTER (WHERE NOT m.reversal AND m.amount > 0), 0)
               + coalesce(sum(m.amount) FILTER (WHERE m.reversal AND m.amount < 0), 0) AS remitted,
           -sum(m.amount) AS movement
      FROM movements m
     GROUP BY m.month, m.currency
)
SELECT x.month, x.currency, x.withheld, x.returned, x.remitted, x.outstanding
  FROM (SELECT m.*, sum(m.movement) OVER (PARTITION BY m.currency ORDER BY m.month) AS outstanding FROM months m) x
 WHERE x.month >= %(start)s
 ORDER BY x.month, x.currency
"""


def withholding_report(*, start: dt.date, end: dt.date) -> WithholdingReport:
    """Withholding tax payable per month from `start` to `end` (months, both included), per currency: the months
    with movements only. Read from the ledger account `withholding_tax_payable`, which payments credit (the
    withholding moves there from `withholding_tax_accrued` when the holder is paid: the tax falls due with the
    payment, not the statement)."""
    start, end = start.replace(day=1), end.replace(day=1)
    rows = _rows(WITHHOLDING, {"start": start, "end": _next_month(end)})
    months = [
        WithholdingMonth(month=month, currency=currency, withheld=int(withheld), returned=int(returned),
                         remitted=int(remitted), outstanding=int(outstanding), due_date=withholding_due_date(month))
        for month, currency, withheld, returned, remitted, outstanding in rows
    ]  # fmt: skip
    return WithholdingReport(start=start, end=end, months=months)


def withholding_table(report: WithholdingReport) -> tuple[list[str], list[list[str]]]:
    header = [_("Month"), _("Currency"), _("Withheld"), _("Returned"), _("Net to remit"), _("Due date"),
              _("Remitted"), _("Outstanding at month end")]  # fmt: skip
    rows = [
        [f"{m.month:%Y-%m}", m.currency, _amount(m.withheld, m.currency), _amount(m.returned, m.currency),
         _amount(m.net, m.currency), m.due_date.isoformat(), _amount(m.remitted, m.currency),
         _amount(m.outstanding, m.currency)]
        for m in report.months
    ]  # fmt: skip
    for currency, (withheld, returned, remitted, net) in sorted(report.totals.items()):
        rows.append([_("Total"), currency, _amount(withheld, currency), _amount(returned, currency),
                     _amount(net, currency), "", _amount(remitted, currency), ""])  # fmt: skip
    return header, rows


def withholding_csv(report: WithholdingReport) -> bytes:
    header, rows = withholding_table(report)
    return _csv([header, *rows])


# annual payment summary per rights holder (支払調書) ---------------------------------------------------------------
@dataclass(frozen=True)
class HolderPayments:
    """A rights holder's payments of a year in one currency: the transfers paid (not returned) whose batch's pay
    date is in the year. amount: before withholding (transferred + withholding), of which consumption_tax (of the
    statements the transfers paid, those carried into them included)."""

    rights_holder_id: uuid.UUID
    name: str
    kind: str
    resident: bool
    country: str
    postal_code: str
    address: str
    registration_number: str
    currency: str
    payments: int
    amount: int
    consumption_tax: int
    withholding_tax: int
    transferred: int


@dataclass(frozen=True)
class PaymentSummary:
    year: int
    holders: list[HolderPayments]

    @property
    def totals(self) -> dict[str, tuple[int, int, int, int, int]]:
        """currency → (payments, amount, consumption tax, withholding tax, transferred)."""
        out: dict[str, tuple[int, int, int, int, int]] = {}
        for h in self.holders:
            n, a, c, w, t = out.get(h.currency, (0, 0, 0, 0, 0))
            out[h.currency] = (n + h.payments, a + h.amount, c + h.consumption_tax, w + h.withholding_tax,
                               t + h.transferred)  # fmt: skip
        return out


PAYMENTS = """
WITH items AS MATERIALIZED (
    SELECT i.id, i.rights_holder_id, i.currency, i.amount, i.withholding_tax
      FROM payouts_payoutitem i JOIN payouts_payoutbatch b ON b.id = i.batch_id
     WHERE i.status = 'paid' AND b.pay_date >= %(start)s AND b.pay_date < %(end)s
), taxes AS (
    SELECT s.payout_id, sum(s.consumption_tax) AS consumption_tax
      FROM payouts_statement s WHERE s.payout_id IN (SELECT id FROM items) GROUP BY s.payout_id
), per_holder AS (
    SELECT i.rights_holder_id, i.currency, count(*) AS payments, sum(i.amount + i.withholding_tax) AS amount,
           coalesce(sum(t.consumption_tax), 0) AS consumption_tax, sum(i.withholding_tax) AS withholding_tax,
           sum(i.amount) AS transferred
      FROM items i LEFT JOIN taxes t ON t.payout_id = i.id
     GROUP BY i.rights_holder_id, i.currency
)
SELECT h.id, h.name, h.kind, h.resident, h.country, h.postal_code, h.address,
       coalesce(h.invoice_registration_number, ''), p.currency, p.payments, p.amount, p.consumption_tax,
       p.withholding_tax, p.transferred
  FROM per_holder p JOIN licensing_rightsholder h ON h.id = p.rights_holder_id
 ORDER BY h.name, h.id, p.currency
"""


def payment_summary(*, year: int) -> PaymentSummary:
    """Per rights holder and currency, the year's transfers paid (a returned one was not a payment)."""
    rows = _rows(PAYMENTS, {"start": dt.date(year, 1, 1), "end": dt.date(year + 1, 1, 1)})
    holders = [
        HolderPayments(rights_holder_id=r[0], name=r[1], kind=r[2], resident=r[3], country=r[4], postal_code=r[5],
                       address=r[6], registration_number=r[7], currency=r[8], payments=int(r[9]), amount=int(r[10]),
                       consumption_tax=int(r[11]), withholding_tax=int(r[12]), transferred=int(r[13]))
        for r in rows
    ]  # fmt: skip
    return PaymentSummary(year=year, holders=holders)


def _holder_kind(kind: str) -> str:
    return str(HolderKind(kind).label) if kind in HolderKind.values else kind


def payment_summary_table(report: PaymentSummary) -> tuple[list[str], list[list[str]]]:
    header = [_("Rights holder"), _("Name"), _("Kind"), _("Resident"), _("Country"), _("Postal code"), _("Address"),
              _("Invoice registration number"), _("Currency"), _("Payments"), _("Amount before withholding"),
              _("Of which consumption tax"), _("Withholding tax"), _("Transferred")]  # fmt: skip
    rows = [
        [str(h.rights_holder_id), h.name, _holder_kind(h.kind), _("Yes") if h.resident else _("No"), h.country,
         h.postal_code, h.address, h.registration_number, h.currency, str(h.payments), _amount(h.amount, h.currency),
         _amount(h.consumption_tax, h.currency), _amount(h.withholding_tax, h.currency),
         _amount(h.transferred, h.currency)]
        for h in report.holders
    ]  # fmt: skip
    for currency, (payments, amount, consumption, withholding, transferred) in sorted(report.totals.items()):
        rows.append([_("Total"), "", "", "", "", "", "", "", currency, str(payments), _amount(amount, currency),
                     _amount(consumption, currency), _amount(withholding, currency),
                     _amount(transferred, currency)])  # fmt: skip
    return header, rows


def payment_summary_csv(report: PaymentSummary) -> bytes:
    header, rows = payment_summary_table(report)
    return _csv([header, *rows])
