"""The statement engine (RULES.md, Terms and From royalty to payment), set-based.

A run of a period, in one transaction (a worker killed half-way leaves nothing; the rerun starts clean):
1. royalty lines, one per (agreement, work, use, basis), each agreement's usage aggregated by one GROUP BY over the
   month's partition: per_unit (quantity × rate), revenue_share (revenue × percent), per_work (fee × the (work, model)
   pairs first reported this period); gross rounded half-up once per line, then the agreement's commission;
2. each line split among the work's effective shares by the largest-remainder method, in SQL (gross and commission
   split alike, net = gross − commission: the parts add up to the line exactly);
3. one draft statement per rights holder and currency (upserted: a rerun recomputes the drafts in place), its taxes
   from the dated TaxRule table, the payable carried forward below the holder's minimum payout;
4. one draft invoice per agreement: royalties by basis and use, less the advance recouped.
Memory does not grow with the events: PostgreSQL aggregates them; Python sees one row per statement.
"""

from __future__ import annotations

import calendar
import datetime as dt
import time

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import F, Prefetch, Q
from django.db.models.functions import Coalesce, Now
from django.utils import timezone
from django.utils.translation import gettext as _

from ledger.money import currency_digits
from licensing.choices import AgreementStatus, Every, TermType
from licensing.models import Agreement, PeriodStatus, ReportingPeriod, Term

from .models import RunStatus, Statement, StatementRun, StatementStatus
from .taxes import TaxRates


class RunRefused(Exception):
    """The period cannot be computed now (final already, or another run of it is under way)."""


ROYALTY_LINES = """
CREATE TEMPORARY TABLE payouts_royalty (
    id bigserial PRIMARY KEY,
    agreement_id uuid NOT NULL, licensee_id uuid NOT NULL, currency text NOT NULL, work_id uuid NOT NULL,
    use text NOT NULL, basis text NOT NULL, quantity bigint NOT NULL, gross bigint NOT NULL, commission bigint NOT NULL,
    adjusted_period date
) ON COMMIT DROP
"""

# One agreement's usage-based lines for the period: %(agreement)s, %(period)s, %(scale)s = 10 ** the currency's
# minor digits (rates are in major units), %(commission)s percent. Terms of one type and use add up before the one
# rounding of the line.
AGREEMENT_LINES = """
WITH usage AS (
    SELECT e.work_id, e.use, sum(e.quantity) AS quantity, coalesce(sum(e.revenue_amount), 0) AS revenue
      FROM licensing_usageevent e
     WHERE e.period = %(period)s AND e.agreement_id = %(agreement)s AND NOT e.late
     GROUP BY e.work_id, e.use
), terms AS (
    SELECT t.type, t.use, sum(t.rate) AS rate, sum(t.percent) AS percent, sum(t.amount) AS amount
      FROM licensing_term t
     WHERE t.agreement_id = %(agreement)s AND t.type IN ('per_unit', 'revenue_share', 'per_work')
     GROUP BY t.type, t.use
), first_pairs AS (  -- (work, model) pairs of this period never reported under the agreement for that use before
    SELECT e.work_id, e.use, count(DISTINCT e.model) AS pairs
      FROM licensing_usageevent e
     WHERE e.period = %(period)s AND e.agreement_id = %(agreement)s AND NOT e.late
       AND NOT EXISTS (
           SELECT 1 FROM licensing_usageevent p
            WHERE p.agreement_id = e.agreement_id AND p.work_id = e.work_id AND p.use = e.use
              AND p.model = e.model AND p.period < %(period)s)
     GROUP BY e.work_id, e.use
), lines AS (
    SELECT u.work_id, u.use, 'per_unit' AS basis, u.quantity, round(u.quantity * t.rate * %(scale)s)::bigint AS gross
      FROM usage u JOIN terms t ON t.type = 'per_unit' AND t.use = u.use
    UNION ALL
    SELECT u.work_id, u.use, 'revenue_share', u.quantity, round(u.revenue * t.percent / 100)::bigint
      FROM usage u JOIN terms t ON t.type = 'revenue_share' AND t.use = u.use
     WHERE u.revenue <> 0
    UNION ALL
    SELECT f.work_id, f.use, 'per_work', f.pairs, (f.pairs * t.amount)::bigint
      FROM first_pairs f JOIN terms t ON t.type = 'per_work' AND t.use = f.use
)
INSERT INTO payouts_royalty (agreement_id, licensee_id, currency, work_id, use, basis, quantity, gross, commission)
SELECT %(agreement)s, %(licensee)s, %(currency)s, l.work_id, l.use, l.basis, l.quantity, l.gross,
       round(l.gross * %(commission)s / 100)::bigint
  FROM lines l
 WHERE l.gross <> 0
"""

