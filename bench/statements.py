"""Statement benchmark: a month's statement run (payouts/engine.py) over millions of usage events, against the bare
GROUP BY of those events that no engine can avoid.

In a database of its own (`rights_ledger_bench_statements`, dropped and created again at start, on the embedded
server unless DATABASE_URL names another server):

- 10,000 rights holders (2 % publishers) and 100,000 works (franchises, series with their volumes or episodes,
  standalone works: bench/_fixtures.py), loaded with psycopg COPY; the works with shares have one holder at 100.00
  (75 %), two or three (25 %) summing to exactly 100.00; volumes and episodes inherit their parent's;
- 10 licensees and 50 active agreements in JPY (agreement k belongs to licensee (k - 1) mod 10), the whole catalogue,
  every use and territory, commission 10 %: per_unit terms for the four uses on every agreement (rates 0.25 to
  3.5 JPY), a revenue_share on generation (12.5 %) on every third, a per_work fee on retrieval (100 JPY per
  (work, model) first reported) on every fifth;
- --events (10,000,000) usage events in 2026-10, made in SQL (INSERT … SELECT over generate_series, on two
  connections at once) into the month's partition built apart and attached after the load (its indexes built then,
  as CREATE INDEX does, not row by row), then VACUUM ANALYZE. Events: a long-tail popularity over the works (u³
  over a shuffled rank), an agreement at random, uses 40/35/15/10 %, quantities 1 + Exp(40), 31 days, 5 models,
  30 % with revenue in JPY; one usage report row per licensee and million events. Untimed setup, its time printed.

Measured, in this process, on Django's connection:
- the lower bound: `SELECT agreement_id, work_id, use, sum(quantity), sum(revenue_amount) … GROUP BY 1, 2, 3` over
  the period, its groups counted and summed (so that nothing is left out), twice with the planner's plan and twice
  with a sequential scan (index scans off: the planner may walk the index instead, 2-3 times slower at 10M
  events), the fastest kept;
- the rules' floor (RULES_FLOOR): the statements' totals alone, in one query that writes nothing (the same GROUP
  BY, each line priced and rounded, per_work pairs, the largest-remainder split, a sum per holder), with the
  planner's plan and with sorts off, then the faster again, the fastest kept; checked equal, holder count, gross
  and commission, to the run's statements (a check that fails is a PROBLEM, as below);
- ours: `statement_run_compute(run=StatementRun.objects.create(period=…))`, the whole run, with every SQL statement
  of the run timed (connection.execute_wrapper, and the COMMIT, where the deferred foreign keys are checked), the
  process's resident memory (sampled every 10 ms, and ru_maxrss), the PostgreSQL backend's CPU time and temporary
  files; the plans of the statements run once (EXPLAIN, as planned inside the run: the temporary tables exist only
  there) printed when one is slow or fails. Then a second run of the period (a rerun: the drafts recomputed in
  place) with tracemalloc on, for the peak of the Python allocations (tracing slows Python down several times:
  not the timed run).

Then checked, against a recomputation from the raw events written here (the terms from this file, the effective
shares from the catalogue built here, not from the engine's SQL): statement gross = invoice royalties = line gross
= the recomputed royalties, per agreement and in all; commissions; statements and lines written; after each run.

Exit status 1 when a check fails (the rules' floor's included) or on an error, not when the target (ours ÷ GROUP
BY ≤ 1.5) is missed.
Options: --events 10000000, --works 100000, --holders 10000, --agreements 50, --no-explain (skip the EXPLAIN
ANALYZE of the lower bound printed at the end), --no-tracemalloc (skip the
traced rerun), --parts N (then the period again as STATEMENT_RUN_PARTS = N runs it: the agreements dealt to N
parts computed side by side, a thread and a connection each, then assembled; its wall time, and checked),
--temp-file-limit 20GB (PostgreSQL's temp_file_limit on the measured connection: a statement
that would write more temporary files fails rather than fill the disk; -1 for none).
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import re
import resource
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from bench import _fixtures

BENCH_DATABASE = "rights_ledger_bench_statements"
TARGET = 1.5  # ours ÷ GROUP BY (the target)
SEED = 20240610
PERIOD = date(2026, 10, 1)
PERIOD_END = date(2026, 11, 1)
LICENSEES = 10
PUBLISHER_FRACTION = 0.02
EVENTS_PER_REPORT = 1_000_000  # per licensee: one report row per licensee and million events
LOAD_CONNECTIONS = 2  # INSERT … SELECT is not parallel: the range is split between connections
COMMISSION = Decimal("10.00")
CURRENCY = "JPY"
USES = ("training", "generation", "retrieval", "fine_tuning")  # 40, 35, 15, 10 % of the events (EVENTS_SQL)
PER_UNIT = {"training": Decimal("1.5"), "generation": Decimal("0.8"), "retrieval": Decimal("0.25"),
            "fine_tuning": Decimal("2")}  # fmt: skip
REVENUE_SHARE = ("generation", Decimal("12.5"))  # on every third agreement
PER_WORK = ("retrieval", 100)  # JPY per (work, model) first reported, on every fifth agreement
MODELS = ("video-model-2", "llm-large-3", "image-gen-1.5", "embed-small", "music-gen-0")
PARTITION = f"licensing_usageevent_{PERIOD:%Y_%m}"  # the name licensing_usage_partition() gives it

# The events of g in [start, stop]: x holds the random draws of a row (a subquery with volatile functions is not
# flattened: each is drawn once per row); agreement k belongs to licensee (k - 1) mod LICENSEES.
EVENTS_SQL = """
INSERT INTO {partition} (id, period, report_id, line, licensee_id, work_id, agreement_id, use, quantity, occurred_on,
                         model, territory, revenue_amount, revenue_currency, reserved, late)
