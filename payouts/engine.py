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
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.db.models import F, Prefetch, Q
from django.db.models.functions import Coalesce, Now
from django.utils import timezone
from django.utils.translation import gettext as _

from config.locks import xact_lock
from ledger.money import currency_digits
from licensing.choices import AgreementStatus, Every, TermType
from licensing.models import Agreement, PeriodStatus, ReportingPeriod, ReportStatus, Term, UsageReport
from licensing.usage import period_closed

from .models import RoyaltyStage, RunStatus, RunStep, Statement, StatementRun, StatementStatus
from .taxes import TaxRates


class RunRefused(Exception):
    """The period cannot be computed now (final already, or another run of it is under way)."""


class PeriodBusy(RunRefused):
    """Another session holds the period's lock: a run of it computing, finalizing, or the session of a worker lost
    mid-run that PostgreSQL has not ended yet (client_connection_check_interval)."""


ROYALTY_LINES = """
CREATE TEMPORARY TABLE payouts_royalty (
    agreement_id uuid NOT NULL, licensee_id uuid NOT NULL, currency text NOT NULL, work_id uuid NOT NULL,
    use text NOT NULL, basis text NOT NULL, quantity bigint NOT NULL, gross bigint NOT NULL, commission bigint NOT NULL,
    adjusted_period date
) ON COMMIT DROP
"""
# the agreements of the run (or of one part of it), with what pricing needs: 10 ** the currency's minor digits
# (rates are in major units) and the commission percent
RUN_AGREEMENTS = """
CREATE TEMPORARY TABLE payouts_agreement ON COMMIT DROP AS
SELECT a.id, a.licensee_id, a.currency, a.scale, a.commission
  FROM unnest(%(ids)s::uuid[], %(licensees)s::uuid[], %(currencies)s::text[], %(scales)s::bigint[],
              %(commissions)s::numeric[]) AS a(id, licensee_id, currency, scale, commission)
"""

# Each agreement of the run and use with its contract's versions (same licensee and reference) that have a per_work
# term for that use, and the earlier ones among them: a per_work pair is billed once under the contract, whichever
# of those versions it was reported under (a version without the term billed nothing for it).
CONTRACTS = """
CREATE TEMPORARY TABLE payouts_contract ON COMMIT DROP AS
SELECT a.id AS agreement_id, t.use, array_agg(DISTINCT m.id) AS members,
       coalesce(array_agg(DISTINCT m.id) FILTER (WHERE m.version < g.version), '{}') AS earlier
  FROM payouts_agreement a JOIN licensing_agreement g ON g.id = a.id
  JOIN licensing_agreement m ON m.licensee_id = g.licensee_id AND m.reference = g.reference
  JOIN licensing_term t ON t.agreement_id = m.id AND t.type = 'per_work'
 GROUP BY a.id, t.use
"""

# The run's prices per (agreement, use): per_unit rates in minor units (10 ** the currency's minor digits × the rate
# in major units) and revenue_share percents, terms of one type and use added up
PRICES = """
CREATE TEMPORARY TABLE payouts_price ON COMMIT DROP AS
SELECT t.agreement_id, t.use, a.licensee_id, a.currency, a.commission,
       sum(t.rate) FILTER (WHERE t.type = 'per_unit') * a.scale AS unit,
       sum(t.percent) FILTER (WHERE t.type = 'revenue_share') AS percent
  FROM licensing_term t JOIN payouts_agreement a ON a.id = t.agreement_id
 WHERE t.type IN ('per_unit', 'revenue_share')
 GROUP BY t.agreement_id, t.use, a.licensee_id, a.currency, a.commission, a.scale
"""
# The usage-based lines of every agreement of the run at once, from one GROUP BY over the month's partition, each
# group priced by its (agreement, use)'s terms: per_unit (quantity × rate) and revenue_share (the revenue reported ×
# percent; the line's quantity is all of the group's usage, as on the per_unit line), each basis rounded half-up once
# per line, then the agreement's commission. <only_these> limits the scan to the run's agreements when they are a
# part of the period's (a run split across workers).
USAGE_LINES = """
WITH usage AS (
    SELECT e.agreement_id, e.work_id, e.use, sum(e.quantity) AS quantity, sum(e.revenue_amount) AS revenue
      FROM licensing_usageevent e
     WHERE e.period = %(period)s AND NOT e.late AND e.agreement_id IS NOT NULL <only_these>
     GROUP BY e.agreement_id, e.work_id, e.use
)
INSERT INTO payouts_royalty (agreement_id, licensee_id, currency, work_id, use, basis, quantity, gross, commission)
SELECT l.agreement_id, l.licensee_id, l.currency, l.work_id, l.use, l.basis, l.quantity, l.gross,
       round(l.gross * l.commission / 100)::bigint
  FROM (SELECT u.agreement_id, u.work_id, u.use, u.quantity, p.licensee_id, p.currency, p.commission, b.basis, b.gross
          FROM usage u JOIN payouts_price p ON p.agreement_id = u.agreement_id AND p.use = u.use
         CROSS JOIN LATERAL (VALUES ('per_unit', round(u.quantity * p.unit)::bigint),
                                    ('revenue_share', round(u.revenue * p.percent / 100)::bigint)) AS b(basis, gross)
       ) l
 WHERE l.gross <> 0  -- no such term (NULL), no revenue reported (NULL), or nothing due
"""
ONLY_THESE = "AND e.agreement_id IN (SELECT id FROM payouts_agreement)"
SEQUENTIAL_SCAN = "SELECT set_config('enable_indexscan', %s, true), set_config('enable_bitmapscan', %s, true)"
# per_work: the fee × the (work, model) pairs of this period never reported under the agreement for that use before
PER_WORK_LINES = """
WITH terms AS MATERIALIZED (
    SELECT t.agreement_id, t.use, sum(t.amount) AS amount
      FROM licensing_term t JOIN payouts_agreement a ON a.id = t.agreement_id
     WHERE t.type = 'per_work'
     GROUP BY t.agreement_id, t.use
), pairs AS (
    SELECT e.agreement_id, e.work_id, e.use, e.model
      FROM licensing_usageevent e JOIN terms t ON t.agreement_id = e.agreement_id AND t.use = e.use
     WHERE e.period = %(period)s AND NOT e.late
     GROUP BY e.agreement_id, e.work_id, e.use, e.model
), first_pairs AS (
    SELECT p.agreement_id, p.work_id, p.use, count(*) AS pairs
      FROM pairs p JOIN payouts_contract c ON c.agreement_id = p.agreement_id AND c.use = p.use
     WHERE NOT EXISTS (  -- billed under the contract in an earlier period, as its own usage or adjusted, or adjusted
                         -- by this run (earlier partitions only: the period is a constant)
           SELECT 1 FROM licensing_usageevent o LEFT JOIN licensing_usagereport orr ON orr.id = o.report_id
            WHERE o.agreement_id = ANY(c.members) AND o.work_id = p.work_id AND o.use = p.use AND o.model = p.model
              AND o.period < %(period)s
              AND (NOT o.late OR orr.adjusted_in IS NOT NULL OR orr.id = ANY(%(late_reports)s::uuid[])))
       AND NOT (cardinality(c.earlier) > 0 AND EXISTS (  -- or this period, under an earlier version
           SELECT 1 FROM licensing_usageevent o
            WHERE o.agreement_id = ANY(c.earlier) AND o.work_id = p.work_id AND o.use = p.use AND o.model = p.model
              AND o.period = %(period)s AND NOT o.late))
     GROUP BY p.agreement_id, p.work_id, p.use
)
INSERT INTO payouts_royalty (agreement_id, licensee_id, currency, work_id, use, basis, quantity, gross, commission)
SELECT f.agreement_id, a.licensee_id, a.currency, f.work_id, f.use, 'per_work', f.pairs, (f.pairs * t.amount)::bigint,
       round((f.pairs * t.amount)::bigint * a.commission / 100)::bigint
  FROM first_pairs f
  JOIN terms t ON t.agreement_id = f.agreement_id AND t.use = f.use
  JOIN payouts_agreement a ON a.id = f.agreement_id
 WHERE f.pairs * t.amount <> 0
"""
HAS_PER_WORK = """
SELECT EXISTS (SELECT 1 FROM licensing_term t JOIN payouts_agreement a ON a.id = t.agreement_id
                WHERE t.type = 'per_work')
"""