# Late usage (reported after its period was final) from reports processed, not adjusted yet and received before the
# run was requested: priced by the agreement's per_unit, revenue_share and per_work terms, as `adjustment` lines
# naming their period.
ADJUSTMENT_LINES = """
WITH late AS MATERIALIZED (
    SELECT e.period, e.work_id, e.use, e.model, e.quantity, e.revenue_amount
      FROM licensing_usageevent e JOIN licensing_usagereport r ON r.id = e.report_id
     WHERE e.agreement_id = %(agreement)s AND e.late AND e.period < %(period)s
       AND r.late AND r.status <> 'processing' AND r.adjusted_in IS NULL AND r.created_at < %(started_at)s
), usage AS (
    SELECT l.period, l.work_id, l.use, sum(l.quantity) AS quantity, coalesce(sum(l.revenue_amount), 0) AS revenue
      FROM late l GROUP BY l.period, l.work_id, l.use
), pairs AS (  -- per_work: a (work, model) pair billed in the earliest period it is late for, if never billed before
    SELECT p.work_id, p.use, min(p.period) AS period
      FROM (SELECT l.work_id, l.use, l.model, min(l.period) AS period FROM late l GROUP BY l.work_id, l.use, l.model) p
     WHERE NOT EXISTS (
               SELECT 1 FROM licensing_usageevent o
                WHERE o.agreement_id = %(agreement)s AND o.work_id = p.work_id AND o.use = p.use AND o.model = p.model
                  AND o.period < p.period)
       AND NOT EXISTS (  -- in that period's own statements, or adjusted already
               SELECT 1 FROM licensing_usageevent o JOIN licensing_usagereport orr ON orr.id = o.report_id
                WHERE o.agreement_id = %(agreement)s AND o.work_id = p.work_id AND o.use = p.use AND o.model = p.model
                  AND o.period = p.period AND (NOT o.late OR orr.adjusted_in IS NOT NULL))
     GROUP BY p.work_id, p.use, p.model
), new_pairs AS (
    SELECT p.period, p.work_id, p.use, count(*) AS pairs FROM pairs p GROUP BY p.period, p.work_id, p.use
), terms AS (
    SELECT t.type, t.use, sum(t.rate) AS rate, sum(t.percent) AS percent, sum(t.amount) AS amount
      FROM licensing_term t
     WHERE t.agreement_id = %(agreement)s AND t.type IN ('per_unit', 'revenue_share', 'per_work')
     GROUP BY t.type, t.use
), lines AS (  -- each basis rounded on its own, as in the period's own lines
    SELECT u.period, u.work_id, u.use, u.quantity, round(u.quantity * t.rate * %(scale)s)::bigint AS gross
      FROM usage u JOIN terms t ON t.type = 'per_unit' AND t.use = u.use
    UNION ALL
    SELECT u.period, u.work_id, u.use, u.quantity, round(u.revenue * t.percent / 100)::bigint
      FROM usage u JOIN terms t ON t.type = 'revenue_share' AND t.use = u.use
     WHERE u.revenue <> 0
    UNION ALL
    SELECT n.period, n.work_id, n.use, n.pairs, (n.pairs * t.amount)::bigint
      FROM new_pairs n JOIN terms t ON t.type = 'per_work' AND t.use = n.use
)
INSERT INTO payouts_royalty (agreement_id, licensee_id, currency, work_id, use, basis, quantity, gross, commission,
                             adjusted_period)
SELECT %(agreement)s, %(licensee)s, %(currency)s, l.work_id, l.use, 'adjustment', l.quantity, l.gross,
       round(l.gross * %(commission)s / 100)::bigint, l.period
  FROM lines l
 WHERE l.gross <> 0
"""
LATE_AGREEMENTS = """
SELECT DISTINCT e.agreement_id FROM licensing_usageevent e JOIN licensing_usagereport r ON r.id = e.report_id
 WHERE e.late AND e.period < %(period)s AND e.agreement_id IS NOT NULL
   AND r.late AND r.status <> 'processing' AND r.adjusted_in IS NULL AND r.created_at < %(started_at)s
"""