SELECT x.g, %(period)s::date,
       (%(reports)s::uuid[])[x.lic * %(chunks)s + (x.g - 1) / %(per_report)s + 1], x.g::int,
       (%(licensees)s::uuid[])[x.lic + 1], (%(works)s::uuid[])[x.w], (%(agreements)s::uuid[])[x.k],
       CASE WHEN x.u < 0.40 THEN 'training' WHEN x.u < 0.75 THEN 'generation' WHEN x.u < 0.90 THEN 'retrieval'
            ELSE 'fine_tuning' END,
       1 + floor(-40 * ln(1 - x.q))::bigint,
       %(period)s::date + floor(x.d * 31)::int,
       (%(models)s::text[])[1 + floor(x.m * 5)::int],
       'JP',
       CASE WHEN x.rv < 0.3 THEN 1 + floor(x.rv / 0.3 * 50000)::bigint END,
       CASE WHEN x.rv < 0.3 THEN 'JPY' END,
       false, false
  FROM (SELECT s.g, s.k, mod(s.k - 1, %(licensee_count)s) AS lic, s.w, s.u, s.q, s.d, s.m, s.rv
          FROM (SELECT g, 1 + floor(random() * %(agreement_count)s)::int AS k,
                       1 + floor(%(work_count)s * random() ^ 3)::int AS w,
                       random() AS u, random() AS q, random() AS d, random() AS m, random() AS rv
                  FROM generate_series(%(start)s::bigint, %(stop)s::bigint) g) s) x
