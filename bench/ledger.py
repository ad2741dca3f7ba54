"""Ledger benchmark: how fast two-leg journal transactions are written, against a floor and against django-hordak.

All in one run on one PostgreSQL, in a database of its own (`rights_ledger_bench`, dropped and created again at
start, on the embedded server unless DATABASE_URL names another server):

- lower bound: binary COPY of the same rows (1 transaction + 2 postings each) into plain tables with a primary key
  and nothing else, in batches as large as the bulk service's: the floor of what writing those rows can cost;
- ours single: `journal_post`, one database transaction per post;
- ours bulk: `journal_post_bulk`, one database transaction per batch;
- hordak: django-hordak's `Account.transfer_to` (atomic itself: one database transaction per transfer);
- the chain lock: `journal_post` from 1 and from several processes at once. Every post locks the one chain-head
  row, so posters queue; hordak, which has no global lock, shows what the same machine gives without one.

Every throughput is printed as transactions/s and as a ratio to the lower bound measured in the same run.
Options: --n 100000 (transactions per method), --batch 10000 (bulk batch), --posters 4, --concurrent-n N/5.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import multiprocessing
import os
import random
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

BENCH_DATABASE = "rights_ledger_bench"
HOLDERS = 4  # rights holders, each with a bank and a payable account; posts cycle over them
CURRENCY = "JPY"
SEED = 20240601
BULK_TARGET = 10.0  # ours bulk ÷ hordak (the targets)
SINGLE_TARGET = 1.0  # ours single ÷ hordak
WORKER_TIMEOUT = 3600.0  # seconds a concurrent poster may take

FLOOR_TABLES = """
CREATE TABLE bench_floor_transaction (
    id bigint PRIMARY KEY,
    posted_at timestamptz NOT NULL,
    effective_date date NOT NULL,
    memo varchar(500) NOT NULL,
    idempotency_key varchar(200) NOT NULL,
    cause_type varchar(40) NOT NULL,
    cause_id varchar(64) NOT NULL,
    reverses_id bigint,
    previous_hash varchar(64) NOT NULL,
    hash varchar(64) NOT NULL
);
CREATE TABLE bench_floor_posting (
    id bigint PRIMARY KEY,
    transaction_id bigint NOT NULL,
    account_id bigint NOT NULL,
    amount bigint NOT NULL,
    currency varchar(3) NOT NULL
);
"""
FLOOR_TXN_TYPES = ["int8", "timestamptz", "date", *["varchar"] * 4, "int8", "varchar", "varchar"]
FLOOR_POSTING_TYPES = ["int8", "int8", "int8", "int8", "varchar"]


@dataclass(frozen=True)
class Result:
    label: str
    transactions: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.transactions / self.seconds


def main(options: list[str]) -> int:
    args, unknown = _parser().parse_known_args(options)
    if unknown:
        print(f"ledger: ignoring options it does not know: {' '.join(unknown)}")
    if args.n < 1 or args.batch < 1 or args.posters < 2:
        print("ledger: --n and --batch must be positive and --posters at least 2")
        return 2
    if importlib.util.find_spec("hordak") is None:
        print("ledger: django-hordak is not installed; `make bench` installs requirements-bench.txt")
        return 2
    concurrent_n = args.concurrent_n or max(args.n // 5, args.posters)

    server = _prepare_environment()  # keep the embedded server's handle until the run ends
    try:
        return _run(args.n, args.batch, args.posters, concurrent_n)
    finally:
        from django.db import connections

        connections.close_all()
        del server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench ledger", description="Ledger posting benchmark.")
    parser.add_argument("--n", type=int, default=100_000, help="two-leg transactions per method (100000)")
    parser.add_argument("--batch", type=int, default=10_000, help="transactions per journal_post_bulk call (10000)")
    parser.add_argument("--posters", type=int, default=4, help="concurrent posters for the chain-lock test (4)")
    parser.add_argument("--concurrent-n", type=int, default=0, help="transactions in the chain-lock test (N/5)")
    return parser


# --- database and Django --------------------------------------------------------------------------------------


def _prepare_environment():
    """A fresh benchmark database, its URL in DATABASE_URL, and Django set up with hordak installed."""
    server = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        from config.embedded import start_postgres

        server, url = start_postgres(database=BENCH_DATABASE)
    _recreate_database(_with_database(url, "postgres"), BENCH_DATABASE)
    os.environ["DATABASE_URL"] = _with_database(url, BENCH_DATABASE)
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-" + "k" * 50)
    os.environ["DJANGO_DEBUG"] = "false"  # DEBUG would keep every query in memory
    os.environ["DJANGO_SECURE_SSL_REDIRECT"] = "false"
    os.environ["DJANGO_STATIC_MANIFEST"] = "false"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench._settings"
    _setup_django()

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return server


def _setup_django() -> None:
    import django

    django.setup()


def _with_database(url: str, database: str) -> str:
    return urlsplit(url)._replace(path="/" + database).geturl()


def _recreate_database(admin_url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def _server_description() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('server_version'), current_setting('synchronous_commit')")
        version, synchronous_commit = cursor.fetchone()
    return f"PostgreSQL {version} (synchronous_commit={synchronous_commit}), {os.cpu_count()} CPUs"


# --- the workload ----------------------------------------------------------------------------------------------


def _amounts(n: int, salt: int) -> list[int]:
    rng = random.Random(SEED + salt)
    return [rng.randint(1, 10_000_000) for _ in range(n)]


def _our_accounts() -> list[tuple[object, object]]:
    """(bank, payable) per rights holder."""
    from ledger.choices import AccountPurpose, OwnerType
    from ledger.services import account_get_or_create

    pairs = []
    for _ in range(HOLDERS):
        owner_id = uuid.uuid4()
        bank, payable = (
            account_get_or_create(
                purpose=purpose, currency=CURRENCY, owner_type=OwnerType.RIGHTS_HOLDER, owner_id=owner_id
            )
            for purpose in (AccountPurpose.BANK, AccountPurpose.RIGHTS_HOLDER_PAYABLE)
        )
        pairs.append((bank, payable))
    return pairs


def _hordak_accounts() -> list[tuple[object, object]]:
    from hordak.models import Account, AccountType

    return [
        (
            Account.objects.create(name=f"Bank {h}", type=AccountType.asset, currencies=[CURRENCY]),
            Account.objects.create(name=f"Payable {h}", type=AccountType.liability, currencies=[CURRENCY]),
        )
        for h in range(HOLDERS)
    ]


def _timed(label: str, n: int, work) -> Result:
    gc.collect()
    start = time.perf_counter()
    work()
    result = Result(label, n, time.perf_counter() - start)
    print(f"  {label}: {n} transactions in {result.seconds:.2f} s ({result.rate:,.0f} tx/s)", flush=True)
    return result


def _floor(n: int, batch: int) -> Result:
    """Binary COPY of the rows journal_post_bulk writes, into tables with a primary key and nothing else."""
    import psycopg
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        cursor.execute(FLOOR_TABLES)
    posted_at = datetime.now(UTC)
    today = posted_at.date()
    hashes = [f"{i:064x}" for i in range(n + 1)]
    amounts = _amounts(n, 0)
    txns = [(i, posted_at, today, "", f"floor:{i}", "", "", None, hashes[i - 1], hashes[i]) for i in range(1, n + 1)]
    postings = []
    for i, amount in zip(range(1, n + 1), amounts, strict=True):
        bank = 1 + 2 * (i % HOLDERS)
        postings.append((2 * i - 1, i, bank, amount, CURRENCY))
        postings.append((2 * i, i, bank + 1, -amount, CURRENCY))

    def work() -> None:
        for start in range(0, n, batch):
            with transaction.atomic(), connection.cursor() as cursor:
                raw: psycopg.Cursor = cursor.cursor
                with raw.copy(
                    "COPY bench_floor_transaction (id, posted_at, effective_date, memo, idempotency_key, cause_type, "
                    "cause_id, reverses_id, previous_hash, hash) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(FLOOR_TXN_TYPES)
                    for row in txns[start : start + batch]:
                        copy.write_row(row)
                with raw.copy(
                    "COPY bench_floor_posting (id, transaction_id, account_id, amount, currency) "
                    "FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(FLOOR_POSTING_TYPES)
                    for row in postings[2 * start : 2 * (start + batch)]:
                        copy.write_row(row)

    return _timed("lower bound (COPY, no constraints)", n, work)


def _ours_single(n: int, accounts: list[tuple[object, object]]) -> Result:
    from ledger.money import Money
    from ledger.services import journal_post

    amounts = _amounts(n, 1)

    def work() -> None:
        for i, amount in enumerate(amounts):
            bank, payable = accounts[i % HOLDERS]
            journal_post(
                legs=[(bank, Money(amount, CURRENCY)), (payable, Money(-amount, CURRENCY))],
                idempotency_key=f"bench:single:{i}",
            )

    return _timed("ours single (journal_post)", n, work)


def _ours_bulk(n: int, batch: int, accounts: list[tuple[object, object]]) -> Result:
    from ledger.money import Money
    from ledger.services import Entry, journal_post_bulk

    amounts = _amounts(n, 2)

    def work() -> None:
        for start in range(0, n, batch):
            entries = []
            for i in range(start, min(start + batch, n)):
                bank, payable = accounts[i % HOLDERS]
                amount = amounts[i]
                entries.append(
                    Entry(
                        idempotency_key=f"bench:bulk:{i}",
                        legs=[(bank, Money(amount, CURRENCY)), (payable, Money(-amount, CURRENCY))],
                    )
                )
            journal_post_bulk(entries=entries)

    return _timed("ours bulk (journal_post_bulk)", n, work)


def _hordak(n: int, accounts: list[tuple[object, object]]) -> Result:
    from moneyed import Money

    amounts = _amounts(n, 3)

    def work() -> None:
        for i, amount in enumerate(amounts):
            bank, payable = accounts[i % HOLDERS]
            payable.transfer_to(bank, Money(amount, CURRENCY))  # credits payable, debits bank, atomically

    return _timed("hordak transfer_to", n, work)


# --- concurrent posters (the chain-head lock) -------------------------------------------------------------------


def _poster(kind: str, worker: int, count: int, accounts: tuple[int, int], barrier, results) -> None:
    """One posting process: its own Django, its own connection; posts `count` transactions after the barrier."""
    try:
        _setup_django()
        amounts = _amounts(count, 100 + worker)
        if kind == "ours":
            from ledger.models import Account
            from ledger.money import Money
            from ledger.services import journal_post

            bank, payable = (Account.objects.get(pk=pk) for pk in accounts)
            barrier.wait(WORKER_TIMEOUT)
            for i, amount in enumerate(amounts):
                journal_post(
                    legs=[(bank, Money(amount, CURRENCY)), (payable, Money(-amount, CURRENCY))],
                    idempotency_key=f"bench:concurrent:{barrier.parties - 1}:{worker}:{i}",
                )
        else:
            from hordak.models import Account
            from moneyed import Money

            bank, payable = (Account.objects.get(pk=pk) for pk in accounts)
            barrier.wait(WORKER_TIMEOUT)
            for amount in amounts:
                payable.transfer_to(bank, Money(amount, CURRENCY))
        results.put((worker, None))
    except BaseException:
        results.put((worker, traceback.format_exc()))
        barrier.abort()


def _concurrent(kind: str, posters: int, n: int, accounts: list[tuple[object, object]]) -> Result:
    """`n` transactions from `posters` processes at once; throughput from the common start to the last finish."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(posters + 1)
    results = ctx.Queue()
    counts = [n // posters + (1 if w < n % posters else 0) for w in range(posters)]
    processes = [
        ctx.Process(
            target=_poster,
            args=(kind, w, counts[w], tuple(a.pk for a in accounts[w % HOLDERS]), barrier, results),
            daemon=True,
        )
        for w in range(posters)
    ]
    for process in processes:
        process.start()
    label = f"{kind} {'journal_post' if kind == 'ours' else 'transfer_to'}, {posters} poster(s)"
    seconds = 0.0
    try:
        barrier.wait(WORKER_TIMEOUT)
        start = time.perf_counter()
        outcomes = [results.get(timeout=WORKER_TIMEOUT) for _ in processes]
        seconds = time.perf_counter() - start
    except threading.BrokenBarrierError:
        outcomes = [results.get(timeout=60)]  # the poster that broke the barrier says why
    finally:
        for process in processes:
            process.join(60)
    errors = [error for _worker, error in outcomes if error]
    if errors:
        raise RuntimeError(f"a concurrent poster failed:\n{errors[0]}")
    result = Result(label, n, seconds)
    print(f"  {label}: {n} transactions in {seconds:.2f} s ({result.rate:,.0f} tx/s)", flush=True)
    return result


# --- the run ---------------------------------------------------------------------------------------------------


def _run(n: int, batch: int, posters: int, concurrent_n: int) -> int:
    from django.db import connection

    description = _server_description()
    print(f"ledger benchmark on {description}; N={n}, bulk batch {batch}", flush=True)
    ours_accounts = _our_accounts()
    hordak_accounts = _hordak_accounts()

    floor = _floor(n, batch)
    single = _ours_single(n, ours_accounts)
    bulk = _ours_bulk(n, batch, ours_accounts)
    hordak = _hordak(n, hordak_accounts)
    connection.close()  # the posters below open their own
    lock_1 = _concurrent("ours", 1, concurrent_n, ours_accounts)
    lock_n = _concurrent("ours", posters, concurrent_n, ours_accounts)
    free_1 = _concurrent("hordak", 1, concurrent_n, hordak_accounts)
    free_n = _concurrent("hordak", posters, concurrent_n, hordak_accounts)

    problems = _check(ours=2 * n + 2 * concurrent_n, hordak=n + 2 * concurrent_n, floor=n)

    width = 38
    lines = [
        "",
        f"ledger benchmark, N={n} two-leg transactions, {description}",
        f"{'':{width}}{'tx/s':>10}   ÷ lower bound",
    ]
    for label, result in [
        ("lower bound (COPY, no constraints)", floor),
        ("ours bulk (journal_post_bulk)", bulk),
        ("ours single (journal_post)", single),
        ("hordak transfer_to", hordak),
    ]:
        lines.append(f"{label:{width}}{result.rate:>10,.0f}   {_ratio(result.rate / floor.rate)}x")
    bulk_ratio = bulk.rate / hordak.rate
    single_ratio = single.rate / hordak.rate
    lines += [
        f"ours bulk ÷ hordak = {_ratio(bulk_ratio)}  (target ≥ {BULK_TARGET:g}: {_met(bulk_ratio, BULK_TARGET)})",
        f"ours single ÷ hordak = {_ratio(single_ratio)}  "
        f"(target ≥ {SINGLE_TARGET:g}: {_met(single_ratio, SINGLE_TARGET)})",
        f"chain lock: {posters} posters ÷ 1 poster = {_ratio(lock_n.rate / lock_1.rate)}  "
        f"(journal_post, {concurrent_n} tx: {lock_1.rate:,.0f} → {lock_n.rate:,.0f} tx/s)",
        f"  without a global lock (hordak): {posters} posters ÷ 1 poster = {_ratio(free_n.rate / free_1.rate)}  "
        f"({free_1.rate:,.0f} → {free_n.rate:,.0f} tx/s)",
    ]
    print("\n".join(lines), flush=True)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    return 1 if problems else 0


def _check(*, ours: int, hordak: int, floor: int) -> list[str]:
    """Every write landed, and the ledger (hash chain included) verifies."""
    from django.db import connection

    from ledger.verification import verify_ledger

    report = verify_ledger()
    problems = [f"{kind}: {rows[0]}" for kind, rows in report.problems.items()]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM hordak_transaction), (SELECT count(*) FROM bench_floor_transaction)"
        )
        hordak_written, floor_written = cursor.fetchone()
    for name, written, expected in [
        ("ours", report.transactions, ours),
        ("hordak", hordak_written, hordak),
        ("lower bound", floor_written, floor),
    ]:
        if written != expected:
            problems.append(f"{name}: {written} transactions written, {expected} expected")
    return problems


def _ratio(value: float) -> str:
    """Three significant digits, trailing zeros kept: 1.00, 0.137, 0.00564, 15.8, 1,234."""
    return f"{value:#.3g}" if value < 99.95 else f"{value:,.0f}"


def _met(value: float, target: float) -> str:
    return "met" if value >= target else "NOT met"