# A fixed amount (%(amount)s > 0) spread over works by largest remainder in proportion to `weight` (ties: the larger
# weight, then the lower work id), or equally when every weight is 0: flat fees and minimum-guarantee top-ups.
ALLOCATE = """
WITH w AS MATERIALIZED ({weights}), total AS (
    SELECT sum(w.weight) AS weight, count(*) AS works FROM w
), exact AS (
    SELECT w.work_id, w.quantity, CASE WHEN t.weight > 0 THEN w.weight ELSE 1 END AS weight,
           %(amount)s::numeric * (CASE WHEN t.weight > 0 THEN w.weight ELSE 1 END)
               / (CASE WHEN t.weight > 0 THEN t.weight ELSE t.works END) AS q
      FROM w CROSS JOIN total t
), ranked AS (
    SELECT e.*, floor(e.q) AS f,
           row_number() OVER (ORDER BY e.q - floor(e.q) DESC, e.weight DESC, e.work_id) AS r,
           sum(floor(e.q)) OVER () AS floors
      FROM exact e
), parts AS (
    SELECT r.work_id, r.quantity, (r.f + (r.r <= %(amount)s - r.floors)::int)::bigint AS gross FROM ranked r
)
INSERT INTO payouts_royalty (agreement_id, licensee_id, currency, work_id, use, basis, quantity, gross, commission)
SELECT %(agreement)s, %(licensee)s, %(currency)s, p.work_id, '', %(basis)s, p.quantity, p.gross,
       round(p.gross * %(commission)s / 100)::bigint
  FROM parts p
 WHERE p.gross <> 0
"""
# The works an agreement covers that have rights holders to pay (licensing_work_facts: ancestors and owners).
COVERED_WORKS = """
SELECT f.work_id FROM licensing_work_facts f CROSS JOIN licensing_agreement a
 WHERE a.id = %(agreement)s AND cardinality(f.owners) > 0
   AND (a.scope_catalogue
        OR f.work_id IN (SELECT sw.work_id FROM licensing_agreement_scope_works sw WHERE sw.agreement_id = a.id)
        OR f.ancestors && ARRAY(SELECT sw.work_id FROM licensing_agreement_scope_works sw WHERE sw.agreement_id = a.id)
        OR f.owners && ARRAY(SELECT sh.rightsholder_id FROM licensing_agreement_scope_rights_holders sh
                              WHERE sh.agreement_id = a.id))
"""
# flat_fee: the period's covered usage quantity per work, or (none) the covered works, equally
FLAT_FEE_WEIGHTS = """
WITH used AS (
    SELECT e.work_id, sum(e.quantity) AS quantity FROM licensing_usageevent e
     WHERE e.period = %(period)s AND e.agreement_id = %(agreement)s AND NOT e.late GROUP BY e.work_id
)
SELECT u.work_id, u.quantity AS weight, u.quantity FROM used u
UNION ALL
SELECT c.work_id, 0, 0 FROM (<covered>) c WHERE NOT EXISTS (SELECT 1 FROM used)
""".replace("<covered>", COVERED_WORKS)
# minimum_guarantee: the royalties per work over the guarantee period (earlier periods' final lines and this run's)
MG_EARNED = """
WITH earned AS (
    SELECT l.work_id, sum(l.gross) AS gross FROM payouts_statementline l
      JOIN payouts_statement s ON s.id = l.statement_id
     WHERE l.agreement_id = %(agreement)s AND s.status <> 'draft' AND l.basis <> 'minimum_guarantee'
       AND s.period >= %(since)s AND s.period < %(period)s
     GROUP BY l.work_id
    UNION ALL
    SELECT r.work_id, sum(r.gross) FROM payouts_royalty r
     WHERE r.agreement_id = %(agreement)s AND r.basis <> 'minimum_guarantee'
     GROUP BY r.work_id
)
SELECT e.work_id, sum(e.gross) AS weight, 0::bigint AS quantity FROM earned e GROUP BY e.work_id
"""
MG_WEIGHTS = """
SELECT m.work_id, m.weight, m.quantity FROM (<earned>) m WHERE m.weight > 0
UNION ALL
SELECT c.work_id, 0, 0 FROM (<covered>) c WHERE NOT EXISTS (SELECT 1 FROM (<earned>) m WHERE m.weight > 0)
""".replace("<earned>", MG_EARNED).replace("<covered>", COVERED_WORKS)
# the total earned over the guarantee period: the earlier periods' final invoices (royalties of works without rights
# holders included, as in this run's lines) and this run's lines
MG_TOTAL = """
SELECT coalesce((SELECT sum(il.amount) FROM payouts_invoiceline il JOIN payouts_invoice i ON i.id = il.invoice_id
                  WHERE i.agreement_id = %(agreement)s AND i.status <> 'draft' AND il.basis <> 'minimum_guarantee'
                    AND i.period >= %(since)s AND i.period < %(period)s), 0)
     + coalesce((SELECT sum(r.gross) FROM payouts_royalty r
                  WHERE r.agreement_id = %(agreement)s AND r.basis <> 'minimum_guarantee'), 0)
"""

