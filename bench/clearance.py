"""Clearance benchmark: POST /api/v1/clearances with 10,000 work references, against one hand-written SQL statement.

In a database of its own (`rights_ledger_bench_clearance`, dropped and created again at start, on the embedded
server unless DATABASE_URL names another server), loaded with psycopg COPY (bench/_fixtures.py):

- 5,000 rights holders (200 publishers) and 200,000 works: franchises holding the shares of 2 or 3 series, series
  with 10 to 28 volumes (ISBN-13) or episodes, standalone works; external ids on ~30 % of the series and their
  volumes; shares summing to 100.00 on every work without a parent;
- reservations: 40 rights holders reserving training (some fine-tuning too) for all their works, 1,000 works
  (franchises, series, volumes) reserving one or two uses, 200 of them lifted;
- for the licensee calling (services.licensee_create, services.api_key_create): a rights-holder-scoped agreement
  (120 publishers, training and generation, JP and US, 2026), a works-scoped one (2,000 franchises and series, every
  use, every territory, from 2025-04), a catalogue-scoped one (retrieval, JP, from 2026-06), an expired catalogue
  one and a suspended one; another licensee has a catalogue agreement of its own.

Each call sends --refs references (10,000): ~60 % uuids, ~20 % `isbn:` (half of them hyphenated), ~12 % `ext:`,
~8 % unknown (unassigned uuids, ISBNs and ids, malformed references), drawn anew for every call, for 2026-10-15 in
JP, the use changing call by call (training, generation, retrieval, fine_tuning).

Ours: in-process through django.test.Client (the server's time: middleware, authentication, throttling, DRF parsing
and validation, selectors.clearance, rendering), median of --requests calls after --warmup warm-ups. The reference:
one SQL statement written here that parses the references, resolves them and applies the coverage rules for them,
executed with psycopg on the same calls (median of as many). Every answer of ours is checked against it.

Exit status 1 if ours ÷ SQL is above 2 or ours is not under 100 ms (the issue's targets), or an answer differs.
Options: --works 200000, --refs 10000, --requests 20, --warmup 3.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from bench import _fixtures

BENCH_DATABASE = "rights_ledger_bench_clearance"
RATIO_TARGET = 2.0  # ours ÷ SQL at most
MS_TARGET = 100.0  # ours under
SEED = 20240604
HOLDERS = 5_000
PUBLISHERS = 200
ON_DATE = date(2026, 10, 15)
TERRITORY = "JP"
USES = ("training", "generation", "retrieval", "fine_tuning")
SCOPED_PUBLISHERS = 120
SCOPED_WORKS = 2_000
RESERVING_HOLDERS = 40
RESERVED_WORKS = 1_000
LIFTED = 200

# The references go as one JSON array (psycopg's list adapter alone takes ~50 ms for 10,000 strings; json.dumps ~2).
# Parse the references (uuid, isbn:<ISBN-13, hyphens allowed>, ext:<scheme>:<value>), resolve them, then RULES.md's
# coverage for one use, date and territory: the licensee's active agreements for them, whose scope holds the work
# (the whole catalogue, the work or an ancestor, or a rights holder with an effective share), the earliest-starting
# then lowest id; a reservation of the use on the work or an ancestor, or of all the works of a holder, beats every
# agreement while its holder holds rights in the work or an ancestor (licensing_work_facts.lineage_owners).
# It reads the same schema as ours, at its best: each work's ancestors and effective holders from
# licensing_work_facts (one probe per work), the agreements and reservations filtered to the one use asked about.
SQL = """
WITH input AS (
    SELECT r.ord::integer AS ord, btrim(r.ref) AS ref, lower(split_part(btrim(r.ref), ':', 1)) AS kind,
           split_part(btrim(r.ref), ':', 2) AS second
      FROM json_array_elements_text(%(refs)s::json) WITH ORDINALITY AS r(ref, ord)
), parsed AS MATERIALIZED (
    SELECT ord,
           CASE WHEN length(ref) = 36 AND ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                THEN ref::uuid END AS id,
           CASE WHEN kind = 'isbn' THEN translate(substr(ref, 6), '- ', '') END AS isbn,
           CASE WHEN kind = 'ext' THEN lower(btrim(second)) END AS scheme,
           CASE WHEN kind = 'ext' THEN btrim(substr(ref, length(second) + 6)) END AS value
      FROM input
), res AS MATERIALIZED (
    SELECT p.ord, coalesce(w1.id, w2.id, x.work_id) AS work_id
      FROM parsed p
      LEFT JOIN licensing_work w1 ON w1.id = p.id
      LEFT JOIN licensing_work w2 ON w2.isbn = p.isbn
      LEFT JOIN licensing_workidentifier x ON x.scheme = p.scheme AND x.value = p.value
), facts AS MATERIALIZED (
    SELECT f.* FROM (SELECT DISTINCT work_id FROM res WHERE work_id IS NOT NULL) w
      JOIN licensing_work_facts f ON f.work_id = w.work_id
), anc AS (
    SELECT work_id, work_id AS anc_id FROM facts
    UNION ALL
    SELECT f.work_id, a.id FROM facts f, unnest(f.ancestors) AS a(id)
), holders AS (
    SELECT f.work_id, h.id AS rights_holder_id FROM facts f, unnest(f.owners) AS h(id)
), ag AS MATERIALIZED (
    SELECT id, starts_on, scope_catalogue FROM licensing_agreement
     WHERE licensee_id = %(licensee)s AND status = 'active' AND %(use)s = ANY(uses)
       AND starts_on <= %(date)s AND (ends_on IS NULL OR ends_on >= %(date)s)
       AND (%(territory)s = ANY(territories) OR '*' = ANY(territories))
), covering AS (
    SELECT f.work_id, ag.starts_on, ag.id FROM facts f CROSS JOIN ag WHERE ag.scope_catalogue
    UNION ALL
    SELECT a.work_id, ag.starts_on, ag.id FROM anc a
      JOIN licensing_agreement_scope_works sw ON sw.work_id = a.anc_id JOIN ag ON ag.id = sw.agreement_id
    UNION ALL
    SELECT h.work_id, ag.starts_on, ag.id FROM holders h
      JOIN licensing_agreement_scope_rights_holders sh ON sh.rightsholder_id = h.rights_holder_id
      JOIN ag ON ag.id = sh.agreement_id
), best AS (
    SELECT DISTINCT ON (work_id) work_id, id FROM covering ORDER BY work_id, starts_on, id
), reserved AS (  -- while the reserving holder holds rights in the line of the work (the work or an ancestor)
    SELECT a.work_id FROM anc a JOIN licensing_reservation r ON r.work_id = a.anc_id
      JOIN facts f ON f.work_id = a.work_id
     WHERE r.lifted_at IS NULL AND %(use)s = ANY(r.uses) AND r.rights_holder_id = ANY(f.lineage_owners)
    UNION
    SELECT f.work_id FROM facts f, unnest(f.lineage_owners) AS h(id)
      JOIN licensing_reservation r ON r.rights_holder_id = h.id
     WHERE r.work_id IS NULL AND r.lifted_at IS NULL AND %(use)s = ANY(r.uses)
)
SELECT res.ord, res.work_id,
       CASE WHEN res.work_id IS NULL THEN 'unknown' WHEN rv.work_id IS NOT NULL THEN 'reserved'
            WHEN b.id IS NOT NULL THEN 'licensed' ELSE 'not_licensed' END,
       CASE WHEN rv.work_id IS NULL THEN b.id END
  FROM res
  LEFT JOIN best b ON b.work_id = res.work_id
  LEFT JOIN reserved rv ON rv.work_id = res.work_id
 ORDER BY res.ord
