"""Shared by the ingest and clearance benchmarks: a fresh database with Django on it, a private Redis, and a
catalogue (rights holders, a work hierarchy with ISBNs and external ids, shares summing to 100.00) loaded with
psycopg COPY in one transaction, every constraint and trigger in force (the deferred share-sum trigger included;
only the GIN bigram indexes are dropped during the COPY and built again after it).

(The leading underscore keeps the bench runner from taking it for a benchmark.)
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

STANDALONE_FRACTION = 0.05  # illustrations and characters, with shares of their own
FRANCHISE_FRACTION = 0.08  # of the series groups: a franchise work holding the shares of 2 or 3 series below it
ANIME_FRACTION = 0.15  # of the series: episodes, without ISBNs
EXT_FRACTION = 0.30  # of the series (with all their volumes) and standalone works: an external id
VOLUMES = (10, 28)
SCHEMES = ("hikari", "kodama", "aozora-pub", "anidb")

HOLDER_COLUMNS = (
    "id", "name", "name_kana", "kind", "country", "resident", "invoice_registration_number", "email", "postal_code",
    "address", "minimum_payout_amount", "minimum_payout_currency", "created_at", "updated_at",
)  # fmt: skip
WORK_COLUMNS = ("id", "kind", "title", "title_en", "parent_id", "isbn", "iscc", "created_at", "updated_at")


# --- database, Django, Redis ------------------------------------------------------------------------------------


def prepare_environment(database: str, *, allowed_hosts: str = "testserver", extra_env: dict | None = None):
    """A fresh database `database` (on the embedded PostgreSQL unless DATABASE_URL names a server), its URL in
    DATABASE_URL, Django set up with the service's own settings and the schema migrated. Returns the embedded
    server's handle (keep it until the run ends) or None."""
    server = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        from config.embedded import start_postgres

        server, url = start_postgres(database=database)
    recreate_database(with_database(url, "postgres"), database)
    os.environ["DATABASE_URL"] = with_database(url, database)
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-" + "k" * 50)
    os.environ["DJANGO_DEBUG"] = "false"  # production settings: no query log
    os.environ["DJANGO_SECURE_SSL_REDIRECT"] = "false"
    os.environ["DJANGO_STATIC_MANIFEST"] = "false"
    os.environ["DJANGO_ALLOWED_HOSTS"] = allowed_hosts
    os.environ["DATABASE_CONN_MAX_AGE"] = "86400"  # one connection for the whole run
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.update(extra_env or {})

    import django

    django.setup()

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return server


def with_database(url: str, database: str) -> str:
    return urlsplit(url)._replace(path="/" + database).geturl()


def recreate_database(admin_url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


def server_description() -> str:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        version, buffers, commit = conn.execute(
            "SELECT current_setting('server_version'), current_setting('shared_buffers'), "
            "current_setting('synchronous_commit')"
        ).fetchone()
    return f"PostgreSQL {version} (shared_buffers={buffers}, synchronous_commit={commit}), {os.cpu_count()} CPUs"


class PrivateRedis:
    """The embedded redis-server on a free port with its data in a temporary directory (not `.data/redis`, which
    `make up` uses), stopped and removed by `stop()`."""

    def __init__(self) -> None:
        from config.embedded import start_redis

        self.directory = Path(tempfile.mkdtemp(prefix="bench-redis-"))
        self.process, self.url = start_redis(data_dir=self.directory)

    def stop(self) -> None:
        from config.embedded import stop_process

        stop_process(self.process)
        shutil.rmtree(self.directory, ignore_errors=True)


# --- the catalogue ----------------------------------------------------------------------------------------------


@dataclass
class Catalogue:
    """What the load wrote, by work index (position in `work_ids`) and holder index (position in `holder_ids`)."""

    holder_ids: list[uuid.UUID]
    publishers: int  # holders 0 .. publishers-1 are corporations, the rest individuals
    work_ids: list[uuid.UUID] = field(default_factory=list)
    parent: list[int] = field(default_factory=list)  # parent's work index, -1 for none
    isbn: dict[int, str] = field(default_factory=dict)  # ISBN-13 digits
    ext: dict[int, tuple[str, str]] = field(default_factory=dict)  # (scheme, value)
    owners: dict[int, list[tuple[int, str]]] = field(default_factory=dict)  # works with shares: (holder, share)
    franchises: list[int] = field(default_factory=list)
    series: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)  # volumes and episodes
    standalone: list[int] = field(default_factory=list)
    isbns_used: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def works(self) -> int:
        return len(self.work_ids)

    @property
    def shares(self) -> int:
        return sum(len(owners) for owners in self.owners.values())

    def root(self, work: int) -> int:
        """The work whose shares `work` has (its own or the nearest ancestor's)."""
        while work not in self.owners:
            work = self.parent[work]
        return work

    def summary(self) -> str:
        return (
            f"{self.works:,} works ({len(self.franchises):,} franchises, {len(self.series):,} series, "
            f"{len(self.children):,} volumes and episodes, {len(self.standalone):,} standalone; "
            f"{len(self.isbn):,} with an ISBN, {len(self.ext):,} with an external id), "
            f"{len(self.holder_ids):,} rights holders, {self.shares:,} shares"
        )