# Each royalty line's parts, one per effective share of its work, by largest remainder (ties: the larger share, then
# the lower rights-holder id); a negative amount is split as its magnitude, then negated.
SPLIT = """
CREATE TEMPORARY TABLE payouts_part ON COMMIT DROP AS
WITH shares AS MATERIALIZED (
    SELECT s.work_id, s.rights_holder_id, s.share
      FROM licensing_effective_shares(ARRAY(SELECT DISTINCT work_id FROM payouts_royalty)) s
), exact AS (
    SELECT r.id, s.rights_holder_id, s.share, abs(r.gross) * s.share / 100 AS g, abs(r.commission) * s.share / 100 AS c
      FROM payouts_royalty r JOIN shares s ON s.work_id = r.work_id
), floored AS (
    SELECT x.*, floor(x.g) AS g_floor, floor(x.c) AS c_floor FROM exact x
), ranked AS (
    SELECT f.*,
           row_number() OVER (PARTITION BY f.id ORDER BY f.g - f.g_floor DESC, f.share DESC, f.rights_holder_id)
               AS g_rank,
           row_number() OVER (PARTITION BY f.id ORDER BY f.c - f.c_floor DESC, f.share DESC, f.rights_holder_id)
               AS c_rank,
           sum(f.g_floor) OVER (PARTITION BY f.id) AS g_floors,
           sum(f.c_floor) OVER (PARTITION BY f.id) AS c_floors
      FROM floored f
)
SELECT k.id AS royalty_id, k.rights_holder_id,
       (sign(r.gross) * (k.g_floor + (k.g_rank <= abs(r.gross) - k.g_floors)::int))::bigint AS gross,
       (sign(r.commission) * (k.c_floor + (k.c_rank <= abs(r.commission) - k.c_floors)::int))::bigint AS commission
  FROM ranked k JOIN payouts_royalty r ON r.id = k.id
"""

UNALLOCATED = """
SELECT r.currency, sum(r.gross) FROM payouts_royalty r
 WHERE NOT EXISTS (SELECT 1 FROM payouts_part p WHERE p.royalty_id = r.id)
 GROUP BY r.currency HAVING sum(r.gross) <> 0
"""