"""


def main(options: list[str]) -> int:
    """Runs in a process of its own: Django is set up once per process, and `python -m bench` runs several
    benchmarks, each with its own database and settings, one after the other."""
    return subprocess.run([sys.executable, "-m", "bench.clearance", *options], check=False).returncode


def _main_in_process(options: list[str]) -> int:
    args, unknown = _parser().parse_known_args(options)
    if unknown:
        print(f"clearance: ignoring options it does not know: {' '.join(unknown)}")
    if args.works < 20_000 or args.refs < 1 or args.requests < 1 or args.warmup < 0:
        print("clearance: --works at least 20000, --refs and --requests positive, --warmup not negative")
        return 2
    redis = _fixtures.PrivateRedis()  # the throttle counts calls in the cache
    server = None
    try:
        server = _fixtures.prepare_environment(
            BENCH_DATABASE,
            extra_env={
                "REDIS_URL": redis.url,
                "CLEARANCE_MAX_REFS": str(max(10_000, args.refs)),
                "RATE_LIMIT_CLEARANCE": "100000/min",
            },
        )
        return _run(args)
    finally:
        from django.db import connections

        connections.close_all()
        redis.stop()
        del server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench clearance", description="Clearance of 10,000 works.")
    parser.add_argument("--works", type=int, default=200_000, help="works in the catalogue (200000)")
    parser.add_argument("--refs", type=int, default=10_000, help="work references per call (10000)")
    parser.add_argument("--requests", type=int, default=20, help="timed calls (20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before those (3)")
    return parser


# --- fixtures ------------------------------------------------------------------------------------------------------


@dataclass
class World:
    catalogue: _fixtures.Catalogue
    licensee: object
    key: str
    description: list[str] = field(default_factory=list)


def _world(works: int, rng: random.Random) -> World:
    from django.db import connection

    from licensing.models import Agreement, Reservation, RightsHolder, Work
    from licensing.services import agreement_create, api_key_create, licensee_create

    catalogue = _fixtures.build_catalogue(
        works, HOLDERS, PUBLISHERS, rng, _fixtures.default_owners(PUBLISHERS, HOLDERS)
    )
    _fixtures.load_catalogue(catalogue)
    started = time.perf_counter()
    licensee = licensee_create(name="Bench AI Inc.", country="JP")
    _api_key, key = api_key_create(name="bench clearance", licensee=licensee)
    other = licensee_create(name="Other AI LLC", country="US")
    publishers = RightsHolder.objects.filter(
        pk__in=[catalogue.holder_ids[h] for h in rng.sample(range(PUBLISHERS), SCOPED_PUBLISHERS)]
    )
    scoped_count = min(SCOPED_WORKS, len(catalogue.series) // 2)  # 2,000 of 200,000 works; fewer in a smaller run
    scoped = rng.sample(catalogue.franchises, min(len(catalogue.franchises), scoped_count // 5))
    scoped += rng.sample(catalogue.series, scoped_count - len(scoped))
    scoped_works = Work.objects.filter(pk__in=[catalogue.work_ids[w] for w in scoped])
    agreements = [
        (licensee, "BENCH-PUBLISHERS", date(2026, 1, 1), date(2026, 12, 31), ["JP", "US"], ["training", "generation"],
         {"rights_holders": list(publishers)}, "active"),
        (licensee, "BENCH-WORKS", date(2025, 4, 1), None, ["*"], list(USES), {"works": list(scoped_works)}, "active"),
        (licensee, "BENCH-RETRIEVAL", date(2026, 6, 1), None, ["JP"], ["retrieval"], {"catalogue": True}, "active"),
        (licensee, "BENCH-EXPIRED", date(2024, 1, 1), date(2025, 12, 31), ["*"], list(USES), {"catalogue": True},
         "active"),
        (licensee, "BENCH-SUSPENDED", date(2026, 1, 1), None, ["*"], list(USES), {"catalogue": True}, "suspended"),
        (other, "OTHER-CATALOGUE", date(2025, 1, 1), None, ["*"], list(USES), {"catalogue": True}, "active"),
    ]  # fmt: skip
    for owner, reference, starts_on, ends_on, territories, uses, scope, status in agreements:
        agreement_create(
            data={
                "licensee": owner, "reference": reference, "currency": "JPY", "starts_on": starts_on,
                "ends_on": ends_on, "territories": territories, "uses": uses, "scope": scope, "status": status,
                "commission": Decimal("20.00"),
                "terms": [{"type": "per_unit", "use": use, "rate": Decimal("0.05")} for use in uses],
            }
        )  # fmt: skip
    reservations = []
    reserving = rng.sample(range(PUBLISHERS, HOLDERS), RESERVING_HOLDERS - 5) + rng.sample(range(PUBLISHERS), 5)
    for h in reserving:
        uses = ["training"] if rng.random() < 0.7 else ["training", "fine_tuning"]
        reservations.append(Reservation(rights_holder_id=catalogue.holder_ids[h], work=None, uses=uses))
    candidates = catalogue.franchises + catalogue.series + catalogue.children
    for i, w in enumerate(rng.sample(candidates, RESERVED_WORKS)):
        holder = catalogue.owners[catalogue.root(w)][0][0]
        uses = rng.sample(USES, rng.choice([1, 1, 2]))
        reservation = Reservation(
            rights_holder_id=catalogue.holder_ids[holder], work_id=catalogue.work_ids[w], uses=uses
        )
        if i < LIFTED:
            reservation.lifted_at = datetime.now().astimezone()
        reservations.append(reservation)
    Reservation.objects.bulk_create(reservations)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    catalogue.seconds["licensees, keys, agreements, reservations"] = time.perf_counter() - started
    world = World(catalogue, licensee, key)
    world.description = [
        f"catalogue: {catalogue.summary()}",
        f"agreements ({Agreement.objects.count()}): the caller's BENCH-PUBLISHERS ({SCOPED_PUBLISHERS} publishers, "
        f"training and generation, JP and US, 2026), BENCH-WORKS ({len(scoped):,} franchises and series, every use, "
        f"every territory, from 2025-04), BENCH-RETRIEVAL (catalogue, retrieval, JP, from 2026-06), BENCH-EXPIRED "
        f"(catalogue, ended 2025-12-31), BENCH-SUSPENDED (catalogue); another licensee's catalogue agreement",
        f"reservations: {RESERVING_HOLDERS} rights holders for all their works, {RESERVED_WORKS:,} works "
        f"({LIFTED} of them lifted)",
    ]
    return world


# --- the calls -----------------------------------------------------------------------------------------------------


@dataclass
class Call:
    use: str
    refs: list[str]


def _calls(catalogue: _fixtures.Catalogue, n: int, refs: int, rng: random.Random) -> tuple[list[Call], dict]:
    ids = [str(work_id) for work_id in catalogue.work_ids]
    with_isbn = list(catalogue.isbn)
    with_ext = list(catalogue.ext)
    unknown_isbn = catalogue.isbns_used + 1_000_000
    kinds: dict[str, int] = dict.fromkeys(("uuid", "isbn:", "ext:", "unknown"), 0)
    calls = []
    for i in range(n):
        call = []
        for _ in range(refs):
            r = rng.random()
            if r < 0.60:
                call.append(ids[rng.randrange(len(ids))])
                kinds["uuid"] += 1
            elif r < 0.80:
                isbn = catalogue.isbn[rng.choice(with_isbn)]
                call.append("isbn:" + (_fixtures.hyphenated(isbn) if r < 0.70 else isbn))
                kinds["isbn:"] += 1
            elif r < 0.92:
                call.append("ext:{}:{}".format(*catalogue.ext[rng.choice(with_ext)]))
                kinds["ext:"] += 1
            else:
                kinds["unknown"] += 1
                if r < 0.95:
                    call.append(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
                elif r < 0.97:
                    call.append("isbn:" + _fixtures.isbn13(unknown_isbn))
                    unknown_isbn += 1
                elif r < 0.99:
                    call.append(f"ext:{rng.choice(_fixtures.SCHEMES)}:NOPE-{rng.randrange(10**9)}")
                else:
                    call.append(rng.choice(["isbn:123", "not a reference", "ext:hikari", "", "iscc:"]))
        calls.append(Call(USES[i % len(USES)], call))
    return calls, kinds


def _ours(client, key: str, call: Call) -> tuple[float, object]:
    body = json.dumps({"use": call.use, "date": ON_DATE.isoformat(), "territory": TERRITORY, "works": call.refs})
    start = time.perf_counter()
    response = client.post(
        "/api/v1/clearances", data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    return (time.perf_counter() - start) * 1000, response


def _sql(conn, licensee, call: Call) -> tuple[float, list]:
    start = time.perf_counter()
    refs = json.dumps(call.refs)
    rows = conn.execute(
        SQL, {"refs": refs, "licensee": licensee, "use": call.use, "date": ON_DATE, "territory": TERRITORY}
    ).fetchall()
    return (time.perf_counter() - start) * 1000, rows


def _compare(response, rows: list, call: Call) -> list[str]:
    if response.status_code != 200:
        return [f"ours: HTTP {response.status_code}: {response.content[:300]!r}"]
    results = response.json()["results"]
    if len(results) != len(rows):
        return [f"ours: {len(results)} results for {len(rows)} references"]
    differences = []
    for ref, result, (_ord, work_id, status, agreement_id) in zip(call.refs, results, rows, strict=True):
        want = (str(work_id) if work_id else None, status, str(agreement_id) if agreement_id else None)
        got = (result["work"], result["status"], result["agreement"])
        if result["ref"] != ref or got != want:
            differences.append(f"{call.use} {ref!r}: ours {got}, SQL {want}")
    return differences


class _Recorder:
    """Times every SQL statement Django runs (`connection.execute_wrapper`) and selectors.clearance as a whole."""

    def __init__(self) -> None:
        self.sql: list[float] = []
        self.selector = 0.0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.sql.append((time.perf_counter() - start) * 1000)


def _where_ours_spends(client, key: str, call: Call) -> tuple[float, _Recorder]:
    """One more call of ours, not counted: its SQL statements and its selectors.clearance timed."""
    from django.db import connection

    from licensing import selectors

    recorder = _Recorder()
    original = selectors.clearance

    def clearance(**kwargs):
        start = time.perf_counter()
        try:
            return original(**kwargs)
        finally:
            recorder.selector = (time.perf_counter() - start) * 1000

    selectors.clearance = clearance
    try:
        with connection.execute_wrapper(recorder):
            total, _response = _ours(client, key, call)
    finally:
        selectors.clearance = original
    return total, recorder


# --- the run -------------------------------------------------------------------------------------------------------


def _run(args) -> int:
    import psycopg
    from django.test import Client

    description = _fixtures.server_description()
    print(f"clearance benchmark on {description}; loading {args.works:,} works …", flush=True)
    rng = random.Random(SEED)
    world = _world(args.works, rng)
    print(f"  loaded in {sum(world.catalogue.seconds.values()):.1f} s", flush=True)
    calls, kinds = _calls(world.catalogue, args.warmup + args.requests, args.refs, rng)

    client = Client()
    ours_ms, sql_ms, problems = [], [], []
    statuses: dict[str, int] = {}
    # no server-side prepared statements: every call planned for its own references, as Django does
    load = [os.getloadavg()[0]]
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, prepare_threshold=None) as conn:
        for i, call in enumerate(calls):
            gc.collect()
            ours, response = _ours(client, world.key, call)
            sql, rows = _sql(conn, world.licensee.pk, call)
            differences = _compare(response, rows, call)
            if differences:
                problems.append(f"call {i + 1}: {len(differences)} answers differ, e.g. {'; '.join(differences[:3])}")
            if i >= args.warmup:
                ours_ms.append(ours)
                sql_ms.append(sql)
                for row in rows:
                    statuses[row[2]] = statuses.get(row[2], 0) + 1
            print(f"  call {i + 1}{' (warm-up)' if i < args.warmup else ''}, {call.use}: ours {ours:.1f} ms, "
                  f"SQL {sql:.1f} ms", flush=True)  # fmt: skip
    load.append(os.getloadavg()[0])
    extra_total, recorder = _where_ours_spends(client, world.key, calls[-1])

    ours_median, sql_median = statistics.median(ours_ms), statistics.median(sql_ms)
    ratio = ours_median / sql_median
    ratio_met, ms_met = ratio <= RATIO_TARGET, ours_median < MS_TARGET
    sql_in_ours = sum(recorder.sql)
    total_refs = sum(statuses.values())
    lines = [
        "",
        f"clearance benchmark, {args.refs:,} references per call, {description}",
        *world.description,
        f"references: {kinds['uuid']:,} uuids, {kinds['isbn:']:,} isbn:, {kinds['ext:']:,} ext:, "
        f"{kinds['unknown']:,} unknown or malformed over {len(calls)} calls; answers of the timed calls: "
        + ", ".join(f"{status} {count / total_refs:.1%}" for status, count in sorted(statuses.items())),
        f"timing: median of {args.requests} calls after {args.warmup} warm-ups, each call's references drawn anew, "
        f"{ON_DATE} in {TERRITORY}, the use turning over {', '.join(USES)}; load average (1 min) {load[0]:.2f} → "
        f"{load[1]:.2f} on this shared machine",
        "",
        f"{'':58}{'median':>12}{'min':>12}{'max':>12}",
        f"{'hand-written SQL (one statement, psycopg)':58}{_ms(sql_ms)}",
        f"{'ours (POST /api/v1/clearances, django.test.Client)':58}{_ms(ours_ms)}",
        f"ours ÷ SQL = {ratio:.2f}  (target ≤ {RATIO_TARGET:g}: {'met' if ratio_met else 'NOT met'})",
        f"ours under {MS_TARGET:g} ms: {'yes' if ms_met else 'no'} ({ours_median:.1f} ms; target: "
        f"{'met' if ms_met else 'NOT met'})",
        "",
        f"where ours spends its time (one more call, not counted: {extra_total:.1f} ms): selectors.clearance "
        f"{recorder.selector:.1f} ms, of which SQL {sql_in_ours:.1f} ms in {len(recorder.sql)} statement(s) "
        f"(slowest {max(recorder.sql, default=0):.1f} ms); the rest of the request (middleware, authentication, "
        f"throttle, DRF parsing and validation, rendering) {extra_total - recorder.selector:.1f} ms",
    ]
    print("\n".join(lines), flush=True)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems or not ratio_met or not ms_met else 0


def _ms(values: list[float]) -> str:
    return "".join(f"{value:>9.1f} ms" for value in (statistics.median(values), min(values), max(values)))


if __name__ == "__main__":
    sys.exit(_main_in_process(sys.argv[1:]))