# Late usage (reported after its period was closed) of the late reports the run adjusts (fixed once per run:
# StatementRun.late_reports, see late_reports_of), of the run's agreements: priced by their per_unit, revenue_share
# and per_work terms, as `adjustment` lines naming their period. Read from the late reports (few), not from the
# months' partitions.
LATE_EVENTS = """
SELECT e.agreement_id, e.period, e.work_id, e.use, e.model, e.quantity, e.revenue_amount
  FROM licensing_usagereport r JOIN licensing_usageevent e ON e.report_id = r.id AND e.period = r.period
 WHERE r.id = ANY(%(late_reports)s::uuid[]) AND e.late AND e.agreement_id IS NOT NULL
"""
ADJUSTMENT_LINES = """
WITH late AS MATERIALIZED (
    SELECT l.* FROM (<late>) l WHERE l.agreement_id IN (SELECT id FROM payouts_agreement)
), usage AS (
    SELECT l.agreement_id, l.period, l.work_id, l.use, sum(l.quantity) AS quantity,
           coalesce(sum(l.revenue_amount), 0) AS revenue
      FROM late l GROUP BY l.agreement_id, l.period, l.work_id, l.use
), pairs AS (  -- per_work: a (work, model) pair billed in the earliest period it is late for, if never billed before
    SELECT p.agreement_id, p.work_id, p.use, min(p.period) AS period
      FROM (SELECT l.agreement_id, l.work_id, l.use, l.model, min(l.period) AS period
              FROM late l GROUP BY l.agreement_id, l.work_id, l.use, l.model) p
      JOIN payouts_contract c ON c.agreement_id = p.agreement_id AND c.use = p.use
     WHERE NOT EXISTS (  -- billed already under the contract: in an earlier period's own statements (any period
                         -- before the run's), or adjusted already
               SELECT 1 FROM licensing_usageevent o LEFT JOIN licensing_usagereport orr ON orr.id = o.report_id
                WHERE o.agreement_id = ANY(c.members) AND o.work_id = p.work_id AND o.use = p.use
                  AND o.model = p.model AND o.period < %(period)s AND (NOT o.late OR orr.adjusted_in IS NOT NULL))
       AND NOT EXISTS (  -- late in this run under an earlier version of the contract too: billed under that one
               SELECT 1 FROM late l2
                WHERE l2.agreement_id = ANY(c.earlier) AND l2.work_id = p.work_id AND l2.use = p.use
                  AND l2.model = p.model)
     GROUP BY p.agreement_id, p.work_id, p.use, p.model
), new_pairs AS (
    SELECT p.agreement_id, p.period, p.work_id, p.use, count(*) AS pairs
      FROM pairs p GROUP BY p.agreement_id, p.period, p.work_id, p.use
), terms AS (
    SELECT t.agreement_id, t.type, t.use, sum(t.rate) AS rate, sum(t.percent) AS percent, sum(t.amount) AS amount
      FROM licensing_term t
     WHERE t.agreement_id IN (SELECT agreement_id FROM late) AND t.type IN ('per_unit', 'revenue_share', 'per_work')
     GROUP BY t.agreement_id, t.type, t.use
), lines AS (  -- each basis rounded on its own, as in the period's own lines
    SELECT u.agreement_id, u.period, u.work_id, u.use, u.quantity,
           round(u.quantity * t.rate * a.scale)::bigint AS gross
      FROM usage u JOIN terms t ON t.agreement_id = u.agreement_id AND t.type = 'per_unit' AND t.use = u.use
      JOIN payouts_agreement a ON a.id = u.agreement_id
    UNION ALL
    SELECT u.agreement_id, u.period, u.work_id, u.use, u.quantity, round(u.revenue * t.percent / 100)::bigint
      FROM usage u JOIN terms t ON t.agreement_id = u.agreement_id AND t.type = 'revenue_share' AND t.use = u.use
     WHERE u.revenue <> 0
    UNION ALL
    SELECT n.agreement_id, n.period, n.work_id, n.use, n.pairs, (n.pairs * t.amount)::bigint
      FROM new_pairs n JOIN terms t ON t.agreement_id = n.agreement_id AND t.type = 'per_work' AND t.use = n.use
)
INSERT INTO payouts_royalty (agreement_id, licensee_id, currency, work_id, use, basis, quantity, gross, commission,
                             adjusted_period)
SELECT l.agreement_id, a.licensee_id, a.currency, l.work_id, l.use, 'adjustment', l.quantity, l.gross,
       round(l.gross * a.commission / 100)::bigint, l.period
  FROM lines l JOIN payouts_agreement a ON a.id = l.agreement_id
 WHERE l.gross <> 0
""".replace("<late>", LATE_EVENTS)
LATE_AGREEMENTS = "SELECT DISTINCT l.agreement_id FROM (<late>) l".replace("<late>", LATE_EVENTS)

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
     WHERE e.period = %(period)s AND e.agreement_id = ANY(%(members)s::uuid[]) AND NOT e.late GROUP BY e.work_id
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
     WHERE l.agreement_id = ANY(%(members)s::uuid[]) AND s.status <> 'draft' AND l.basis <> 'minimum_guarantee'
       AND l.period >= %(since)s AND l.period < %(period)s
     GROUP BY l.work_id
    UNION ALL
    SELECT r.work_id, sum(r.gross) FROM payouts_royalty r
     WHERE r.agreement_id = ANY(%(members)s::uuid[]) AND r.basis <> 'minimum_guarantee'
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
                  WHERE i.agreement_id = ANY(%(members)s::uuid[]) AND i.status <> 'draft'
                    AND il.basis <> 'minimum_guarantee' AND i.period >= %(since)s AND i.period < %(period)s), 0)
     + coalesce((SELECT sum(r.gross) FROM payouts_royalty r
                  WHERE r.agreement_id = ANY(%(members)s::uuid[]) AND r.basis <> 'minimum_guarantee'), 0)