# One draft statement per (holder, currency), upserted so that a rerun keeps its id; the taxes come after.
STATEMENTS = """
INSERT INTO payouts_statement (id, run_id, rights_holder_id, period, currency, status, gross, commission,
                               net_royalties, consumption_tax, withholding_tax, carried_forward, payable,
                               carried_out, registration_number)
SELECT gen_random_uuid(), %(run)s, p.rights_holder_id, %(period)s, r.currency, 'draft', sum(p.gross),
       sum(p.commission), sum(p.gross) - sum(p.commission), 0, 0, 0, sum(p.gross) - sum(p.commission), false, ''
  FROM payouts_part p JOIN payouts_royalty r ON r.id = p.royalty_id
 GROUP BY p.rights_holder_id, r.currency
ON CONFLICT (rights_holder_id, period, currency) DO UPDATE
   SET run_id = excluded.run_id, gross = excluded.gross, commission = excluded.commission,
       net_royalties = excluded.net_royalties, consumption_tax = 0, withholding_tax = 0, carried_forward = 0,
       payable = excluded.payable, carried_out = false
 WHERE payouts_statement.status = 'draft'
"""
LINES = """
INSERT INTO payouts_statementline (statement_id, licensee_id, agreement_id, work_id, use, basis, quantity, gross,
                                   commission, net, adjusted_period)
SELECT s.id, r.licensee_id, r.agreement_id, r.work_id, r.use, r.basis, r.quantity, p.gross, p.commission,
       p.gross - p.commission, r.adjusted_period
  FROM payouts_part p
  JOIN payouts_royalty r ON r.id = p.royalty_id
  JOIN payouts_statement s ON s.rights_holder_id = p.rights_holder_id AND s.period = %(period)s
                          AND s.currency = r.currency
"""
INVOICES = """
WITH royalties AS (
    SELECT r.agreement_id, r.licensee_id, r.currency, sum(r.gross) AS amount FROM payouts_royalty r
     GROUP BY r.agreement_id, r.licensee_id, r.currency
), advance AS (
    SELECT t.agreement_id, sum(t.amount) AS amount FROM licensing_term t
     WHERE t.type = 'advance' AND t.agreement_id IN (SELECT agreement_id FROM royalties)
     GROUP BY t.agreement_id
), recouped AS (
    SELECT i.agreement_id, sum(i.advance_recouped) AS amount FROM payouts_invoice i
     WHERE i.status <> 'draft' AND i.period < %(period)s AND i.agreement_id IN (SELECT agreement_id FROM royalties)
     GROUP BY i.agreement_id
), due AS (
    SELECT r.*, least(greatest(r.amount, 0), greatest(coalesce(a.amount, 0) - coalesce(c.amount, 0), 0)) AS recoup
      FROM royalties r
      LEFT JOIN advance a ON a.agreement_id = r.agreement_id
      LEFT JOIN recouped c ON c.agreement_id = r.agreement_id
)
INSERT INTO payouts_invoice (id, run_id, licensee_id, agreement_id, period, currency, status, royalties,
                             advance_recouped, amount_due)
SELECT gen_random_uuid(), %(run)s, d.licensee_id, d.agreement_id, %(period)s, d.currency, 'draft', d.amount, d.recoup,
       d.amount - d.recoup
  FROM due d
ON CONFLICT (agreement_id, period) DO UPDATE
   SET run_id = excluded.run_id, royalties = excluded.royalties, advance_recouped = excluded.advance_recouped,
       amount_due = excluded.amount_due
 WHERE payouts_invoice.status = 'draft'
"""
INVOICE_LINES = """
INSERT INTO payouts_invoiceline (invoice_id, basis, use, quantity, amount)
SELECT i.id, r.basis, r.use, sum(r.quantity), sum(r.gross)
  FROM payouts_royalty r JOIN payouts_invoice i ON i.agreement_id = r.agreement_id AND i.period = %(period)s
 GROUP BY i.id, r.basis, r.use
"""


def last_day(period: dt.date) -> dt.date:
    return period.replace(day=calendar.monthrange(period.year, period.month)[1])


def statement_run_compute(*, run: StatementRun) -> StatementRun:
    """Compute the run's period: draft statements and invoices, recomputed in place on a rerun, in one
    transaction. RunRefused when the period is final or another run of it holds the period's lock."""
    with transaction.atomic():
        _lock_period(run)
        mark = usage_mark(run.period)
        agreements = run_agreements(run)
        with connection.cursor() as cursor:
            _royalty_table(cursor)
            _royalty_lines(cursor, run, agreements, _Progress(run, len(agreements)))
            lines = _assemble(cursor, run)
        _done(run, lines, len(agreements), mark)
    run.refresh_from_db()
    return run


def statement_run_compute_part(*, run: StatementRun, part: int, agreement_ids: list) -> int:
    """One worker's share of a run split across several: the royalty lines of `agreement_ids` (the dispatcher
    fixed the run's agreements once and dealt them out), committed into payouts_royaltystage for
    statement_run_assemble. Idempotent (a redelivery replaces the part's rows); holds no lock on the period, so
    parts run side by side. Returns the lines written."""
    with transaction.atomic():
        if ReportingPeriod.objects.filter(period=run.period, status=PeriodStatus.FINAL).exists():
            raise RunRefused(_("%(period)s is final: its statements never change.") % {"period": f"{run.period:%Y-%m}"})
        agreements = list(
            Agreement.objects.filter(pk__in=agreement_ids)
            .prefetch_related(Prefetch("terms", queryset=Term.objects.filter(type__in=FIXED_TERMS)))
            .order_by("id")
        )
        with connection.cursor() as cursor:
            _royalty_table(cursor)
            _royalty_lines(cursor, run, agreements, _Progress(run, None))
            cursor.execute("DELETE FROM payouts_royaltystage WHERE run_id = %s AND part = %s", [run.pk, part])
            cursor.execute(STAGE_PART, [run.pk, part])
            written = cursor.rowcount
            cursor.execute("DROP TABLE payouts_royalty")
    return written