def new_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def isbn13(n: int) -> str:
    """The n-th ISBN-13 of a Japanese publisher range (all different for n < 10^8), with its check digit."""
    body = f"9784{(n * 7919 + 1_234_567) % 100_000_000:08d}"  # 7919 is prime to 10^8
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def hyphenated(isbn: str) -> str:
    return f"{isbn[:3]}-{isbn[3]}-{isbn[4:8]}-{isbn[8:12]}-{isbn[12]}"


def split_shares(holders: list[int], rng: random.Random) -> list[tuple[int, str]]:
    """Shares in hundredths summing to exactly 100.00, the first holder taking the most."""
    if len(holders) == 1:
        cents = [10_000]
    else:
        first = rng.randrange(50, 91) * 100
        rest = 10_000 - first
        if len(holders) == 2:
            cents = [first, rest]
        else:
            second = rng.randint(1, rest - 1)
            cents = [first, second, rest - second]
    return [(holder, f"{c // 100}.{c % 100:02d}") for holder, c in zip(holders, cents, strict=True)]


def default_owners(publishers: int, holders: int) -> Callable[[random.Random, str], list[int]]:
    """Publisher-led works (a publisher and 0 to 2 authors) for franchises and series, mostly authors alone for
    standalone works."""

    def owners(rng: random.Random, kind: str) -> list[int]:
        authors = rng.sample(range(publishers, holders), 2)
        if kind == "standalone" and rng.random() < 0.7:
            return [authors[0]] if rng.random() < 0.8 else authors
        extra = rng.choices([0, 1, 2], weights=[5, 4, 1])[0]
        return [rng.randrange(publishers), *authors[:extra]]

    return owners


def build_catalogue(
    total: int, holders: int, publishers: int, rng: random.Random, owners: Callable[[random.Random, str], list[int]]
) -> Catalogue:
    """The works (in memory: indexes, ids, parents, identifiers, shares); `owners(rng, kind)` picks the holder
    indexes of each work with shares (kind: franchise, series or standalone), the first one taking the most."""
    catalogue = Catalogue(holder_ids=[new_uuid(rng) for _ in range(holders)], publishers=publishers)
    budget = total - int(total * STANDALONE_FRACTION)

    def add(parent: int) -> int:
        catalogue.work_ids.append(new_uuid(rng))
        catalogue.parent.append(parent)
        return len(catalogue.work_ids) - 1

    def add_series(parent: int) -> None:
        nonlocal budget
        series = add(parent)
        budget -= 1
        catalogue.series.append(series)
        if parent < 0:
            catalogue.owners[series] = split_shares(owners(rng, "series"), rng)
        anime = rng.random() < ANIME_FRACTION
        scheme = rng.choice(SCHEMES) if rng.random() < EXT_FRACTION else None
        code = f"S{len(catalogue.series):07d}"
        if scheme:
            catalogue.ext[series] = (scheme, code)
        for n in range(1, max(0, min(rng.randint(*VOLUMES), budget)) + 1):
            child = add(series)
            budget -= 1
            catalogue.children.append(child)
            if not anime:
                catalogue.isbn[child] = isbn13(catalogue.isbns_used)
                catalogue.isbns_used += 1
            if scheme:
                catalogue.ext[child] = (scheme, f"{code}-{n:03d}")

    while budget > 0:
        if budget > 100 and rng.random() < FRANCHISE_FRACTION:
            franchise = add(-1)
            budget -= 1
            catalogue.franchises.append(franchise)
            catalogue.owners[franchise] = split_shares(owners(rng, "franchise"), rng)
            for _ in range(rng.randint(2, 3)):
                add_series(franchise)
        else:
            add_series(-1)
    while len(catalogue.work_ids) < total:
        work = add(-1)
        catalogue.standalone.append(work)
        catalogue.owners[work] = split_shares(owners(rng, "standalone"), rng)
        if rng.random() < EXT_FRACTION / 3:
            catalogue.ext[work] = (rng.choice(SCHEMES), f"A{work:08d}")
    return catalogue