"""

# The royalties of the run summed in one pass two ways: per (work, currency), whose works' effective shares are read
# once (licensing_effective_shares), and per (agreement, basis, use), the invoices' lines.
ROYALTY_SUMS = """
CREATE TEMPORARY TABLE payouts_royalty_sum ON COMMIT DROP AS
SELECT grouping(r.work_id) = 1 AS for_invoice, r.work_id, r.currency, r.agreement_id, r.licensee_id, r.basis, r.use,
       sum(r.quantity) AS quantity, sum(r.gross) AS gross
  FROM payouts_royalty r
 GROUP BY GROUPING SETS ((r.work_id, r.currency), (r.agreement_id, r.licensee_id, r.currency, r.basis, r.use))
"""
# Each work's effective shares, with what the split needs: every holder's share in hundredths of a percent (shares
# have two decimals) in the order that breaks ties (the larger share, then the lower rights-holder id), and each
# holder's place in it
SHARES = """
CREATE TEMPORARY TABLE payouts_shares ON COMMIT DROP AS
SELECT s.work_id, s.rights_holder_id, array_agg((s.share * 100)::bigint) OVER every AS shares,
       (row_number() OVER ordered)::int AS pos
  FROM licensing_effective_shares(
           ARRAY(SELECT DISTINCT w.work_id FROM payouts_royalty_sum w WHERE NOT w.for_invoice)) s