def statement_run_assemble(*, run: StatementRun) -> StatementRun:
    """After every part: the statements and invoices from the parts' lines, in one transaction holding the
    period's lock (RunRefused as statement_run_compute)."""
    with transaction.atomic():
        _lock_period(run)
        total = StatementRun.objects.get(pk=run.pk).agreements_total
        with connection.cursor() as cursor:
            _royalty_table(cursor)
            cursor.execute(UNSTAGE, [run.pk])
            lines = _assemble(cursor, run)
            cursor.execute("DELETE FROM payouts_royaltystage WHERE run_id = %s", [run.pk])
        _done(run, lines, total, run.usage_mark)
    run.refresh_from_db()
    return run


ROYALTY_COLUMNS = (
    "agreement_id, licensee_id, currency, work_id, use, basis, quantity, gross, commission, adjusted_period"
)
STAGE_PART = "INSERT INTO payouts_royaltystage (run_id, part, <c>) SELECT %s, %s, <c> FROM payouts_royalty".replace(
    "<c>", ROYALTY_COLUMNS
)
UNSTAGE = "INSERT INTO payouts_royalty (<c>) SELECT <c> FROM payouts_royaltystage WHERE run_id = %s".replace(
    "<c>", ROYALTY_COLUMNS
)


def _lock_period(run: StatementRun) -> None:
    period = run.period
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtextextended('payouts:' || %s::text, 0))", [period])
        if not cursor.fetchone()[0]:
            raise RunRefused(_("Another run of %(period)s is under way.") % {"period": period.strftime("%Y-%m")})
    # holding the period's lock, no other run of it is alive: one still marked running was killed with its worker
    StatementRun.objects.filter(period=period, status=RunStatus.RUNNING).exclude(pk=run.pk).update(
        status=RunStatus.FAILED, error=_("Interrupted (its worker stopped); a later run replaced it."),
        finished_at=timezone.now(),
    )  # fmt: skip
    if ReportingPeriod.objects.filter(period=period, status=PeriodStatus.FINAL).exists():
        raise RunRefused(_("%(period)s is final: its statements never change.") % {"period": period.strftime("%Y-%m")})
    if StatementRun.objects.filter(period=period, created_at__gt=run.created_at).exists():
        # a redelivery of an old run must not take the period's drafts from the run that replaced it
        raise RunRefused(_("A later run of this period exists: this one is superseded."))


def usage_mark(period: dt.date) -> int:
    """The highest usage event id of the period (its partition's primary key): finalize compares it, so that
    usage stored after the run computed is never left out of final statements."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM licensing_usageevent WHERE period = %s", [period])
        return cursor.fetchone()[0]


def run_agreements(run: StatementRun) -> list[Agreement]:
    """The agreements a run bills, by id: those with usage in the period, with a flat fee or minimum guarantee
    active in it, or with late usage to adjust (from reports received before the run was requested)."""
    period = run.period
    with connection.cursor() as cursor:
        cursor.execute(LATE_AGREEMENTS, {"period": period, "started_at": run.created_at})
        late = [row[0] for row in cursor.fetchall()]
    with_fixed_terms = Agreement.objects.filter(
        status__in=BILLED_STATUSES, starts_on__lte=last_day(period), terms__type__in=FIXED_TERMS
    ).exclude(ends_on__lt=period)
    return list(
        Agreement.objects.filter(Q(pk__in=_agreements_with_usage(period)) | Q(pk__in=with_fixed_terms) | Q(pk__in=late))
        .prefetch_related(Prefetch("terms", queryset=Term.objects.filter(type__in=FIXED_TERMS)))
        .order_by("id")
    )


def _royalty_table(cursor) -> None:
    cursor.execute("DROP TABLE IF EXISTS payouts_royalty, payouts_part")
    cursor.execute(ROYALTY_LINES)


def _royalty_lines(cursor, run: StatementRun, agreements: list[Agreement], progress: _Progress) -> None:
    """Every line of these agreements for the run's period into payouts_royalty (one GROUP BY per agreement)."""
    period = run.period
    progress.done(0)  # never written by the run's transaction before its end: this connection would wait for it
    for done, agreement in enumerate(agreements, start=1):
        params = {
            "agreement": agreement.pk, "licensee": agreement.licensee_id, "currency": agreement.currency,
            "period": period, "scale": 10 ** currency_digits(agreement.currency), "commission": agreement.commission,
        }  # fmt: skip
        cursor.execute(AGREEMENT_LINES, params)
        cursor.execute(ADJUSTMENT_LINES, {**params, "started_at": run.created_at})
        _fixed_terms(cursor, agreement, period, params)
        progress.done(done)
    progress.close()