def _work_rows(catalogue: Catalogue):
    now = datetime.now(UTC)
    kinds = {}
    for work in catalogue.franchises:
        kinds[work] = "other"
    for work in catalogue.series:
        kinds[work] = "manga_series"
    for work in catalogue.children:
        parent = catalogue.parent[work]
        if work not in catalogue.isbn:
            kinds[parent] = "anime_series"
    for work in catalogue.standalone:
        kinds[work] = "illustration" if work % 3 else "character"
    for work, (work_id, parent) in enumerate(zip(catalogue.work_ids, catalogue.parent, strict=True)):
        kind = kinds.get(work)
        if kind is None:  # a volume or an episode
            kind = "manga_volume" if work in catalogue.isbn else "anime_episode"
        parent_id = catalogue.work_ids[parent] if parent >= 0 else None
        title = f"作品{work}"
        yield (work_id, kind, title, f"Work {work}", parent_id, catalogue.isbn.get(work), None, now, now)


def _holder_rows(catalogue: Catalogue):
    now = datetime.now(UTC)
    for i, holder_id in enumerate(catalogue.holder_ids):
        if i < catalogue.publishers:
            row = (f"株式会社出版{i}", f"ｶ)ｼｭｯﾊﾟﾝ{i}", "corporation")
        else:
            row = (f"作家 {i}", f"ｻｯｶ {i}", "individual")
        yield (holder_id, *row, "JP", True, None, "", "", "", 0, "JPY", now, now)


def load_catalogue(catalogue: Catalogue) -> None:
    """Holders, works, external ids and shares by COPY in one transaction (expression indexes built after, the
    deferred checks run before COMMIT), then VACUUM ANALYZE. Times go to `catalogue.seconds`."""
    import psycopg
    from psycopg import sql

    started = time.perf_counter()
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = ANY(%s::regclass[]) AND x.indexprs IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            [["licensing_rightsholder", "licensing_work"]],
        )
        indexes = cursor.fetchall()
        for name, _definition in indexes:
            cursor.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        with cursor.copy(f"COPY licensing_rightsholder ({', '.join(HOLDER_COLUMNS)}) FROM STDIN") as copy:
            for row in _holder_rows(catalogue):
                copy.write_row(row)
        with cursor.copy(f"COPY licensing_work ({', '.join(WORK_COLUMNS)}) FROM STDIN") as copy:
            for row in _work_rows(catalogue):
                copy.write_row(row)
        with cursor.copy("COPY licensing_workidentifier (work_id, scheme, value) FROM STDIN") as copy:
            for work, (scheme, value) in catalogue.ext.items():
                copy.write_row((catalogue.work_ids[work], scheme, value))
        holder_ids, work_ids = catalogue.holder_ids, catalogue.work_ids
        with cursor.copy("COPY licensing_share (work_id, rights_holder_id, share) FROM STDIN") as copy:
            for work, owners in catalogue.owners.items():
                for holder, share in owners:
                    copy.write_row((work_ids[work], holder_ids[holder], share))
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign keys and share-sum trigger, now
        for _name, definition in indexes:
            cursor.execute(definition)
        conn.commit()
        conn.autocommit = True
        # The tables the triggers keep too (each work's facts row is written with the work and again with its
        # shares, in the same transaction: half its tuples are dead until vacuumed). A database in service is
        # vacuumed by autovacuum; without this, every probe of the facts would step over a dead version first.
        cursor.execute(
            "VACUUM ANALYZE licensing_rightsholder, licensing_work, licensing_workidentifier, licensing_share, "
            "licensing_work_facts, licensing_work_owner"
        )
    catalogue.seconds["load"] = time.perf_counter() - started