WINDOW ordered AS (PARTITION BY s.work_id ORDER BY s.share DESC, s.rights_holder_id),
       every AS (ordered ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
"""
# royalties of works that have no rights holder: billed, not paid to anyone yet
UNALLOCATED = """
SELECT w.currency, sum(w.gross) FROM payouts_royalty_sum w
 WHERE NOT w.for_invoice AND NOT EXISTS (SELECT 1 FROM payouts_shares s WHERE s.work_id = w.work_id)
 GROUP BY w.currency HAVING sum(w.gross) <> 0
"""
# One draft statement per (holder, currency) with a part of a line, upserted so that a rerun keeps its id; its totals
# are summed from its lines once they are written, its taxes after.
STATEMENTS = """
INSERT INTO payouts_statement (id, run_id, rights_holder_id, period, currency, status, gross, commission,
                               net_royalties, consumption_tax, withholding_tax, carried_forward, payable,
                               carried_out, registration_number)
SELECT gen_random_uuid(), %(run)s, h.rights_holder_id, %(period)s, h.currency, 'draft', 0, 0, 0, 0, 0, 0, 0, false, ''
  FROM (SELECT DISTINCT s.rights_holder_id, w.currency
          FROM payouts_royalty_sum w JOIN payouts_shares s ON s.work_id = w.work_id WHERE NOT w.for_invoice) h
ON CONFLICT (rights_holder_id, period, currency) DO UPDATE
   SET run_id = excluded.run_id, gross = 0, commission = 0, net_royalties = 0, consumption_tax = 0,
       withholding_tax = 0, carried_forward = 0, payable = 0, carried_out = false
 WHERE payouts_statement.status = 'draft'
"""
# Per (work, currency): each holder's statement, its place among the work's shares (SHARES), and whether the holder
# has the whole work (100.00 %: its lines are not split)
WORK_STATEMENTS = """
CREATE TEMPORARY TABLE payouts_work_statement ON COMMIT DROP AS
SELECT s.work_id, w.currency, st.id AS statement_id, s.shares, s.pos, s.shares = '{10000}' AS whole
  FROM payouts_royalty_sum w
  JOIN payouts_shares s ON s.work_id = w.work_id
  JOIN payouts_statement st ON st.rights_holder_id = s.rights_holder_id AND st.currency = w.currency
                           AND st.period = %(period)s
 WHERE NOT w.for_invoice
"""
# Each royalty line's parts, one per effective share of its work, written into the period's new partition
# (<lines>): a work held whole by one rights holder takes the whole line; otherwise the line is split by the largest
# remainder (payouts_split_part, payouts/sql/0013_split_part.sql), gross and commission alike: the parts add up to
# the line exactly. One hash join, no sort: the split of a line needs only its amount and its work's shares.
LINES = """
INSERT INTO <lines> (id, period, statement_id, licensee_id, agreement_id, work_id, use, basis, adjusted_period,
                     quantity, gross, commission, net)
SELECT nextval(%(sequence)s::regclass), %(period)s, p.statement_id, p.licensee_id, p.agreement_id, p.work_id, p.use,
       p.basis, p.adjusted_period, p.quantity, p.gross, p.commission, p.gross - p.commission
  FROM (SELECT r.licensee_id, r.agreement_id, r.work_id, r.use, r.basis, r.adjusted_period, r.quantity,
               ws.statement_id,
               CASE WHEN ws.whole THEN r.gross ELSE payouts_split_part(r.gross, ws.shares, ws.pos) END AS gross,
               CASE WHEN ws.whole THEN r.commission
                    ELSE payouts_split_part(r.commission, ws.shares, ws.pos) END AS commission
          FROM payouts_royalty r
          JOIN payouts_work_statement ws ON ws.work_id = r.work_id AND ws.currency = r.currency
        OFFSET 0) p  -- each part computed once (not again for net)
"""
STATEMENT_TOTALS = """
UPDATE payouts_statement s
   SET gross = t.gross, commission = t.commission, net_royalties = t.gross - t.commission,
       payable = t.gross - t.commission
  FROM (SELECT l.statement_id, sum(l.gross) AS gross, sum(l.commission) AS commission
          FROM <lines> l GROUP BY l.statement_id) t
 WHERE s.id = t.statement_id
"""
# The period's partition of the lines: built apart without indexes or foreign keys (checked as it is filled), its
# indexes made once, then attached (PostgreSQL then validates each foreign key in one pass). Same indexes as the
# parent's (payouts/sql/0009_lines_by_period.sql), so that the attachment adopts them.
NEW_PARTITION = """
CREATE TABLE <lines> (LIKE payouts_statementline INCLUDING DEFAULTS INCLUDING CONSTRAINTS,
                      CHECK (period >= %(period)s AND period < %(next)s))
"""
PARTITION_INDEXES = (
    "ALTER TABLE <lines> ADD PRIMARY KEY (id, period)",
    "CREATE INDEX ON <lines> (statement_id)",
    "CREATE INDEX ON <lines> (agreement_id)",
    "CREATE INDEX ON <lines> (work_id)",
)
# One invoice per agreement: its royalties, less the advance recouped. The advance is the contract's (the versions
# of one agreement, same licensee and reference: a new version copies the advance term, it is not a second advance):
# the advance terms of its latest version that has any, less what invoices of any version recouped in earlier
# periods; in this period the versions recoup in order, each what is left after the earlier ones (cumulatively: the
# first k versions together recoup least(their positive royalties, what is left)).
INVOICES = """
WITH royalties AS (
    SELECT r.agreement_id, r.licensee_id, r.currency, sum(r.gross) AS amount, g.reference, g.version
      FROM payouts_royalty_sum r JOIN licensing_agreement g ON g.id = r.agreement_id
     WHERE r.for_invoice
     GROUP BY r.agreement_id, r.licensee_id, r.currency, g.reference, g.version
), contracts AS (
    SELECT DISTINCT r.licensee_id, r.reference FROM royalties r
), latest AS (  -- the latest version with an advance term (a version that leaves it out does not undo it)
    SELECT DISTINCT ON (a.licensee_id, a.reference) a.licensee_id, a.reference, a.id
      FROM licensing_agreement a JOIN contracts c ON c.licensee_id = a.licensee_id AND c.reference = a.reference
     WHERE EXISTS (SELECT 1 FROM licensing_term t WHERE t.agreement_id = a.id AND t.type = 'advance')
     ORDER BY a.licensee_id, a.reference, a.version DESC
), advance AS (
    SELECT l.licensee_id, l.reference, sum(t.amount) AS amount
      FROM latest l JOIN licensing_term t ON t.agreement_id = l.id AND t.type = 'advance'
     GROUP BY l.licensee_id, l.reference
), recouped AS (
    SELECT a.licensee_id, a.reference, sum(i.advance_recouped) AS amount
      FROM payouts_invoice i JOIN licensing_agreement a ON a.id = i.agreement_id
      JOIN contracts c ON c.licensee_id = a.licensee_id AND c.reference = a.reference
     WHERE i.status <> 'draft' AND i.period < %(period)s
     GROUP BY a.licensee_id, a.reference
), ordered AS (
    SELECT r.*,
           sum(greatest(r.amount, 0)) OVER (PARTITION BY r.licensee_id, r.reference ORDER BY r.version) AS upto,
           greatest(coalesce(a.amount, 0) - coalesce(c.amount, 0), 0) AS left_over
      FROM royalties r
      LEFT JOIN advance a ON a.licensee_id = r.licensee_id AND a.reference = r.reference
      LEFT JOIN recouped c ON c.licensee_id = r.licensee_id AND c.reference = r.reference
), due AS (
    SELECT o.*, least(o.upto, o.left_over) - least(o.upto - greatest(o.amount, 0), o.left_over) AS recoup
      FROM ordered o
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
SELECT i.id, r.basis, r.use, r.quantity, r.gross
  FROM payouts_royalty_sum r JOIN payouts_invoice i ON i.agreement_id = r.agreement_id AND i.period = %(period)s
 WHERE r.for_invoice
"""


def last_day(period: dt.date) -> dt.date:
    return period.replace(day=calendar.monthrange(period.year, period.month)[1])


def statement_run_compute(*, run: StatementRun) -> StatementRun:
    """Compute the run's period: draft statements and invoices, recomputed in place on a rerun, in one
    transaction. RunRefused when the period is final or another run of it holds the period's lock."""
    progress = None
    try:
        with transaction.atomic():
            _ends_with_its_worker()
            _lock_period(run)
            current = StatementRun.objects.get(pk=run.pk)
            if current.finalized_at is not None or current.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
                return current  # done (or failed) meanwhile: a second delivery that waited for the first
            mark = usage_mark(run.period)
            run.late_reports = late_reports_of(run)
            agreements = run_agreements(run)
            progress = _Progress(run, len(agreements))
            with connection.cursor() as cursor:
                _prepare(cursor)
                _royalty_lines(cursor, run, agreements, progress, whole_period=True)
                lines, unallocated = _assemble(cursor, run, progress)
            _done(run, lines, len(agreements), mark, unallocated, late_reports=run.late_reports)
    finally:
        if progress is not None:
            progress.close()
    run.refresh_from_db()
    return run


def statement_run_compute_part(*, run: StatementRun, part: int, agreement_ids: list) -> int:
    """One worker's share of a run split across several: the royalty lines of `agreement_ids` (the dispatcher
    fixed the run's agreements once and dealt them out), committed into payouts_royaltystage for
    statement_run_assemble. Idempotent: a redelivery replaces the part's rows, and two deliveries of one part at
    once take turns (the part's own lock); holds no lock on the period, so parts run side by side. Returns the
    lines written."""
    progress = _Progress(run, None)
    try:
        with transaction.atomic():
            _ends_with_its_worker()
            if not _run_still_running(run, exclusive=False):
                return 0  # a redelivery after the run was assembled, failed or replaced: nothing to stage
            xact_lock(f"payouts-part:{run.pk}:{part}")  # the same part delivered twice at once: one after the other
            refuse_closed(run.period)
            agreements = list(
                Agreement.objects.filter(pk__in=agreement_ids)
                .prefetch_related(Prefetch("terms", queryset=Term.objects.filter(type__in=FIXED_TERMS)))
                .order_by("id")
            )
            with connection.cursor() as cursor:
                _prepare(cursor)
                _royalty_lines(cursor, run, agreements, progress, whole_period=False)
                if not _run_still_running(run, exclusive=False):  # failed or replaced meanwhile
                    return 0
                cursor.execute("DELETE FROM payouts_royaltystage WHERE run_id = %s AND part = %s", [run.pk, part])
                cursor.execute(STAGE_PART, [run.pk, part])
                written = cursor.rowcount
                cursor.execute("DROP TABLE payouts_royalty, payouts_agreement, payouts_price, payouts_contract")
    finally:
        progress.close()
    return written


def statement_run_assemble(*, run: StatementRun) -> StatementRun:
    """After every part: the statements and invoices from the parts' lines, in one transaction holding the
    period's lock (RunRefused as statement_run_compute). Once only: the run's own lock first, so that a second
    delivery waits for the first and then finds the run done (its staged lines consumed) and does nothing, as it
    does once the run failed or was replaced; a part still being written (a redelivery of one) is waited for."""
    progress = _Progress(run, None)
    try:
        with transaction.atomic():
            _ends_with_its_worker()
            if not _run_still_running(run, exclusive=True):
                run.refresh_from_db()
                return run
            _lock_period(run)
            total = StatementRun.objects.get(pk=run.pk).agreements_total
            with connection.cursor() as cursor:
                _prepare(cursor)
                cursor.execute(UNSTAGE, [run.pk])
                lines, unallocated = _assemble(cursor, run, progress)
                cursor.execute("DELETE FROM payouts_royaltystage WHERE run_id = %s", [run.pk])
            _done(run, lines, total, run.usage_mark, unallocated)
    finally:
        progress.close()
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


def _run_still_running(run: StatementRun, *, exclusive: bool) -> bool:
    """Whether a run split across workers is still to be computed (the dispatcher set it running; assembling,
    failing or being replaced ends that), read under the run's own lock, held until the transaction ends: shared
    by its parts, which run side by side, exclusive for assembling it, which so waits for a part still writing,
    and after which a part finds the run done. An advisory lock, not the run's row: the progress of the parts and
    of the assembly is written to that row from other connections meanwhile."""
    xact_lock(f"payouts-run:{run.pk}", shared=not exclusive)
    return StatementRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).exists()


def period_lock_key(period: dt.date) -> str:
    """The lock of a period's runs and of finalizing it (what PostgreSQL's 'payouts:' || date::text gives)."""
    return f"payouts:{period.isoformat()}"


def _lock_period(run: StatementRun) -> None:
    period = run.period
    if not xact_lock(period_lock_key(period), wait=False):
        raise PeriodBusy(_("Another run of %(period)s is under way.") % {"period": period.strftime("%Y-%m")})
    refuse_closed(period)
    if later_runs(run).exists():
        # a redelivery of an old run must not take the period's drafts from the run that replaced it (nor mark
        # that one interrupted, below)
        raise RunRefused(_("A later run of this period exists: this one is superseded."))
    # holding the period's lock, no other run of it is alive: one still marked running was killed with its worker
    # (or, split across workers, is replaced by this one: its parts stage nothing more, and it is never assembled)
    StatementRun.objects.filter(period=period, status=RunStatus.RUNNING).exclude(pk=run.pk).update(
        status=RunStatus.FAILED, error=_("Interrupted (its worker stopped); a later run replaced it."),
        finished_at=timezone.now(),
    )  # fmt: skip
    # the staged lines of the period's runs that will never be assembled
    RoyaltyStage.objects.filter(run__period=period).exclude(run=run).delete()


def later_runs(run: StatementRun):
    """The runs of the run's period requested after it that may still compute it or have computed it: not those
    that failed (refused, or stopped: a run writes nothing unless it completes)."""
    return StatementRun.objects.filter(period=run.period, created_at__gt=run.created_at).exclude(
        status=RunStatus.FAILED
    )


def usage_mark(period: dt.date) -> int:
    """How many usage events the period holds: finalize compares it, so that usage stored after the run computed is
    never left out of final statements. A count, not the highest id: ids are drawn when a report inserts its
    events, so a slow report can commit lower ids after a quick one (events are never deleted)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM licensing_usageevent WHERE period = %s", [period])
        return cursor.fetchone()[0]


def refuse_closed(period: dt.date) -> None:
    """RunRefused when the period's statements are final, or a later period's are (its usage is then billed as
    adjustments in the next open period: periods become final in order)."""
    if ReportingPeriod.objects.filter(period=period, status=PeriodStatus.FINAL).exists():
        raise RunRefused(_("%(period)s is final: its statements never change.") % {"period": period.strftime("%Y-%m")})
    if period_closed(period):
        raise RunRefused(
            _("A later period is final: usage of %(period)s is billed as adjustments in the next open period.")
            % {"period": period.strftime("%Y-%m")}
        )


def late_reports_of(run: StatementRun) -> list:
    """The late reports the run adjusts, fixed once and kept on the run (its agreements, its adjustment lines and,
    when it is finalized, the reports marked adjusted all follow this one list): processed, not adjusted yet, for
    an earlier period, received before the run was requested. A late report still processing waits for a later
    run."""
    return list(
        UsageReport.objects.filter(
            late=True, adjusted_in__isnull=True, period__lt=run.period, created_at__lt=run.created_at,
            status__in=[ReportStatus.ACCEPTED, ReportStatus.REJECTED],
        ).order_by("id").values_list("pk", flat=True)
    )  # fmt: skip


def run_agreements(run: StatementRun) -> list[Agreement]:
    """The agreements a run bills, by id: those with usage in the period, with a flat fee or minimum guarantee
    active in it, or with late usage to adjust (the run's late reports)."""
    period = run.period
    with connection.cursor() as cursor:
        cursor.execute(LATE_AGREEMENTS, {"late_reports": list(run.late_reports)})
        late = [row[0] for row in cursor.fetchall()]
    with_fixed_terms = (
        Agreement.objects.filter(
            status__in=BILLED_STATUSES, starts_on__lte=last_day(period), terms__type__in=FIXED_TERMS
        )
        .exclude(ends_on__lt=period)
        .exclude(status=AgreementStatus.TERMINATED, ends_on__isnull=True)
    )
    return list(
        Agreement.objects.filter(Q(pk__in=_agreements_with_usage(period)) | Q(pk__in=with_fixed_terms) | Q(pk__in=late))
        .prefetch_related(Prefetch("terms", queryset=Term.objects.filter(type__in=FIXED_TERMS)))
        .order_by("id")
    )


def _ends_with_its_worker() -> None:
    """First in a run's transaction (and a part's, and an assembly's), before it takes any lock: should its worker
    be lost (killed, out of memory), PostgreSQL notices the closed connection within a second, even in the middle
    of a statement, and ends the session, so the locks are free for the task's redelivery (not held until the
    statement would have ended)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('client_connection_check_interval', '1s', true)")


def _prepare(cursor) -> None:
    """The run's session: memory for its aggregations and sorts (they stay in memory rather than spill to disk),
    and its empty royalty table."""
    cursor.execute("SELECT set_config('work_mem', %s, true), set_config('maintenance_work_mem', %s, true)",
                   [settings.STATEMENT_RUN_WORK_MEM, settings.STATEMENT_RUN_WORK_MEM])  # fmt: skip
    cursor.execute("DROP TABLE IF EXISTS payouts_royalty, payouts_agreement, payouts_price, payouts_contract")
    cursor.execute(ROYALTY_LINES)


def _royalty_lines(cursor, run: StatementRun, agreements: list[Agreement], progress: _Progress, *,
                   whole_period: bool) -> None:  # fmt: skip
    """Every line of these agreements for the run's period into payouts_royalty: the usage of them all in one
    GROUP BY over the month's partition (whole_period: the run bills every agreement with usage in it, so the scan
    needs no filter), per_work pairs, late usage from the late reports, then each agreement's fixed terms."""
    period = run.period
    progress.done(0)  # never written by the run's transaction before its end: this connection would wait for it
    progress.step(RunStep.USAGE)
    cursor.execute(RUN_AGREEMENTS, {
        "ids": [a.pk for a in agreements], "licensees": [a.licensee_id for a in agreements],
        "currencies": [a.currency for a in agreements],
        "scales": [10 ** currency_digits(a.currency) for a in agreements],
        "commissions": [a.commission for a in agreements],
    })  # fmt: skip
    cursor.execute("ANALYZE payouts_agreement")
    cursor.execute(CONTRACTS)
    params = {"period": period, "late_reports": list(run.late_reports)}
    # a pass over the month's partition: a sequential scan, never a walk of an index across all of it (the planner
    # may take the (agreement, work, use) index for its order; reading the heap at random is several times slower)
    cursor.execute(PRICES)
    cursor.execute("ANALYZE payouts_price")
    cursor.execute(SEQUENTIAL_SCAN, ["off", "off"])
    cursor.execute(USAGE_LINES.replace("<only_these>", "" if whole_period else ONLY_THESE), params)
    cursor.execute(SEQUENTIAL_SCAN, ["on", "on"])
    cursor.execute(HAS_PER_WORK)
    if cursor.fetchone()[0]:
        cursor.execute(PER_WORK_LINES, params)
    cursor.execute(ADJUSTMENT_LINES, params)
    fixed = [agreement for agreement in agreements if agreement.terms.all()]  # fixed terms, prefetched
    contracts = _contracts(fixed)
    done = len(agreements) - len(fixed)  # their usage lines are written: done, but for fixed terms
    progress.done(done)
    if fixed:
        progress.step(RunStep.FIXED_TERMS)
    # every flat fee first, then the guarantees, which count the royalties earned (fees included) over their window,
    # whichever version of the contract, and whatever the order of the agreements or of their terms
    for kind in (TermType.FLAT_FEE, TermType.MINIMUM_GUARANTEE):
        for agreement in fixed:  # a few statements each
            _fixed_terms(cursor, agreement, period, {
                "agreement": agreement.pk, "licensee": agreement.licensee_id, "currency": agreement.currency,
                "period": period, "commission": agreement.commission,
            }, contract=contracts[agreement.pk], kind=kind)  # fmt: skip
            if kind == TermType.MINIMUM_GUARANTEE:
                done += 1
                progress.done(done)
    progress.done(len(agreements), last=True)


def _assemble(cursor, run: StatementRun, progress: _Progress) -> tuple[int, dict]:
    """payouts_royalty's lines split among the shares, into the period's draft statements (their lines in a new
    partition that replaces the previous run's) and invoices (earlier drafts updated in place). Returns the
    statement lines written and the royalties left unallocated per currency (works without rights holders). The
    run's own row is not written here: its progress is, from another connection, until the end."""
    period = run.period
    if Statement.objects.filter(period=period).exclude(status=StatementStatus.DRAFT).exists():
        raise RunRefused(_("%(period)s is final: its statements never change.") % {"period": f"{period:%Y-%m}"})
    params = {"run": run.pk, "period": period, "next": _next_period(period)}
    progress.step(RunStep.LINES)  # the royalty lines summed, the shares read, the statements made, then the split
    # temporary tables have no statistics until analysed: the joins below are planned on real row counts
    cursor.execute("ANALYZE payouts_royalty")
    cursor.execute(ROYALTY_SUMS)
    cursor.execute("ANALYZE payouts_royalty_sum")
    cursor.execute(SHARES)
    cursor.execute("ANALYZE payouts_shares")
    cursor.execute(UNALLOCATED)
    unallocated = {currency: int(amount) for currency, amount in cursor.fetchall()}
    cursor.execute(STATEMENTS, params)
    cursor.execute("ANALYZE payouts_statement")  # a new period's statements are not in its statistics yet
    cursor.execute(WORK_STATEMENTS, params)
    cursor.execute("ANALYZE payouts_work_statement")

    name = f"payouts_statementline_{period:%Y_%m}"
    building = f"{name}_{run.pk.hex[:12]}"
    cursor.execute(NEW_PARTITION.replace("<lines>", building), params)
    cursor.execute("SELECT pg_get_serial_sequence('payouts_statementline', 'id')")
    cursor.execute(LINES.replace("<lines>", building), {**params, "sequence": cursor.fetchone()[0]})
    lines = cursor.rowcount
    progress.lines(lines)
    cursor.execute(STATEMENT_TOTALS.replace("<lines>", building))
    progress.step(RunStep.INDEXES)
    for statement in PARTITION_INDEXES:
        cursor.execute(statement.replace("<lines>", building))
    cursor.execute(f"ANALYZE {building}")
    # the previous run's lines of the period go, and the new partition takes their place (the attachment checks
    # the foreign keys); draft lines written outside the engine (the default partition) go too
    cursor.execute("SELECT to_regclass(%s)", [name])
    if cursor.fetchone()[0] is not None:
        cursor.execute(f"ALTER TABLE payouts_statementline DETACH PARTITION {name}")
        cursor.execute(f"DROP TABLE {name}")
    cursor.execute(
        "DELETE FROM payouts_statementline_default l USING payouts_statement s "
        "WHERE s.id = l.statement_id AND l.period = %(period)s AND s.status = 'draft'", params
    )  # fmt: skip
    cursor.execute(
        f"ALTER TABLE payouts_statementline ATTACH PARTITION {building} FOR VALUES FROM (%(period)s) TO (%(next)s)",
        params,
    )
    cursor.execute(f"ALTER TABLE {building} RENAME TO {name}")

    progress.step(RunStep.INVOICES)
    cursor.execute(
        "DELETE FROM payouts_invoiceline l USING payouts_invoice i "
        "WHERE i.id = l.invoice_id AND i.period = %s AND i.status = 'draft'", [period]
    )  # fmt: skip
    cursor.execute(INVOICES, params)
    cursor.execute(INVOICE_LINES, params)
    # drafts of an earlier run that no longer have anything
    cursor.execute("DELETE FROM payouts_statement WHERE period = %s AND status = 'draft' AND run_id <> %s",
                   [period, run.pk])  # fmt: skip
    cursor.execute("DELETE FROM payouts_invoice WHERE period = %s AND status = 'draft' AND run_id <> %s",
                   [period, run.pk])  # fmt: skip
    cursor.execute("DROP TABLE payouts_royalty, payouts_royalty_sum, payouts_shares, payouts_work_statement")
    progress.step(RunStep.TAXES)
    _taxes_and_payables(run, period)
    return lines, unallocated


def _next_period(period: dt.date) -> dt.date:
    return (period.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _done(run: StatementRun, lines: int, agreements: int, mark: int, unallocated: dict, **fields) -> None:
    StatementRun.objects.filter(pk=run.pk).update(
        **fields, unallocated=unallocated, step="",
        status=RunStatus.DONE, started_at=Coalesce(F("started_at"), Now()), finished_at=timezone.now(),
        lines_written=lines, agreements_total=agreements, agreements_done=agreements, error="", usage_mark=mark,
    )  # fmt: skip


FIXED_TERMS = (TermType.FLAT_FEE, TermType.MINIMUM_GUARANTEE)
# fixed terms bill the months an agreement ran: an agreement terminated since (its ends_on set when it was terminated)
# still owes them when an earlier month is computed; a draft or suspended one, or one terminated before it ran (no
# ends_on), owes none
BILLED_STATUSES = (AgreementStatus.ACTIVE, AgreementStatus.TERMINATED)
FIRST_MONTHS = {Every.MONTH: range(1, 13), Every.QUARTER: (1, 4, 7, 10), Every.YEAR: (1,)}
MONTHS_IN = {Every.MONTH: 1, Every.QUARTER: 3, Every.YEAR: 12}


def _window_start(period: dt.date, every: str) -> dt.date:
    """The first month of the calendar month, quarter or year that holds `period`."""
    months = MONTHS_IN[every]
    return period.replace(month=(period.month - 1) // months * months + 1)


@dataclass(frozen=True)
class _Contract:
    """An agreement's contract: its versions (same licensee and reference), when the first began, and whether a
    later version superseded this one."""

    members: list
    start: dt.date
    superseded: bool


def _contracts(agreements: list[Agreement]) -> dict:
    """Each agreement's _Contract, from one query for them all."""
    if not agreements:
        return {}
    keys = {(a.licensee_id, a.reference) for a in agreements}
    versions: dict[tuple, list[dict]] = {}
    for version in (
        Agreement.objects.filter(licensee_id__in={k[0] for k in keys}, reference__in={k[1] for k in keys})
        .order_by("version").values("pk", "licensee_id", "reference", "starts_on", "supersedes_id")
    ):  # fmt: skip
        versions.setdefault((version["licensee_id"], version["reference"]), []).append(version)
    contracts = {}
    for agreement in agreements:
        line = versions[agreement.licensee_id, agreement.reference]
        contracts[agreement.pk] = _Contract(
            members=[v["pk"] for v in line], start=min(v["starts_on"] for v in line),
            superseded=any(v["supersedes_id"] == agreement.pk for v in line),
        )  # fmt: skip
    return contracts


def _fixed_terms(cursor, agreement: Agreement, period: dt.date, params: dict, *, contract: _Contract,
                 kind: str) -> None:  # fmt: skip
    """flat_fee: due at the start of each calendar month, quarter or year the agreement is active in (and in its
    first month); minimum_guarantee: at the end of each, the shortfall of the royalties earned over it."""
    if agreement.status not in BILLED_STATUSES or agreement.starts_on > last_day(period):
        return
    if agreement.status == AgreementStatus.TERMINATED and agreement.ends_on is None:
        return  # terminated before it ran (a running one is given its end date when terminated)
    if agreement.ends_on is not None and agreement.ends_on < period:
        return
    # the versions of one agreement (same licensee and reference) are one contract: a fee falls due once, to the
    # version in force on the due date; a guarantee covers the royalties of every version in its window and is
    # settled by the version in force at the window's end (or when the contract, not a version, ends)
    params = {**params, "members": contract.members}
    first_month = agreement.starts_on.replace(day=1) == period and agreement.supersedes_id is None
    in_force_on_the_first = agreement.starts_on <= period
    for term in agreement.terms.all():
        if term.type != kind:
            continue
        every = term.every
        due = period.month in FIRST_MONTHS[every] and in_force_on_the_first
        if term.type == TermType.FLAT_FEE and (due or first_month):
            cursor.execute(ALLOCATE.format(weights=FLAT_FEE_WEIGHTS),
                           {**params, "amount": term.amount, "basis": TermType.FLAT_FEE})  # fmt: skip
        ends_here = agreement.ends_on is not None and agreement.ends_on <= last_day(period) and not contract.superseded
        in_force_at_the_end = agreement.ends_on is None or agreement.ends_on >= last_day(period)
        window_ends = period.month % MONTHS_IN[every] == 0 and in_force_at_the_end
        if term.type == TermType.MINIMUM_GUARANTEE and (window_ends or ends_here):
            since = max(_window_start(period, every), contract.start.replace(day=1))
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

    def done(self, agreements: int, *, last: bool = False) -> None:
        now = time.monotonic()
        if now - self.written_at < 1 and not last and (self.total is None or agreements < self.total):
            return
        self.written_at = now
        if self.total is None:
            self._write(
                "UPDATE payouts_statementrun SET agreements_done = least(agreements_done + %s, agreements_total) "
                "WHERE id = %s AND status = 'running'", [agreements - self.reported, self.run_id],
            )  # fmt: skip
            self.reported = agreements
        else:
            self._write(
                "UPDATE payouts_statementrun SET status = 'running', agreements_total = %s, agreements_done = %s, "
                "started_at = coalesce(started_at, now()), error = '' "
                "WHERE id = %s AND status IN ('queued', 'running')",
                [self.total, agreements, self.run_id],
            )  # fmt: skip

    def step(self, step: str) -> None:
        """What the run does now (RunStep), while it runs: never written over a run done, failed or replaced."""
        self._write("UPDATE payouts_statementrun SET step = %s WHERE id = %s AND status = 'running'",
                    [step, self.run_id])  # fmt: skip

    def lines(self, written: int) -> None:
        self._write("UPDATE payouts_statementrun SET lines_written = %s WHERE id = %s", [written, self.run_id])

    def _write(self, sql: str, params: list) -> None:
        """On the progress connection; progress is a courtesy: on an error the run goes on without it."""
        try:
            if self.connection is None:
                self.connection = connections.create_connection(DEFAULT_DB_ALIAS)
            with self.connection.cursor() as cursor:
                cursor.execute(sql, params)
        except DatabaseError:
            self.close()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


# The distinct agreements of the period's usage by a skip scan of the (agreement_id, work_id, use) index: one probe
# per agreement, not a pass over the month's events.
AGREEMENTS_WITH_USAGE = """
WITH RECURSIVE a AS (
    SELECT (SELECT e.agreement_id FROM licensing_usageevent e
             WHERE e.period = %(period)s AND e.agreement_id IS NOT NULL ORDER BY e.agreement_id LIMIT 1) AS id
    UNION ALL
    SELECT (SELECT e.agreement_id FROM licensing_usageevent e
             WHERE e.period = %(period)s AND e.agreement_id > a.id ORDER BY e.agreement_id LIMIT 1)
      FROM a WHERE a.id IS NOT NULL
)
SELECT a.id FROM a WHERE a.id IS NOT NULL
"""


def _agreements_with_usage(period: dt.date) -> list:
    with connection.cursor() as cursor:
        cursor.execute(AGREEMENTS_WITH_USAGE, {"period": period})
        return [row[0] for row in cursor.fetchall()]


# The run's draft statements with what their taxes and payable need of their holder
STATEMENT_HOLDERS = """
SELECT s.id, s.rights_holder_id, s.currency, s.net_royalties, h.invoice_registration_number, h.resident, h.kind,
       CASE WHEN h.minimum_payout_currency = s.currency THEN h.minimum_payout_amount ELSE 0 END
  FROM payouts_statement s JOIN licensing_rightsholder h ON h.id = s.rights_holder_id
 WHERE s.run_id = %s AND s.status = 'draft'
"""
STATEMENT_TAXES = """
UPDATE payouts_statement s
   SET registration_number = v.registration_number, consumption_tax = v.consumption_tax,
       withholding_tax = v.withholding_tax, carried_forward = v.carried_forward, payable = v.payable,
       carried_out = v.carried_out
  FROM unnest(%s::uuid[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::boolean[])
       AS v(id, registration_number, consumption_tax, withholding_tax, carried_forward, payable, carried_out)
 WHERE s.id = v.id
"""


def _taxes_and_payables(run: StatementRun, period: dt.date) -> None:
    """Per statement, in one pass: consumption and withholding tax (TaxRule in force on the period's last day),
    the payable carried from the holder's previous statement in that currency, and whether this one is carried in
    turn (below the holder's minimum payout). Read as rows and written in one UPDATE: no model per statement."""
    rates = TaxRates.on_date(last_day(period))
    with connection.cursor() as cursor:
        cursor.execute(STATEMENT_HOLDERS, [run.pk])
        statements = cursor.fetchall()
    carried = _carried_in(period, list({row[1] for row in statements}))
    columns: tuple[list, ...] = ([], [], [], [], [], [], [])
    for pk, holder, currency, net, registration, resident, kind, minimum in statements:
        consumption = rates.consumption_tax(net, registration_number=registration, resident=resident)
        withholding = rates.withholding_tax(net, currency, kind=kind, resident=resident)
        carried_forward = carried.get((holder, currency), 0)
        payable = net + consumption - withholding + carried_forward
        for column, value in zip(columns, (pk, registration or "", consumption, withholding, carried_forward, payable,
                                           payable < minimum), strict=True):  # fmt: skip
            column.append(value)
    if statements:
        with connection.cursor() as cursor:
            cursor.execute(STATEMENT_TAXES, list(columns))


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