"""

# The lower bound: the aggregation the engine cannot avoid, every group counted and its sums consumed.
GROUP_BY = """
SELECT count(*), sum(g.quantity), sum(g.revenue) FROM (
    SELECT agreement_id, work_id, use, sum(quantity) AS quantity, sum(revenue_amount) AS revenue
      FROM licensing_usageevent WHERE period = %(period)s GROUP BY 1, 2, 3
) g
"""

# The rules' floor: the least that RULES.md asks of any engine for this month, in one query that writes nothing. The
# same GROUP BY; each (agreement, work, use, basis) line priced and rounded, its commission rounded; per_work: the
# (work, model) pairs (all new: no earlier period); each line split among its work's holders by the largest
# remainder (payouts_split_part, the cheapest split measured; a work held whole takes its lines as they are); summed
# per rights holder: the statements' totals, which the run's must equal. No line, statement or invoice is stored,
# no tax, no index: whatever an engine stores or computes beyond this costs more. Terms and shares are this file's
# (bench_terms, bench_holders), not the engine's. It is the same work as the run's only for this benchmark's month:
# one period (every per_work pair new), one currency (a holder, one statement), no flat fee or guarantee, and it is
# one way to write it: the fastest of those tried (per line with a CASE for whole works: slower), not a proof.
RULES_FLOOR = """
WITH prices AS MATERIALIZED (
    SELECT agreement_id, use, sum(rate) FILTER (WHERE type = 'per_unit') AS unit,
           sum(percent) FILTER (WHERE type = 'revenue_share') AS percent, max(commission) AS commission
      FROM bench_terms WHERE type IN ('per_unit', 'revenue_share') GROUP BY 1, 2
), fees AS MATERIALIZED (
    SELECT agreement_id, use, sum(amount) AS amount, max(commission) AS commission
      FROM bench_terms WHERE type = 'per_work' GROUP BY 1, 2
), shares AS MATERIALIZED (
    SELECT h.work_id, h.rights_holder_id, array_agg((h.share * 100)::bigint) OVER every AS shares,
           (row_number() OVER ordered)::int AS pos
      FROM bench_holders h
    WINDOW ordered AS (PARTITION BY h.work_id ORDER BY h.share DESC, h.rights_holder_id),
           every AS (ordered ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
), lines AS MATERIALIZED (
    SELECT u.work_id, b.gross, round(b.gross * p.commission / 100)::bigint AS commission
      FROM (SELECT agreement_id, work_id, use, sum(quantity) AS quantity, sum(revenue_amount) AS revenue
              FROM licensing_usageevent WHERE period = %(period)s AND NOT late AND agreement_id IS NOT NULL
             GROUP BY 1, 2, 3) u
      JOIN prices p ON p.agreement_id = u.agreement_id AND p.use = u.use
     CROSS JOIN LATERAL (VALUES (round(u.quantity * p.unit)::bigint),
                                (round(u.revenue * p.percent / 100)::bigint)) AS b(gross)
     WHERE b.gross <> 0
    UNION ALL
    SELECT w.work_id, (w.pairs * f.amount)::bigint, round(w.pairs * f.amount * f.commission / 100)::bigint
      FROM (SELECT d.agreement_id, d.work_id, d.use, count(*) AS pairs
              FROM (SELECT e.agreement_id, e.work_id, e.use, e.model
                      FROM licensing_usageevent e JOIN fees f ON f.agreement_id = e.agreement_id AND f.use = e.use
                     WHERE e.period = %(period)s AND NOT e.late
                     GROUP BY 1, 2, 3, 4) d
             GROUP BY 1, 2, 3) w
      JOIN fees f ON f.agreement_id = w.agreement_id AND f.use = w.use
), parts AS (
    SELECT s.rights_holder_id, l.gross, l.commission
      FROM lines l JOIN shares s ON s.work_id = l.work_id AND s.shares = '{10000}'
    UNION ALL
    SELECT s.rights_holder_id, payouts_split_part(l.gross, s.shares, s.pos),
           payouts_split_part(l.commission, s.shares, s.pos)
      FROM lines l JOIN shares s ON s.work_id = l.work_id AND s.shares <> '{10000}'
)
SELECT count(*), coalesce(sum(h.gross), 0), coalesce(sum(h.commission), 0)
  FROM (SELECT rights_holder_id, sum(gross) AS gross, sum(commission) AS commission FROM parts GROUP BY 1) h
"""

# The royalty lines recomputed from the raw events with the terms of this file (bench_terms), not the engine's SQL.
EXPECTED_SQL = [
    """CREATE TEMPORARY TABLE x_usage AS
       SELECT agreement_id, work_id, use, sum(quantity) AS quantity, coalesce(sum(revenue_amount), 0) AS revenue,
              count(DISTINCT model) AS models
         FROM licensing_usageevent WHERE period = %(period)s AND NOT late AND agreement_id IS NOT NULL
        GROUP BY 1, 2, 3""",
    """CREATE TEMPORARY TABLE x_lines AS
       SELECT l.agreement_id, l.work_id, l.gross, round(l.gross * t.commission / 100)::bigint AS commission
         FROM (SELECT u.agreement_id, u.work_id, round(u.quantity * t.rate)::bigint AS gross
                 FROM x_usage u JOIN bench_terms t ON t.agreement_id = u.agreement_id AND t.type = 'per_unit'
                                                  AND t.use = u.use
               UNION ALL
               SELECT u.agreement_id, u.work_id, round(u.revenue * t.percent / 100)::bigint
                 FROM x_usage u JOIN bench_terms t ON t.agreement_id = u.agreement_id AND t.type = 'revenue_share'
                                                  AND t.use = u.use
                WHERE u.revenue <> 0
               UNION ALL
               SELECT u.agreement_id, u.work_id, u.models * t.amount  -- no earlier period: every pair is new
                 FROM x_usage u JOIN bench_terms t ON t.agreement_id = u.agreement_id AND t.type = 'per_work'
                                                  AND t.use = u.use) l
         JOIN (SELECT DISTINCT agreement_id, commission FROM bench_terms) t ON t.agreement_id = l.agreement_id
        WHERE l.gross <> 0""",
]


def main(options: list[str]) -> int:
    """Runs in a process of its own: Django is set up once per process, and `python -m bench` runs several
    benchmarks, each with its own database and settings, one after the other."""
    return subprocess.run([sys.executable, "-m", "bench.statements", *options], check=False).returncode


def _main_in_process(options: list[str]) -> int:
    args, unknown = _parser().parse_known_args(options)
    if unknown:
        print(f"statements: ignoring options it does not know: {' '.join(unknown)}")
    if args.events < 1 or args.works < 1_000 or args.holders < 100 or args.agreements < 1:
        print("statements: --events and --agreements positive, --works at least 1000, --holders at least 100")
        return 2
    server = None
    try:
        server = _fixtures.prepare_environment(BENCH_DATABASE)
        return _run(args)
    finally:
        from django.db import connections

        connections.close_all()
        del server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench statements", description="A month's statement run.")
    parser.add_argument("--events", type=int, default=10_000_000, help="usage events in the month (10000000)")
    parser.add_argument("--works", type=int, default=100_000, help="works in the catalogue (100000)")
    parser.add_argument("--holders", type=int, default=10_000, help="rights holders (10000)")
    parser.add_argument("--agreements", type=int, default=50, help="active agreements, JPY (50)")
    parser.add_argument(
        "--temp-file-limit", default="20GB", help="temp_file_limit of the measured connection (20GB; -1: none)"
    )
    parser.add_argument("--no-explain", action="store_true", help="skip the EXPLAIN ANALYZE printed at the end")
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the rerun traced by tracemalloc")
    parser.add_argument(
        "--parts",
        type=int,
        default=0,
        help="also run the period split into this many parts side by side, then assembled (0: no)",
    )
    return parser


# --- fixtures ------------------------------------------------------------------------------------------------------


def _owners_picker(publishers: int, holders: int):
    """75 % one holder at 100.00, 20 % two, 5 % three; half the series and franchises led by a publisher."""

    def owners(rng: random.Random, kind: str) -> list[int]:
        count = rng.choices((1, 2, 3), weights=(75, 20, 5))[0]
        if kind != "standalone" and rng.random() < 0.5:
            return [rng.randrange(publishers), *rng.sample(range(publishers, holders), count - 1)]
        return rng.sample(range(publishers, holders), count)

    return owners


@dataclass
class World:
    catalogue: _fixtures.Catalogue
    licensee_ids: list
    agreement_ids: list
    terms: list[tuple]  # (agreement_id, type, use, rate, percent, amount, commission): what the check prices with
    kinds: Counter = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)


def _agreement_terms(k: int) -> list[dict]:
    """Agreement k (1-based): per_unit on every use (rates × 1, 1.25, 1.5 or 1.75), revenue_share on every third,
    per_work on every fifth."""
    from ledger.money import Money

    factor = 1 + Decimal(k % 4) / 4
    terms = [{"type": "per_unit", "use": use, "rate": rate * factor} for use, rate in PER_UNIT.items()]
    if k % 3 == 0:
        terms.append({"type": "revenue_share", "use": REVENUE_SHARE[0], "percent": REVENUE_SHARE[1]})
    if k % 5 == 0:
        terms.append({"type": "per_work", "use": PER_WORK[0], "fee": Money(PER_WORK[1], CURRENCY)})
    return terms


def _world(args, rng: random.Random) -> World:
    from licensing.services import agreement_create, licensee_create

    publishers = max(1, int(args.holders * PUBLISHER_FRACTION))
    catalogue = _fixtures.build_catalogue(
        args.works, args.holders, publishers, rng, _owners_picker(publishers, args.holders)
    )
    _fixtures.load_catalogue(catalogue)
    started = time.perf_counter()
    licensees = [licensee_create(name=f"Bench AI {i}", country="JP") for i in range(LICENSEES)]
    agreement_ids, terms, kinds = [], [], Counter()
    for k in range(1, args.agreements + 1):
        data = _agreement_terms(k)
        agreement = agreement_create(
            data={
                "licensee": licensees[(k - 1) % LICENSEES], "reference": f"BENCH-{k:03d}", "currency": CURRENCY,
                "starts_on": date(2026, 1, 1), "territories": ["*"], "uses": list(USES), "status": "active",
                "commission": COMMISSION, "scope": {"catalogue": True}, "terms": data,
            }
        )  # fmt: skip
        agreement_ids.append(agreement.pk)
        kinds["+".join(sorted({t["type"] for t in data}))] += 1
        for t in data:
            amount = t["fee"].amount if "fee" in t else None
            terms.append((agreement.pk, t["type"], t["use"], t.get("rate"), t.get("percent"), amount, COMMISSION))
    world = World(catalogue, [licensee.pk for licensee in licensees], agreement_ids, terms, kinds)
    world.seconds["catalogue"] = sum(catalogue.seconds.values())
    world.seconds["licensees, agreements"] = time.perf_counter() - started
    return world


def _bench_tables(world: World) -> None:
    """What the check and the rules' floor read, written before the run: the terms, and each work's effective
    holders with their shares (its own or its nearest ancestor's, from the catalogue built here)."""
    import psycopg

    catalogue = world.catalogue
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cursor:
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_terms (agreement_id uuid, type text, use text, rate numeric, percent numeric, "
            "amount bigint, commission numeric)"
        )
        with cursor.copy("COPY bench_terms FROM STDIN") as copy:
            for row in world.terms:
                copy.write_row(row)
        cursor.execute("CREATE UNLOGGED TABLE bench_holders (work_id uuid, rights_holder_id uuid, share numeric)")
        with cursor.copy("COPY bench_holders FROM STDIN") as copy:
            for work, work_id in enumerate(catalogue.work_ids):
                for holder, share in catalogue.owners[catalogue.root(work)]:
                    copy.write_row((work_id, catalogue.holder_ids[holder], share))
        cursor.execute("CREATE INDEX ON bench_holders (work_id)")
        cursor.execute("ANALYZE bench_terms")
        cursor.execute("ANALYZE bench_holders")


def _reports(world: World, events: int) -> tuple[list, int]:
    """One accepted report row per licensee and EVENTS_PER_REPORT events (counts filled in after the load)."""
    from django.utils import timezone

    from licensing.models import UsageReport

    chunks = -(-events // EVENTS_PER_REPORT)
    now = timezone.now()
    reports = [
        UsageReport(
            licensee_id=licensee_id,
            period=PERIOD,
            idempotency_key=f"bench-statements-{chunk}",
            body_sha256="0" * 64,
            status="accepted",
            completed_at=now,
        )
        for licensee_id in world.licensee_ids
        for chunk in range(chunks)
    ]
    UsageReport.objects.bulk_create(reports)
    return [report.pk for report in reports], chunks


def _load_events(world: World, events: int) -> dict[str, float]:
    """The month's partition made apart (same columns and checks), filled by INSERT … SELECT on LOAD_CONNECTIONS
    connections, attached (its indexes built then), the identity moved past its ids, the report rows' counts set,
    VACUUM ANALYZE. Returns the seconds of each step."""
    import psycopg
    from psycopg import sql

    url = os.environ["DATABASE_URL"]
    seconds: dict[str, float] = {}
    report_ids, chunks = _reports(world, events)
    works = list(world.catalogue.work_ids)
    random.Random(SEED + 1).shuffle(works)  # popularity rank: works[0] the most used
    params = {
        "period": PERIOD, "reports": report_ids, "chunks": chunks, "per_report": EVENTS_PER_REPORT,
        "licensees": world.licensee_ids, "works": works, "agreements": world.agreement_ids, "models": list(MODELS),
        "licensee_count": LICENSEES, "agreement_count": len(world.agreement_ids), "work_count": len(works),
    }  # fmt: skip
    partition = sql.Identifier(PARTITION)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(partition))
        conn.execute(
            sql.SQL("CREATE TABLE {} (LIKE licensing_usageevent INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(
                partition
            )
        )

    def fill(part: int, start: int, stop: int) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SELECT setseed(%s)", [(part + 1) / (LOAD_CONNECTIONS + 1)])
            conn.execute(
                EVENTS_SQL.format(partition=partition.as_string(conn)), {**params, "start": start, "stop": stop}
            )

    started = time.perf_counter()
    step = -(-events // LOAD_CONNECTIONS)
    ranges = [(i, 1 + i * step, min(events, (i + 1) * step)) for i in range(LOAD_CONNECTIONS) if i * step < events]
    with ThreadPoolExecutor(len(ranges)) as pool:
        for future in [pool.submit(fill, *r) for r in ranges]:
            future.result()
    seconds["INSERT … SELECT (generate_series)"] = time.perf_counter() - started

    with psycopg.connect(url, autocommit=True) as conn:
        started = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute(
            sql.SQL("ALTER TABLE licensing_usageevent ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                partition, sql.Literal(PERIOD), sql.Literal(PERIOD_END)
            )
        )
        conn.execute("SELECT setval(pg_get_serial_sequence('licensing_usageevent', 'id'), %s)", [events])
        seconds["ATTACH PARTITION (its indexes built)"] = time.perf_counter() - started
        started = time.perf_counter()
        conn.execute(
            "UPDATE licensing_usagereport r SET events_received = c.n, events_accepted = c.n "
            "FROM (SELECT report_id, count(*) AS n FROM licensing_usageevent WHERE period = %s GROUP BY 1) c "
            "WHERE r.id = c.report_id",
            [PERIOD],
        )
        conn.execute(sql.SQL("VACUUM (ANALYZE) {}").format(partition))
        conn.execute("ANALYZE licensing_usageevent")
        conn.execute("CHECKPOINT")  # the load's dirty pages written now, not during a measurement
        seconds["report counts, VACUUM ANALYZE, CHECKPOINT"] = time.perf_counter() - started
    return seconds


# --- measurements --------------------------------------------------------------------------------------------------


def _guard(limit: str) -> None:
    """temp_file_limit on Django's connection (the one the lower bound and the runs use): a statement that would
    write more temporary files fails instead of filling the disk of a machine others work on."""
    from django.db import connection

    if limit != "-1":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('temp_file_limit', %s, false)", [limit])


# The lower bound's plans: the planner's choice with the connection's settings, and a sequential scan (the planner
# may prefer walking the (agreement_id, work_id, use) index for an ordered GroupAggregate when it expects the hash
# aggregate to spill: at 10,000,000 events that random heap walk is 2-3 times slower than scanning the partition).
FLOOR_PLANS = {
    "planner's plan": [],
    "sequential scan (index scans off)": ["SET LOCAL enable_indexscan = off", "SET LOCAL enable_bitmapscan = off"],
}  # fmt: skip


def _floor_settings(plan: str) -> list[str]:
    """The plan's settings, with the engine's work_mem (STATEMENT_RUN_WORK_MEM): the same memory for its GROUP BY."""
    from django.conf import settings

    return [f"SET LOCAL work_mem = '{settings.STATEMENT_RUN_WORK_MEM}'", *FLOOR_PLANS[plan]]


@dataclass
class Floor:
    seconds: float  # the fastest of every plan and try
    plan: str  # the plan that gave it
    groups: int
    quantity: int
    by_plan: dict  # plan → its best seconds


def _lower_bound() -> Floor:
    """The GROUP BY on Django's connection (the engine's own settings: work_mem, temp_buffers), twice with each plan
    of FLOOR_PLANS, the fastest kept: the floor is what the aggregation can cost, not what one plan costs."""
    from django.db import connection, transaction

    by_plan, result = {}, None
    for plan in FLOOR_PLANS:
        for _ in range(2):
            with transaction.atomic(), connection.cursor() as cursor:
                for setting in _floor_settings(plan):
                    cursor.execute(setting)
                start = time.perf_counter()
                cursor.execute(GROUP_BY, {"period": PERIOD})
                result = cursor.fetchone()
                by_plan[plan] = min(by_plan.get(plan, float("inf")), time.perf_counter() - start)
    plan = min(by_plan, key=by_plan.get)
    return Floor(by_plan[plan], plan, result[0], result[1], by_plan)


@dataclass
class RulesFloor:
    seconds: float  # the fastest try
    plan: str  # of RULES_FLOOR_PLANS
    holders: int  # rights holders paid: the run's statements (one currency)
    gross: int
    commission: int


# The rules' floor's plans: the planner's own (with the run's work_mem), and with sorts off (the planner may sort every
# part for a GroupAggregate per holder, or the month's groups, where a hash aggregation is faster at 10M events).
RULES_FLOOR_PLANS = {"planner's plan": [], "sorts off": ["SET LOCAL enable_sort = off"]}


def _rules_floor() -> RulesFloor:
    """RULES_FLOOR on Django's connection, once with each plan of RULES_FLOOR_PLANS, then the faster again: the
    fastest of the three kept."""
    from django.conf import settings
    from django.db import connection, transaction

    def timed(plan: str) -> tuple[float, tuple]:
        with transaction.atomic(), connection.cursor() as cursor:
            for setting in (f"SET LOCAL work_mem = '{settings.STATEMENT_RUN_WORK_MEM}'", *RULES_FLOOR_PLANS[plan]):
                cursor.execute(setting)
            start = time.perf_counter()
            cursor.execute(RULES_FLOOR, {"period": PERIOD})
            return time.perf_counter() - start, cursor.fetchone()

    tries = {plan: timed(plan) for plan in RULES_FLOOR_PLANS}
    faster = min(tries, key=lambda plan: tries[plan][0])
    again = timed(faster)
    seconds, result = min(again, tries[faster], key=lambda t: t[0])
    return RulesFloor(seconds, faster, *(int(value) for value in result))


def _floor_problems(rules: RulesFloor, run_id) -> list[str]:
    """The rules' floor computes the run's statement totals: they must agree, or it is not the same work."""
    from payouts.models import Statement

    statements = Statement.objects.filter(run_id=run_id)
    totals = (statements.count(), sum(statements.values_list("gross", flat=True)),
              sum(statements.values_list("commission", flat=True)))  # fmt: skip
    if totals == (rules.holders, rules.gross, rules.commission):
        return []
    return [f"the rules' floor computed {rules.holders:,} holders, gross {rules.gross:,}, commission "
            f"{rules.commission:,}; the run's statements: {totals[0]:,}, {totals[1]:,}, {totals[2]:,}"]  # fmt: skip


class RssSampler:
    """The process's resident set size (VmRSS), every `interval` seconds in a thread, the highest kept."""

    def __init__(self, interval: float = 0.01) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def current() -> int:
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self.peak = self.current()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def _backend_cpu(pid: int) -> float | None:
    """CPU seconds (user + system) of a PostgreSQL backend on this machine, from /proc; None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _database_stats(cursor) -> tuple:
    cursor.execute(
        "SELECT temp_files, temp_bytes, blks_read, blks_hit FROM pg_stat_database WHERE datname = current_database()"
    )
    return cursor.fetchone()


@dataclass
class Ours:
    seconds: float
    run: object
    statements: dict = field(default_factory=lambda: defaultdict(float))
    counts: Counter = field(default_factory=Counter)
    python_peak: int | None = None
    rss_before: int = 0
    rss_peak: int = 0
    maxrss_before: int = 0
    maxrss_after: int = 0
    backend_cpu: float | None = None
    temp_files: int = 0
    temp_bytes: int = 0
    blocks_read: int = 0
    blocks_hit: int = 0
    error: str = ""  # the run failed (and rolled back): why
    plans: dict = field(default_factory=dict)  # EXPLAIN of the statements run once (EXPLAINED), as planned in the run
    explaining: float = 0.0
    failed: str = ""  # the statement that failed


# the statements of the run whose plan (EXPLAIN, as planned inside the run) is printed when one is slow
EXPLAINED = ("USAGE_LINES", "ROYALTY_SUMS", "STATEMENTS", "WORK_STATEMENTS", "LINES", "INVOICES", "INVOICE_LINES")
SLOW = 10.0  # seconds: a statement of the run taking longer is named as it ends (a long run shows where it is)
COMMIT_LABEL = "COMMIT (deferred constraints: the foreign keys of the rows written, checked then)"


def _label(statement: str, names: dict) -> str:
    name = names.get(statement)
    if name:
        return name
    words = " ".join(statement.split())
    for value, name in names.items():  # a constant with <placeholders> the engine fills in: its fragments match
        fragments = [" ".join(f.split()) for f in re.split(r"<\w+>", value)]
        if len(fragments) > 1 and max(map(len, fragments)) >= 40 and all(f in words for f in fragments if f):
            return name
    return words[:90]


def _ours(trace: bool) -> Ours:
    """statement_run_compute for the period, timed in this process, every SQL statement of it timed too."""
    from django.db import DatabaseError, connection

    from payouts import engine
    from payouts.engine import statement_run_compute
    from payouts.models import StatementRun

    names = {  # the engine's SQL constants, by name
        value: name for name, value in vars(engine).items() if name.isupper() and isinstance(value, str)
    }
    run = StatementRun.objects.create(period=PERIOD)
    result = Ours(0.0, run)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
        stats_before = _database_stats(cursor)

    def wrapper(execute, sql, params, many, context):
        label = _label(sql, names)
        if label in EXPLAINED:  # its plan (planning only: milliseconds, taken off the run's time)
            start = time.perf_counter()
            raw = context["cursor"].cursor
            raw.execute("EXPLAIN " + sql, params)
            result.plans[label] = [row[0] for row in raw.fetchall()]
            result.explaining += time.perf_counter() - start
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        except Exception as exc:
            result.failed = label
            print(f"    {label}: {type(exc).__name__} after {time.perf_counter() - start:.1f} s", flush=True)
            raise
        finally:
            seconds = time.perf_counter() - start
            result.statements[label] += seconds
            result.counts[label] += 1
            if seconds > SLOW:
                print(f"    {label[:70]}: {seconds:.1f} s", flush=True)

    gc.collect()
    result.maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    cpu_before = _backend_cpu(pid)
    if trace:
        tracemalloc.start()
    commit = connection._commit  # COMMIT is no execute(): timed apart (the deferred constraint checks run there)

    def timed_commit():
        start = time.perf_counter()
        try:
            return commit()
        finally:
            result.statements[COMMIT_LABEL] += time.perf_counter() - start
            result.counts[COMMIT_LABEL] += 1

    connection._commit = timed_commit
    try:
        with RssSampler() as rss, connection.execute_wrapper(wrapper):
            result.rss_before = rss.peak
            start = time.perf_counter()
            try:
                result.run = statement_run_compute(run=run)
            except DatabaseError as exc:  # reported with what was measured until then
                result.error = f"{type(exc).__name__}: {str(exc).strip()}"
            result.seconds = time.perf_counter() - start - result.explaining
    finally:
        del connection._commit  # the class's method again
    if trace:
        result.python_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    cpu_after = _backend_cpu(pid)
    result.rss_peak = rss.peak
    result.maxrss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if cpu_before is not None and cpu_after is not None:
        result.backend_cpu = cpu_after - cpu_before
    with connection.cursor() as cursor:  # the backend's statistics flushed now, read afresh
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        stats_after = _database_stats(cursor)
    result.temp_files, result.temp_bytes, result.blocks_read, result.blocks_hit = (
        after - before for before, after in zip(stats_before, stats_after, strict=True)
    )
    return result


# --- checks --------------------------------------------------------------------------------------------------------


@dataclass
class Check:
    statements: int
    lines: int
    expected_statements: int
    expected_lines: int
    problems: list[str]
    totals: dict
    seconds: float


def _check(run_id) -> Check:
    """Statements, lines and invoices against the royalties recomputed from the raw events (EXPECTED_SQL), split
    count-wise by the effective holders written by _bench_tables."""
    import psycopg

    started = time.perf_counter()
    problems = []
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cursor:
        cursor.execute("SET work_mem = '256MB'")
        for statement in EXPECTED_SQL:
            cursor.execute(statement, {"period": PERIOD})
        cursor.execute("ANALYZE x_lines")
        cursor.execute(
            "SELECT (SELECT count(*) FROM payouts_statement WHERE run_id = %(run)s), "
            "(SELECT coalesce(sum(gross), 0) FROM payouts_statement WHERE run_id = %(run)s), "
            "(SELECT coalesce(sum(commission), 0) FROM payouts_statement WHERE run_id = %(run)s), "
            "(SELECT count(*) FROM payouts_statementline l JOIN payouts_statement s ON s.id = l.statement_id "
            "  WHERE s.run_id = %(run)s), "
            "(SELECT coalesce(sum(l.gross), 0) FROM payouts_statementline l JOIN payouts_statement s "
            "  ON s.id = l.statement_id WHERE s.run_id = %(run)s), "
            "(SELECT coalesce(sum(royalties), 0) FROM payouts_invoice WHERE run_id = %(run)s), "
            "(SELECT coalesce(sum(gross), 0) FROM x_lines), (SELECT coalesce(sum(commission), 0) FROM x_lines), "
            "(SELECT count(*) FROM x_lines l JOIN bench_holders h ON h.work_id = l.work_id), "
            "(SELECT count(DISTINCT h.rights_holder_id) FROM (SELECT DISTINCT work_id FROM x_lines) w "
            "  JOIN bench_holders h ON h.work_id = w.work_id)",
            {"run": run_id},
        )
        (statements, gross, commission, lines, line_gross, royalties, expected_gross, expected_commission,
         expected_lines, expected_statements) = cursor.fetchone()  # fmt: skip
        totals = {
            "statements' gross": gross, "lines' gross": line_gross, "invoices' royalties": royalties,
            "recomputed from the events": expected_gross,
        }  # fmt: skip
        if len(set(totals.values())) != 1:
            problems.append("gross: " + ", ".join(f"{label} {value:,}" for label, value in totals.items()))
        if commission != expected_commission:
            problems.append(f"commission: statements {commission:,}, recomputed {expected_commission:,}")
        if statements != expected_statements or lines != expected_lines:
            problems.append(
                f"written {statements:,} statements and {lines:,} lines, expected {expected_statements:,} and "
                f"{expected_lines:,}"
            )
        cursor.execute(
            "SELECT coalesce(i.agreement_id, e.agreement_id), i.royalties, e.gross "
            "FROM (SELECT agreement_id, royalties FROM payouts_invoice WHERE run_id = %s) i "
            "FULL JOIN (SELECT agreement_id, sum(gross) AS gross FROM x_lines GROUP BY 1) e "
            "ON e.agreement_id = i.agreement_id WHERE i.royalties IS DISTINCT FROM e.gross",
            [run_id],
        )
        for agreement_id, invoiced, expected in cursor.fetchall():
            problems.append(f"agreement {agreement_id}: invoiced {invoiced}, recomputed {expected}")
        conn.rollback()
    return Check(statements, lines, expected_statements, expected_lines, problems, totals,
                 time.perf_counter() - started)  # fmt: skip


# --- EXPLAIN -------------------------------------------------------------------------------------------------------


def _explain(floor_plan: str) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the lower bound (its faster plan); the run's own statements are explained, as
    planned inside it, when one is slow (EXPLAINED)."""
    from django.db import connection, transaction

    lines = ["", f"EXPLAIN (ANALYZE, BUFFERS) of the lower bound, {floor_plan}:"]
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in _floor_settings(floor_plan):
            cursor.execute(setting)
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + GROUP_BY, {"period": PERIOD})
        lines += ["  " + row[0] for row in cursor.fetchall()]
    return lines


# --- the run -------------------------------------------------------------------------------------------------------


def _mb(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:,.1f} MB"


@dataclass
class Split:
    seconds: float
    parts: list[float]  # each part's own time, from the start
    assemble: float
    run: object
    error: str = ""


def _split(parts: int) -> Split:
    """The period as STATEMENT_RUN_PARTS = `parts` computes it, with the Celery tasks' own functions: the
    agreements dealt as the dispatcher deals them, the parts side by side (a thread and a connection each, as
    workers), then the assembly; the wall time of it all."""
    from django.db import DatabaseError, connections
    from django.utils import timezone

    from payouts.engine import run_agreements, statement_run_assemble, statement_run_compute_part
    from payouts.models import StatementRun
    from payouts.tasks import deal

    run = StatementRun.objects.create(period=PERIOD)
    agreements = run_agreements(run)
    dealt = deal(agreements, parts)
    StatementRun.objects.filter(pk=run.pk).update(status="running", agreements_total=len(agreements), parts=dealt,
                                                  started_at=timezone.now())  # fmt: skip
    run.refresh_from_db()

    def part(index: int) -> float:
        try:
            statement_run_compute_part(run=run, part=index, agreement_ids=dealt[index])
            return time.perf_counter() - start
        finally:
            connections.close_all()  # this thread's

    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(parts) as pool:
            times = list(pool.map(part, range(parts)))
        assembling = time.perf_counter()
        run = statement_run_assemble(run=run)
    except DatabaseError as exc:
        return Split(time.perf_counter() - start, [], 0.0, run, f"{type(exc).__name__}: {str(exc).strip()}")
    end = time.perf_counter()
    return Split(end - start, times, end - assembling, run)


def _run(args) -> int:
    description = _fixtures.server_description()
    print(
        f"statements benchmark on {description}; loading {args.works:,} works, {args.holders:,} rights holders, "
        f"{args.agreements} agreements …",
        flush=True,
    )
    rng = random.Random(SEED)
    world = _world(args, rng)
    _bench_tables(world)
    summary = world.catalogue.summary()
    print(f"  loaded in {sum(world.seconds.values()):.1f} s", flush=True)
    print(f"  loading {args.events:,} usage events …", flush=True)
    load = _load_events(world, args.events)
    print(f"  events loaded in {sum(load.values()):.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in load.items())
          + ")", flush=True)  # fmt: skip
    world.catalogue = None  # what the run's memory is measured against: not the catalogue built here
    gc.collect()

    _guard(args.temp_file_limit)
    loads = {"lower bound": [os.getloadavg()[0]]}
    floor = _lower_bound()
    loads["lower bound"].append(os.getloadavg()[0])
    print(
        f"  lower bound (GROUP BY): {floor.groups:,} groups in "
        + ", ".join(f"{seconds:.2f} s with {plan}" for plan, seconds in floor.by_plan.items()),
        flush=True,
    )
    loads["rules' floor"] = [os.getloadavg()[0]]
    rules = _rules_floor()
    loads["rules' floor"].append(os.getloadavg()[0])
    print(f"  the rules' floor (the statements' totals in one query, nothing written): {rules.seconds:.2f} s",
          flush=True)  # fmt: skip
    loads["ours"] = [os.getloadavg()[0]]
    ours = _ours(trace=False)
    loads["ours"].append(os.getloadavg()[0])
    check = traced = rerun_check = None
    floor_problems: list[str] = []
    if ours.error:
        print(f"  ours (statement_run_compute): FAILED after {ours.seconds:.2f} s: {ours.error}", flush=True)
    else:
        print(f"  ours (statement_run_compute): {ours.seconds:.2f} s", flush=True)
        floor_problems = _floor_problems(rules, ours.run.pk)  # before a rerun takes the statements over
        check = _check(ours.run.pk)
        print(f"  checked in {check.seconds:.1f} s: {'MISMATCH' if check.problems else 'OK'}", flush=True)
        if not args.no_tracemalloc:
            loads["rerun"] = [os.getloadavg()[0]]
            traced = _ours(trace=True)
            loads["rerun"].append(os.getloadavg()[0])
            if traced.error:
                print(f"  rerun, traced by tracemalloc: FAILED after {traced.seconds:.2f} s: {traced.error}")
            else:
                print(f"  rerun, traced by tracemalloc: {traced.seconds:.2f} s", flush=True)
                rerun_check = _check(traced.run.pk)
                print(f"  checked in {rerun_check.seconds:.1f} s: {'MISMATCH' if rerun_check.problems else 'OK'}")

    split = split_check = None
    if args.parts > 1:
        loads["split"] = [os.getloadavg()[0]]
        split = _split(args.parts)
        loads["split"].append(os.getloadavg()[0])
        if split.error:
            print(f"  split into {args.parts} parts: FAILED after {split.seconds:.2f} s: {split.error}", flush=True)
        else:
            print(f"  split into {args.parts} parts: {split.seconds:.2f} s", flush=True)
            split_check = _check(split.run.pk)
            print(f"  checked in {split_check.seconds:.1f} s: {'MISMATCH' if split_check.problems else 'OK'}")

    ratio = ours.seconds / floor.seconds
    if ours.error:
        verdict = f"> {ratio:.2f}  (target ≤ {TARGET:g}: NOT met; ours failed after {ours.seconds:.2f} s)"
        ours_cell = f"{ours.seconds:>9.2f}  FAILED: {ours.error}"
    else:
        verdict = f"{ratio:.2f}  (target ≤ {TARGET:g}: {'met' if ratio <= TARGET else 'NOT met'})"
        ours_cell = f"{ours.seconds:>9.2f}"
    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(world.kinds.items()))
    floor_label = f"the rules' floor: the statements' totals in one query, nothing written ({rules.plan})"
    reach = "above" if rules.seconds / floor.seconds <= TARGET else "below"
    lines = [
        "",
        f"statements benchmark, {args.events:,} usage events in {PERIOD:%Y-%m}, {description}",
        f"catalogue: {summary}",
        f"agreements: {args.agreements} active in JPY, whole catalogue, commission {COMMISSION}% ({kinds}); "
        f"{LICENSEES} licensees",
        f"events: {args.events:,} (quantity {floor.quantity:,}) in {floor.groups:,} (agreement, work, use) groups; "
        f"loaded in {sum(load.values()):.1f} s (untimed)",
    ]
    if check is not None:
        lines.append(
            f"written: {check.statements:,} statements, {check.lines:,} statement lines "
            f"(run: {ours.run.lines_written:,} lines, {ours.run.agreements_done} agreements)"
        )
    lines += [
        "",
        f"{'':80}{'seconds':>9}",
        *(f"{f'GROUP BY agreement, work, use, best of 2, {plan}':80}{seconds:>9.2f}"
          for plan, seconds in floor.by_plan.items()),
        f"{'lower bound (the faster)':80}{floor.seconds:>9.2f}",
        f"{'ours (statement_run_compute, in process)':80}{ours_cell}",
        f"ours ÷ GROUP BY = {verdict}",
        f"{floor_label:80}{rules.seconds:>9.2f}",
        f"the rules' floor ÷ GROUP BY = {rules.seconds / floor.seconds:.2f}  (the statements' totals alone, nothing "
        f"stored: the target {TARGET:g} is {reach} it)",
        f"ours ÷ the rules' floor = {ours.seconds / rules.seconds:.2f}  (what storing the lines, statements, "
        "invoices and taxes costs on top)",
        *([] if split is None else [
            f"{f'ours split into {args.parts} parts side by side, then assembled (wall time)':80}{split.seconds:>9.2f}"
            + (f"  FAILED: {split.error}" if split.error else ""),
            *([] if split.error else [
                f"  parts done after {', '.join(f'{t:.2f}' for t in split.parts)} s; assembled in "
                f"{split.assemble:.2f} s; split ÷ GROUP BY = {split.seconds / floor.seconds:.2f}"]),
        ]),
        "load average (1 min) before → after, on this shared machine: "
        + ", ".join(f"{label} {before:.2f} → {after:.2f}" for label, (before, after) in loads.items()),
        "",
        f"memory of this process during the run: resident {_mb(ours.rss_before)} at the start, peak "
        f"{_mb(ours.rss_peak)} (sampled every 10 ms); ru_maxrss {_mb(ours.maxrss_before)} before, "
        f"{_mb(ours.maxrss_after)} after",
    ]  # fmt: skip
    if traced is not None and not traced.error:
        lines.append(
            f"Python allocations (tracemalloc, in a rerun of the period: the drafts recomputed in place, "
            f"{traced.seconds:.2f} s with tracing on): peak {_mb(traced.python_peak)}; resident peak "
            f"{_mb(traced.rss_peak)}"
        )
    lines += [
        _postgres_line(ours),
        "",
        *_breakdown_lines(ours, "the failed run" if ours.error else "the run", top=14),
        *_plan_lines(ours),
    ]
    if check is not None:
        lines += ["", _check_line(check, "the run")]
    if split_check is not None:
        lines += [_check_line(split_check, f"the run split into {args.parts} parts")]
    if traced is not None:
        lines += ["", *_breakdown_lines(traced, "the rerun (traced)", top=6)]
        if rerun_check is not None:
            lines += ["", _check_line(rerun_check, "the rerun")]
    if not args.no_explain:
        lines += _explain(floor.plan)
    print("\n".join(lines), flush=True)
    problems = [f"the run failed: {ours.error}"] if ours.error else []
    problems += check.problems if check else []
    problems += floor_problems
    problems += [f"the rerun failed: {traced.error}"] if traced and traced.error else []
    problems += rerun_check.problems if rerun_check else []
    problems += [f"the split run failed: {split.error}"] if split and split.error else []
    problems += split_check.problems if split_check else []
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


def _postgres_line(ours: Ours) -> str:
    return (
        "PostgreSQL during the run: backend CPU "
        + ("n/a" if ours.backend_cpu is None else f"{ours.backend_cpu:.2f} s")
        + f" (parallel workers not counted), temporary files {ours.temp_files:,} ({_mb(ours.temp_bytes)}), "
        f"blocks read {ours.blocks_read:,}, hit {ours.blocks_hit:,}"
    )


def _breakdown_lines(ours: Ours, what: str, top: int | None = None) -> list[str]:
    in_sql = sum(ours.statements.values())
    lines = [
        f"where the time goes in {what} (every SQL statement on its connection, COMMIT included): {in_sql:.2f} s "
        f"in SQL, {ours.seconds - in_sql:.2f} s in Python between them",
        f"{'statement':92}{'count':>7}{'seconds':>9}{'share':>8}",
    ]
    ranked = sorted(ours.statements.items(), key=lambda item: -item[1])
    for label, seconds in ranked[:top]:
        lines.append(f"{label:92}{ours.counts[label]:>7}{seconds:>9.2f}{seconds / ours.seconds:>8.1%}")
    if top is not None and len(ranked) > top:
        rest = sum(seconds for _label, seconds in ranked[top:])
        lines.append(f"{f'{len(ranked) - top} others':92}{'':>7}{rest:>9.2f}{rest / ours.seconds:>8.1%}")
    return lines


def _plan_lines(ours: Ours) -> list[str]:
    """The plans (as the run's own connection planned them, EXPLAIN without ANALYZE) of the statements run once that
    failed, took longer than SLOW seconds or more than a fifth of the run."""
    lines = []
    for label, plan in ours.plans.items():
        seconds = ours.statements.get(label, 0.0)
        if label == ours.failed or seconds > SLOW or seconds > ours.seconds / 5:
            why = "failed" if label == ours.failed else f"{seconds:.2f} s"
            lines += ["", f"EXPLAIN of {label} as planned in the run ({why}):", *("  " + row for row in plan)]
    return lines


def _check_line(check: Check, what: str) -> str:
    return (
        f"check of {what} (recomputed from the events in {check.seconds:.1f} s): "
        + ", ".join(f"{label} {value:,}" for label, value in check.totals.items())
        + f"; statements {check.statements:,} (expected {check.expected_statements:,}), lines {check.lines:,} "
        f"(expected {check.expected_lines:,}): {'MISMATCH' if check.problems else 'OK'}"
    )


if __name__ == "__main__":
    sys.exit(_main_in_process(sys.argv[1:]))