def _assemble(cursor, run: StatementRun) -> int:
    """payouts_royalty's lines split among the shares, into the period's draft statements and invoices (their
    earlier drafts updated in place). Returns the statement lines written."""
    period = run.period
    cursor.execute(
        "DELETE FROM payouts_statementline l USING payouts_statement s "
        "WHERE s.id = l.statement_id AND s.period = %s AND s.status = 'draft'", [period]
    )  # fmt: skip
    cursor.execute(
        "DELETE FROM payouts_invoiceline l USING payouts_invoice i "
        "WHERE i.id = l.invoice_id AND i.period = %s AND i.status = 'draft'", [period]
    )  # fmt: skip
    cursor.execute("ANALYZE payouts_royalty")  # temporary tables have no statistics until analysed: the joins
    cursor.execute(SPLIT)  # below are planned on real row counts, not on guesses (a hash of every pair otherwise)
    cursor.execute("ANALYZE payouts_part")
    cursor.execute(UNALLOCATED)  # lines of works that have no rights holder: billed, not paid to anyone yet
    unallocated = {currency: int(amount) for currency, amount in cursor.fetchall()}
    StatementRun.objects.filter(pk=run.pk).update(unallocated=unallocated)
    params = {"run": run.pk, "period": period}
    cursor.execute(STATEMENTS, params)
    cursor.execute("ANALYZE payouts_statement")  # a new period's statements are not in its statistics yet
    cursor.execute(LINES, params)
    lines = cursor.rowcount
    cursor.execute(INVOICES, params)
    cursor.execute(INVOICE_LINES, params)
    # drafts of an earlier run that no longer have anything
    cursor.execute("DELETE FROM payouts_statement WHERE period = %s AND status = 'draft' AND run_id <> %s",
                   [period, run.pk])  # fmt: skip
    cursor.execute("DELETE FROM payouts_invoice WHERE period = %s AND status = 'draft' AND run_id <> %s",
                   [period, run.pk])  # fmt: skip
    cursor.execute("DROP TABLE payouts_royalty, payouts_part")
    _taxes_and_payables(run, period)
    return lines


def _done(run: StatementRun, lines: int, agreements: int, mark: int) -> None:
    StatementRun.objects.filter(pk=run.pk).update(
        status=RunStatus.DONE, started_at=Coalesce(F("started_at"), Now()), finished_at=timezone.now(),
        lines_written=lines, agreements_total=agreements, agreements_done=agreements, error="", usage_mark=mark,
    )  # fmt: skip


FIXED_TERMS = (TermType.FLAT_FEE, TermType.MINIMUM_GUARANTEE)
# fixed terms bill the months an agreement ran: an agreement terminated since (its ends_on set) still owes them when
# an earlier month is computed; a draft or suspended one owes none
BILLED_STATUSES = (AgreementStatus.ACTIVE, AgreementStatus.TERMINATED)
FIRST_MONTHS = {Every.MONTH: range(1, 13), Every.QUARTER: (1, 4, 7, 10), Every.YEAR: (1,)}
MONTHS_IN = {Every.MONTH: 1, Every.QUARTER: 3, Every.YEAR: 12}


def _window_start(period: dt.date, every: str) -> dt.date:
    """The first month of the calendar month, quarter or year that holds `period`."""
    months = MONTHS_IN[every]
    return period.replace(month=(period.month - 1) // months * months + 1)


def _fixed_terms(cursor, agreement: Agreement, period: dt.date, params: dict) -> None:
    """flat_fee: due at the start of each calendar month, quarter or year the agreement is active in (and in its
    first month); minimum_guarantee: at the end of each, the shortfall of the royalties earned over it."""
    if agreement.status not in BILLED_STATUSES or agreement.starts_on > last_day(period):
        return
    if agreement.ends_on is not None and agreement.ends_on < period:
        return
    first_month = agreement.starts_on.replace(day=1) == period
    for term in agreement.terms.all():
        every = term.every
        if term.type == TermType.FLAT_FEE and (period.month in FIRST_MONTHS[every] or first_month):
            cursor.execute(ALLOCATE.format(weights=FLAT_FEE_WEIGHTS),
                           {**params, "amount": term.amount, "basis": TermType.FLAT_FEE})  # fmt: skip
        ends_here = agreement.ends_on is not None and agreement.ends_on <= last_day(period)
        if term.type == TermType.MINIMUM_GUARANTEE and (period.month % MONTHS_IN[every] == 0 or ends_here):
            since = max(_window_start(period, every), agreement.starts_on.replace(day=1))
            window = {**params, "since": since}
            cursor.execute(MG_TOTAL, window)
            shortfall = term.amount - int(cursor.fetchone()[0])
            if shortfall > 0:
                cursor.execute(ALLOCATE.format(weights=MG_WEIGHTS),
                               {**window, "amount": shortfall, "basis": TermType.MINIMUM_GUARANTEE})  # fmt: skip


class _Progress:
    """The run's progress, written on a connection of its own (autocommit) so that the API and the admin see it
    while the run's own transaction is still open; at most once a second."""

    def __init__(self, run: StatementRun, total: int | None) -> None:
        """total None: one part of several, which adds what it has done to the run's count (the dispatcher set
        the total)."""
        self.run_id, self.total, self.written_at, self.connection, self.reported = run.pk, total, 0.0, None, 0

    def done(self, agreements: int) -> None:
        now = time.monotonic()
        if now - self.written_at < 1 and (self.total is None or agreements < self.total):
            return
        self.written_at = now
        try:
            if self.connection is None:
                self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
            with self.connection.cursor() as cursor:
                if self.total is None:
                    cursor.execute(
                        "UPDATE payouts_statementrun SET status = 'running', agreements_done = least("
                        "agreements_done + %s, agreements_total), started_at = coalesce(started_at, now()) "
                        "WHERE id = %s", [agreements - self.reported, self.run_id],
                    )  # fmt: skip
                    self.reported = agreements
                else:
                    cursor.execute(
                        "UPDATE payouts_statementrun SET status = 'running', agreements_total = %s, "
                        "agreements_done = %s, started_at = coalesce(started_at, now()), error = '' WHERE id = %s",
                        [self.total, agreements, self.run_id],
                    )  # fmt: skip
        except DatabaseError:  # progress is a courtesy: the run goes on without it
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _agreements_with_usage(period: dt.date) -> list:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT agreement_id FROM licensing_usageevent WHERE period = %s AND agreement_id IS NOT NULL",
            [period],
        )
        return [row[0] for row in cursor.fetchall()]


def _taxes_and_payables(run: StatementRun, period: dt.date) -> None:
    """Per statement, in one pass: consumption and withholding tax (TaxRule in force on the period's last day),
    the payable carried from the holder's previous statement in that currency, and whether this one is carried in
    turn (below the holder's minimum payout)."""
    rates = TaxRates.on_date(last_day(period))
    statements = list(Statement.objects.filter(run=run, status=StatementStatus.DRAFT).select_related("rights_holder"))
    carried = _carried_in(period, [s.rights_holder_id for s in statements])
    for statement in statements:
        holder = statement.rights_holder
        statement.registration_number = holder.invoice_registration_number or ""
        statement.consumption_tax = rates.consumption_tax(
            statement.net_royalties, registration_number=holder.invoice_registration_number, resident=holder.resident
        )
        statement.withholding_tax = rates.withholding_tax(
            statement.net_royalties, statement.currency, kind=holder.kind, resident=holder.resident
        )
        statement.carried_forward = carried.get((holder.pk, statement.currency), 0)
        statement.payable = (
            statement.net_royalties + statement.consumption_tax - statement.withholding_tax + statement.carried_forward
        )
        minimum = holder.minimum_payout_amount if holder.minimum_payout_currency == statement.currency else 0
        statement.carried_out = statement.payable < minimum
    Statement.objects.bulk_update(
        statements,
        ["registration_number", "consumption_tax", "withholding_tax", "carried_forward", "payable", "carried_out"],
        batch_size=2000,
    )


def _carried_in(period: dt.date, holder_ids: list) -> dict[tuple, int]:
    """(holder, currency) → the payable of its latest earlier statement when that one was carried out."""
    latest = (
        Statement.objects.filter(rights_holder_id__in=holder_ids, period__lt=period)
        .exclude(status=StatementStatus.DRAFT)
        .order_by("rights_holder_id", "currency", "-period")
        .distinct("rights_holder_id", "currency")
        .values_list("rights_holder_id", "currency", "payable", "carried_out")
    )
    return {(holder, currency): payable for holder, currency, payable, carried_out in latest if carried_out}
