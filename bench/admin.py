"""Admin benchmark: the works changelist and change page answer in under 300 ms with 1,000,000 works.

In a database of its own (`rights_ledger_bench_admin`, dropped and created again at start, on the embedded server
unless DATABASE_URL names another server), loaded with psycopg COPY (not the ORM), in one transaction with every
constraint and trigger in force (the deferred share-sum trigger included; only the GIN bigram indexes are dropped
during the COPY and built again after it):

- 10,000 rights holders: one big publisher, 199 other publishers, the rest individuals (authors);
- 1,000,000 works: ~47,500 series (manga, some anime) of 10 to 28 volumes or episodes each, which have no shares and
  inherit their series'; 5 % standalone works (illustrations, characters). Titles are random combinations of a few
  hundred Japanese words (+ 第N巻 / 第N話), with English titles to match; volumes carry valid ISBN-13s;
- shares for every work without a parent: 1 to 3 holders summing to exactly 100.00. The big publisher holds a share
  of ~10 % of the series and standalone works, so it owns ~100,000 works.

Then, in-process with django.test.Client (force_login), the time Django takes to answer (median and p95 of
--requests requests after --warmup warm-ups) for the staff changelist (plain, searched in Japanese and by ISBN,
filtered by kind), a volume's change page, the parent autocomplete, and the big publisher's user's changelist and
change page. Every page is printed against the 300 ms target and as a ratio to a lower bound measured in the same
run: `/admin/password_change/`, the cheapest page that goes through everything an admin page does (middleware,
session and user lookups, admin_view, the base template with the navigation sidebar) and reads nothing else (the
index page also renders every app's models and reads the admin log). The autocomplete answers JSON without any
template, so it may come in under that bound. The bare SQL of the changelist's page of 50 is timed too, for context.
One more request per page, not timed, records its SQL queries (through `connection.execute_wrapper`, to the
microsecond): their number, their total time, the slowest one, and, for a page that misses the target, the EXPLAIN
ANALYZE of that query.

Exit status 1 if any page's median misses the target. Options: --works 1000000, --requests 20, --warmup 3.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import re
import statistics
import subprocess
import sys
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

BENCH_DATABASE = "rights_ledger_bench_admin"
TARGET_MS = 300.0
SEED = 20240602
HOLDERS = 10_000
PUBLISHERS = 200  # holder 0 is the big publisher, 1..199 the other publishers, the rest individuals
BIG = 0
BIG_FRACTION = 0.10  # of the series and standalone works, with their volumes: ~100,000 of 1,000,000 works
STANDALONE_FRACTION = 0.05
VOLUMES = (10, 28)  # volumes or episodes per series, ~19 on average
ANIME_FRACTION = 0.15  # of the series
SEARCH_JA = "魔法"  # a word of the vocabulary: in ~1 % of the titles
AUTOCOMPLETE_TERM = "異世界"
CHANGELIST = "/admin/licensing/work/"
LOWER_BOUND = "/admin/password_change/"

# fmt: off
NOUNS = [  # (Japanese, English)
    ("魔法", "Magic"), ("少女", "Girl"), ("少年", "Boy"), ("剣士", "Swordsman"), ("勇者", "Hero"),
    ("魔王", "Demon Lord"), ("王女", "Princess"), ("騎士", "Knight"), ("竜", "Dragon"), ("星", "Star"),
    ("月", "Moon"), ("空", "Sky"), ("海", "Sea"), ("森", "Forest"), ("花", "Flower"), ("桜", "Cherry Blossoms"),
    ("雪", "Snow"), ("風", "Wind"), ("炎", "Flame"), ("氷", "Ice"), ("雷", "Thunder"), ("光", "Light"),
    ("闇", "Darkness"), ("夢", "Dream"), ("恋", "Love"), ("約束", "Promise"), ("記憶", "Memories"),
    ("物語", "Tale"), ("伝説", "Legend"), ("冒険", "Adventure"), ("旅", "Journey"), ("学園", "Academy"),
    ("高校", "High School"), ("探偵", "Detective"), ("事件", "Case"), ("料理", "Cooking"), ("食堂", "Diner"),
    ("喫茶店", "Café"), ("図書館", "Library"), ("猫", "Cat"), ("犬", "Dog"), ("狐", "Fox"), ("鬼", "Oni"),
    ("忍者", "Ninja"), ("侍", "Samurai"), ("神様", "God"), ("天使", "Angel"), ("悪魔", "Devil"), ("幽霊", "Ghost"),
    ("妖怪", "Yokai"), ("機械", "Machine"), ("宇宙", "Space"), ("銀河", "Galaxy"), ("惑星", "Planet"),
    ("時計", "Clock"), ("時間", "Time"), ("未来", "Future"), ("過去", "Past"), ("世界", "World"),
    ("異世界", "Another World"), ("王国", "Kingdom"), ("帝国", "Empire"), ("戦争", "War"), ("平和", "Peace"),
    ("革命", "Revolution"), ("英雄", "Champion"), ("野球", "Baseball"), ("サッカー", "Football"),
    ("バスケ", "Basketball"), ("将棋", "Shogi"), ("囲碁", "Go"), ("音楽", "Music"), ("歌", "Song"),
    ("ピアノ", "Piano"), ("ギター", "Guitar"), ("アイドル", "Idol"), ("バンド", "Band"), ("映画", "Film"),
    ("写真", "Photograph"), ("手紙", "Letter"), ("日記", "Diary"), ("教室", "Classroom"), ("先生", "Teacher"),
    ("生徒会", "Student Council"), ("部活", "Club"), ("放課後", "After School"), ("夏", "Summer"),
    ("冬", "Winter"), ("春", "Spring"), ("秋", "Autumn"), ("雨", "Rain"), ("虹", "Rainbow"), ("夜", "Night"),
    ("朝", "Morning"), ("黄昏", "Twilight"), ("街", "Town"), ("東京", "Tokyo"), ("京都", "Kyoto"),
    ("大阪", "Osaka"), ("島", "Island"), ("山", "Mountain"), ("川", "River"), ("城", "Castle"), ("塔", "Tower"),
    ("迷宮", "Labyrinth"), ("鍵", "Key"), ("扉", "Door"), ("剣", "Sword"), ("盾", "Shield"), ("弓", "Bow"),
    ("銃", "Gun"), ("船", "Ship"), ("列車", "Train"), ("飛行機", "Airplane"), ("ロボット", "Robot"),
    ("怪獣", "Kaiju"), ("宝石", "Jewel"), ("王冠", "Crown"), ("指輪", "Ring"), ("薬", "Medicine"),
    ("医者", "Doctor"), ("病院", "Hospital"), ("警察", "Police"), ("刑事", "Inspector"), ("秘密", "Secret"),
    ("嘘", "Lie"), ("真実", "Truth"), ("運命", "Fate"), ("奇跡", "Miracle"), ("絆", "Bonds"),
    ("友達", "Friends"), ("家族", "Family"), ("兄弟", "Brothers"), ("姉妹", "Sisters"), ("恋人", "Lovers"),
    ("花嫁", "Bride"), ("魔女", "Witch"), ("錬金術師", "Alchemist"), ("商人", "Merchant"), ("農家", "Farmer"),
    ("料理人", "Chef"), ("職人", "Artisan"), ("社長", "President"), ("会社", "Company"), ("銀行", "Bank"),
    ("漫画家", "Mangaka"), ("作家", "Writer"), ("画家", "Painter"), ("ダンジョン", "Dungeon"),
    ("スライム", "Slime"), ("エルフ", "Elf"), ("ゴブリン", "Goblin"), ("ギルド", "Guild"), ("クエスト", "Quest"),
    ("モンスター", "Monster"), ("ハンター", "Hunter"), ("スキル", "Skill"), ("レベル", "Level"),
    ("チート", "Cheat"), ("転生", "Reincarnation"), ("召喚", "Summoning"), ("聖女", "Saint"),
    ("令嬢", "Young Lady"), ("悪役", "Villainess"), ("婚約", "Engagement"), ("皇帝", "Emperor"),
    ("公爵", "Duke"), ("辺境", "Frontier"), ("村", "Village"), ("温泉", "Hot Spring"), ("神社", "Shrine"),
    ("寺", "Temple"), ("祭り", "Festival"), ("花火", "Fireworks"), ("金魚", "Goldfish"), ("鯨", "Whale"),
    ("蝶", "Butterfly"), ("鳥", "Bird"), ("翼", "Wings"), ("心", "Heart"), ("声", "Voice"), ("瞳", "Eyes"),
    ("涙", "Tears"), ("笑顔", "Smile"), ("青春", "Youth"), ("日常", "Everyday Life"), ("奇譚", "Strange Tale"),
    ("戦記", "War Chronicle"), ("年代記", "Chronicle"), ("日和", "Days"), ("生活", "Life"), ("ごはん", "Meals"),
    ("おばけ", "Spooks"), ("ひみつ", "Secrets"), ("さくら", "Sakura"), ("ねこ", "Kitty"), ("きつね", "Little Fox"),
]
ADJECTIVES = [
    ("青い", "Blue"), ("赤い", "Red"), ("白い", "White"), ("黒い", "Black"), ("小さな", "Little"),
    ("大きな", "Great"), ("静かな", "Quiet"), ("最後の", "Last"), ("最強の", "Strongest"), ("秘密の", "Secret"),
    ("永遠の", "Eternal"), ("不思議な", "Mysterious"), ("優しい", "Gentle"), ("遠い", "Distant"),
    ("新しい", "New"), ("古い", "Old"), ("美しい", "Beautiful"), ("忘れられた", "Forgotten"),
    ("眠れる", "Sleeping"), ("恋する", "Lovestruck"), ("迷える", "Lost"), ("踊る", "Dancing"), ("歌う", "Singing"),
    ("空飛ぶ", "Flying"), ("真夜中の", "Midnight"), ("異国の", "Foreign"), ("孤独な", "Lonely"),
    ("無敵の", "Invincible"), ("伝説の", "Legendary"), ("黄金の", "Golden"), ("銀の", "Silver"),
    ("灼熱の", "Scorching"), ("蒼き", "Azure"), ("紅の", "Crimson"), ("幻の", "Phantom"),
    ("ひとりぼっちの", "Lonesome"), ("はじめての", "First"), ("さよならの", "Farewell"), ("僕の", "My"),
    ("君の", "Your"),
]
SURNAMES = [  # (kanji, half-width katakana, as on bank transfers)
    ("佐藤", "ｻﾄｳ"), ("鈴木", "ｽｽﾞｷ"), ("高橋", "ﾀｶﾊｼ"), ("田中", "ﾀﾅｶ"), ("伊藤", "ｲﾄｳ"), ("渡辺", "ﾜﾀﾅﾍﾞ"),
    ("山本", "ﾔﾏﾓﾄ"), ("中村", "ﾅｶﾑﾗ"), ("小林", "ｺﾊﾞﾔｼ"), ("加藤", "ｶﾄｳ"), ("吉田", "ﾖｼﾀﾞ"), ("山田", "ﾔﾏﾀﾞ"),
    ("佐々木", "ｻｻｷ"), ("山口", "ﾔﾏｸﾞﾁ"), ("松本", "ﾏﾂﾓﾄ"), ("井上", "ｲﾉｳｴ"), ("木村", "ｷﾑﾗ"), ("林", "ﾊﾔｼ"),
    ("斎藤", "ｻｲﾄｳ"), ("清水", "ｼﾐｽﾞ"), ("山崎", "ﾔﾏｻﾞｷ"), ("森", "ﾓﾘ"), ("池田", "ｲｹﾀﾞ"), ("橋本", "ﾊｼﾓﾄ"),
    ("阿部", "ｱﾍﾞ"), ("石川", "ｲｼｶﾜ"), ("前田", "ﾏｴﾀﾞ"), ("藤田", "ﾌｼﾞﾀ"), ("岡田", "ｵｶﾀﾞ"), ("後藤", "ｺﾞﾄｳ"),
]
GIVEN_NAMES = [
    ("翔", "ｼｮｳ"), ("蓮", "ﾚﾝ"), ("陽翔", "ﾊﾙﾄ"), ("大翔", "ﾋﾛﾄ"), ("悠真", "ﾕｳﾏ"), ("湊", "ﾐﾅﾄ"),
    ("結衣", "ﾕｲ"), ("陽菜", "ﾋﾅ"), ("葵", "ｱｵｲ"), ("凛", "ﾘﾝ"), ("美咲", "ﾐｻｷ"), ("さくら", "ｻｸﾗ"),
    ("健太", "ｹﾝﾀ"), ("拓也", "ﾀｸﾔ"), ("直樹", "ﾅｵｷ"), ("恵子", "ｹｲｺ"), ("由美", "ﾕﾐ"), ("真由美", "ﾏﾕﾐ"),
    ("浩", "ﾋﾛｼ"), ("誠", "ﾏｺﾄ"), ("茜", "ｱｶﾈ"), ("遥", "ﾊﾙｶ"), ("優子", "ﾕｳｺ"), ("彩", "ｱﾔ"),
]
PUBLISHER_STEMS = [
    ("星海", "ｾｲｶｲ"), ("青葉", "ｱｵﾊﾞ"), ("白鷺", "ｼﾗｻｷﾞ"), ("朝日", "ｱｻﾋ"), ("若草", "ﾜｶｸｻ"), ("紅葉", "ﾓﾐｼﾞ"),
    ("月光", "ｹﾞｯｺｳ"), ("富士", "ﾌｼﾞ"), ("大和", "ﾔﾏﾄ"), ("東雲", "ｼﾉﾉﾒ"), ("桜花", "ｵｳｶ"), ("翠嵐", "ｽｲﾗﾝ"),
]
PUBLISHER_SUFFIXES = [("書房", "ｼｮﾎﾞｳ"), ("出版", "ｼｭｯﾊﾟﾝ"), ("社", "ｼｬ"), ("コミックス", "ｺﾐｯｸｽ"), ("文庫", "ﾌﾞﾝｺ")]
# fmt: on
STANDALONE_KINDS = [("illustration", "イラスト"), ("character", "キャラクター"), ("other", "作品集")]

WORK_COLUMNS = ("id", "kind", "title", "title_en", "parent_id", "isbn", "iscc", "created_at", "updated_at")
HOLDER_COLUMNS = (
    "id", "name", "name_kana", "kind", "country", "resident", "invoice_registration_number", "email", "postal_code",
    "address", "minimum_payout_amount", "minimum_payout_currency", "created_at", "updated_at",
)  # fmt: skip


def main(options: list[str]) -> int:
    """Runs in a process of its own: Django is set up once per process, and `python -m bench` runs several
    benchmarks, each with its own database and settings, one after the other."""
    return subprocess.run([sys.executable, "-m", "bench.admin", *options], check=False).returncode


def _main_in_process(options: list[str]) -> int:
    args, unknown = _parser().parse_known_args(options)
    if unknown:
        print(f"admin: ignoring options it does not know: {' '.join(unknown)}")
    if args.works < 1_000 or args.requests < 1 or args.warmup < 0:
        print("admin: --works must be at least 1000, --requests positive, --warmup not negative")
        return 2
    server = _prepare_environment()  # keep the embedded server's handle until the run ends
    try:
        return _run(args.works, args.requests, args.warmup)
    finally:
        from django.db import connections

        connections.close_all()
        del server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench admin", description="Admin pages at scale.")
    parser.add_argument("--works", type=int, default=1_000_000, help="works to load (1000000)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page (20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per page before those (3)")
    return parser


# --- database and Django --------------------------------------------------------------------------------------


def _prepare_environment():
    """A fresh benchmark database, its URL in DATABASE_URL, Django set up and the schema migrated."""
    server = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        from config.embedded import start_postgres

        server, url = start_postgres(database=BENCH_DATABASE)
    _recreate_database(_with_database(url, "postgres"), BENCH_DATABASE)
    os.environ["DATABASE_URL"] = _with_database(url, BENCH_DATABASE)
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench-only-" + "k" * 50)
    os.environ["DJANGO_DEBUG"] = "false"  # production settings: no query log, cached templates
    os.environ["DJANGO_SECURE_SSL_REDIRECT"] = "false"
    os.environ["DJANGO_STATIC_MANIFEST"] = "false"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    # one connection for the whole run, as a busy server keeps it: a reconnection every 60 s would land in p95
    os.environ["DATABASE_CONN_MAX_AGE"] = "86400"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"

    import django

    django.setup()

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return server


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
        cursor.execute("SELECT current_setting('server_version'), current_setting('shared_buffers')")
        version, shared_buffers = cursor.fetchone()
    return f"PostgreSQL {version} (shared_buffers={shared_buffers}), {os.cpu_count()} CPUs"


# --- the catalogue ----------------------------------------------------------------------------------------------


@dataclass
class Catalogue:
    """What the load wrote, and the works the pages show."""

    works: int = 0
    series: int = 0
    children: int = 0
    standalone: int = 0
    shares: int = 0
    big_works: int = 0
    holder_ids: list[uuid.UUID] = field(default_factory=list)
    volume: tuple[uuid.UUID, str] | None = None  # a volume, for the staff change page: (id, ISBN)
    big_volume: uuid.UUID | None = None  # a volume the big publisher owns through its series
    seconds: dict[str, float] = field(default_factory=dict)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _series_title(rng: random.Random) -> tuple[str, str]:
    (a, a_en), (b, b_en) = rng.sample(NOUNS, 2)
    adj, adj_en = rng.choice(ADJECTIVES)
    pattern = rng.randrange(6)
    if pattern == 0:
        return f"{adj}{a}", f"The {adj_en} {a_en}"
    if pattern == 1:
        return f"{a}の{b}", f"The {b_en} of {a_en}"
    if pattern == 2:
        return f"{a}と{b}", f"{a_en} and {b_en}"
    if pattern == 3:
        return f"{adj}{a}と{b}", f"The {adj_en} {a_en} and {b_en}"
    if pattern == 4:
        return f"{a}{b}", f"{a_en} {b_en}"
    (c, c_en) = rng.choice(NOUNS)
    return f"{a}の{b}と{c}", f"{a_en}'s {b_en} and {c_en}"


def _isbn(n: int) -> str:
    from stdnum import ean

    body = f"9784{(n * 7919 + 1_234_567) % 100_000_000:08d}"  # 7919 is prime to 10^8: all different
    return body + ean.calc_check_digit(body)


def _split(holders: list[int], rng: random.Random) -> list[tuple[int, str]]:
    """Shares in hundredths summing to exactly 100.00, the first holder (a publisher) taking the most."""
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


def _owners(rng: random.Random, *, publisher_led: bool, big: bool) -> list[int]:
    authors = rng.sample(range(PUBLISHERS, HOLDERS), 2)
    if big:
        lead = BIG
    elif publisher_led:
        lead = rng.randrange(1, PUBLISHERS)
    else:
        return [authors[0]] if rng.random() < 0.8 else authors
    extra = rng.choices([0, 1, 2], weights=[5, 4, 1])[0]
    return [lead, *authors[:extra]]


def _works(total: int, rng: random.Random, catalogue: Catalogue, shares: list) -> Iterator[tuple]:
    """Work rows, streamed; fills `shares` with (work id, holder index, share) for the works without a parent."""
    now = datetime.now(UTC)
    standalone = int(total * STANDALONE_FRACTION)
    series_budget = total - standalone
    volume_number = 0
    while series_budget > 0:
        count = min(rng.randint(*VOLUMES), series_budget - 1)
        anime = rng.random() < ANIME_FRACTION
        big = rng.random() < BIG_FRACTION
        title, title_en = _series_title(rng)
        series_id = _uuid(rng)
        yield (series_id, "anime_series" if anime else "manga_series", title, title_en, None, None, None, now, now)
        shares.extend((series_id, h, s) for h, s in _split(_owners(rng, publisher_led=True, big=big), rng))
        catalogue.series += 1
        for n in range(1, count + 1):
            work_id = _uuid(rng)
            if anime:
                row = (work_id, "anime_episode", f"{title} 第{n}話", f"{title_en}, Episode {n}", series_id)
                yield (*row, None, None, now, now)
            else:
                isbn = _isbn(volume_number)
                volume_number += 1
                row = (work_id, "manga_volume", f"{title} 第{n}巻", f"{title_en}, Vol. {n}", series_id)
                yield (*row, isbn, None, now, now)
                if catalogue.volume is None and n > 1:
                    catalogue.volume = (work_id, isbn)
                if big and catalogue.big_volume is None and n > 1:
                    catalogue.big_volume = work_id
        catalogue.children += count
        catalogue.big_works += (1 + count) if big else 0
        series_budget -= 1 + count
    for _ in range(standalone):
        big = rng.random() < BIG_FRACTION
        kind, label = rng.choice(STANDALONE_KINDS)
        title, title_en = _series_title(rng)
        work_id = _uuid(rng)
        yield (work_id, kind, f"{title}（{label}）", f"{title_en} ({kind})", None, None, None, now, now)
        shares.extend((work_id, h, s) for h, s in _split(_owners(rng, publisher_led=rng.random() < 0.3, big=big), rng))
        catalogue.standalone += 1
        catalogue.big_works += 1 if big else 0
    catalogue.works = catalogue.series + catalogue.children + catalogue.standalone


def _holders(rng: random.Random, ids: list[uuid.UUID]) -> Iterator[tuple]:
    now = datetime.now(UTC)
    for i, holder_id in enumerate(ids):
        if i < PUBLISHERS:
            stem, stem_kana = ("銀河", "ｷﾞﾝｶﾞ") if i == BIG else rng.choice(PUBLISHER_STEMS)
            suffix, suffix_kana = ("書房", "ｼｮﾎﾞｳ") if i == BIG else rng.choice(PUBLISHER_SUFFIXES)
            number = "" if i == BIG else f"{i}"
            name, kana, kind = f"株式会社{stem}{suffix}{number}", f"ｶ){stem_kana}{suffix_kana}{number}", "corporation"
            invoice = f"T{1_000_000_000_000 + i}"
        else:
            (family, family_kana), (given, given_kana) = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
            name, kana, kind, invoice = f"{family} {given}", f"{family_kana} {given_kana}", "individual", None
        yield (holder_id, name, kana, kind, "JP", True, invoice, "", "", "", 0, "JPY", now, now)


def _expression_indexes(cursor, tables: list[str]) -> list[tuple[str, str]]:
    """(name, definition) of the indexes on expressions (the GIN bigram indexes), dropped before COPY and built
    again after: computing licensing_bigrams() row by row into a GIN index is most of a load's time. The indexes
    on columns stay: triggers may look rows up through them."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = ANY(%s::regclass[]) AND x.indexprs IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        [tables],
    )
    return cursor.fetchall()


def _load(works: int) -> Catalogue:
    """Rights holders, works and shares by COPY in one transaction (expression indexes built after), then ANALYZE."""
    import psycopg
    from psycopg import sql

    rng = random.Random(SEED)
    catalogue = Catalogue()
    catalogue.holder_ids = [_uuid(rng) for _ in range(HOLDERS)]
    shares: list[tuple[uuid.UUID, int, str]] = []
    started = time.perf_counter()
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn, conn.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        indexes = _expression_indexes(cursor, ["licensing_work", "licensing_share"])
        for name, _definition in indexes:
            cursor.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))

        mark = time.perf_counter()
        with cursor.copy(f"COPY licensing_rightsholder ({', '.join(HOLDER_COLUMNS)}) FROM STDIN") as copy:
            for row in _holders(rng, catalogue.holder_ids):
                copy.write_row(row)
        with cursor.copy(f"COPY licensing_work ({', '.join(WORK_COLUMNS)}) FROM STDIN") as copy:
            for row in _works(works, rng, catalogue, shares):
                copy.write_row(row)
        holder_ids = catalogue.holder_ids
        with cursor.copy("COPY licensing_share (work_id, rights_holder_id, share) FROM STDIN") as copy:
            for work_id, holder, share in shares:
                copy.write_row((work_id, holder_ids[holder], share))
        catalogue.shares = len(shares)
        del shares
        catalogue.seconds["COPY"] = time.perf_counter() - mark

        mark = time.perf_counter()
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the deferred foreign keys and share-sum trigger, now
        catalogue.seconds["deferred checks"] = time.perf_counter() - mark

        mark = time.perf_counter()
        for _name, definition in indexes:
            cursor.execute(definition)
        conn.commit()
        catalogue.seconds[f"{len(indexes)} expression indexes"] = time.perf_counter() - mark

        mark = time.perf_counter()
        conn.autocommit = True
        cursor.execute("VACUUM ANALYZE licensing_rightsholder, licensing_work, licensing_share")
        catalogue.seconds["VACUUM ANALYZE"] = time.perf_counter() - mark
    catalogue.seconds["total"] = time.perf_counter() - started
    return catalogue


# --- the pages ---------------------------------------------------------------------------------------------------


@dataclass
class Page:
    label: str
    url: str
    client: object  # django.test.Client
    check: Callable[[object], str | None]  # the response → a problem, or None


@dataclass
class Measured:
    page: Page
    times_ms: list[float]
    queries: list[dict]

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]

    @property
    def slowest(self) -> dict | None:
        return max(self.queries, key=lambda q: q["time"], default=None)

    @property
    def sql_ms(self) -> float:
        return sum(q["time"] for q in self.queries) * 1000

    @property
    def met(self) -> bool:
        return self.median < TARGET_MS


def _contains(text: str) -> Callable[[object], str | None]:
    def check(response) -> str | None:
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        return None if text in response.content.decode() else f"the page does not show {text!r}"

    return check


def _autocomplete_results(response) -> str | None:
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    return None if response.json()["results"] else "no results"


class _QueryRecorder:
    """`connection.execute_wrapper`: every query's SQL (parameters bound in) and its time, to the microsecond
    (CaptureQueriesContext rounds to the millisecond)."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.queries: list[dict] = []

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - start
            bound = self.connection.ops.last_executed_query(context["cursor"], sql, params)
            self.queries.append({"sql": bound, "time": elapsed})


def _measure(page: Page, requests: int, warmup: int) -> Measured:
    from django.db import connection

    for _ in range(warmup or 1):
        response = page.client.get(page.url)
        problem = page.check(response)
        if problem:
            raise RuntimeError(f"{page.label} ({page.url}): {problem}")
    times = []
    gc.collect()
    for _ in range(requests):
        start = time.perf_counter()
        response = page.client.get(page.url)
        times.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{page.label} ({page.url}): HTTP {response.status_code}")
    recorder = _QueryRecorder(connection)
    with connection.execute_wrapper(recorder):  # one more request, not timed, for its SQL
        page.client.get(page.url)
    return Measured(page, times, recorder.queries)


def _time_sql(sql: str, params, requests: int, warmup: int) -> list[float]:
    from django.db import connection

    times = []
    with connection.cursor() as cursor:
        for i in range(warmup + requests):
            start = time.perf_counter()
            cursor.execute(sql, params)
            cursor.fetchall()
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000)
    return times


def _users(catalogue: Catalogue):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from licensing.models import RightsHolderMember
    from licensing.roles import RIGHTS_HOLDERS, role_group

    user_model = get_user_model()
    staff = user_model.objects.create_superuser("bench-staff", "staff@example.com", None)
    publisher = user_model.objects.create_user("bench-publisher", "rights@example.com", None, is_staff=True)
    publisher.groups.add(role_group(RIGHTS_HOLDERS))
    RightsHolderMember.objects.create(rights_holder_id=catalogue.holder_ids[BIG], user=publisher)
    staff_client, publisher_client = Client(), Client()
    staff_client.force_login(staff)
    publisher_client.force_login(publisher)
    return staff_client, publisher_client, publisher


def _first_title(queryset) -> str:
    return queryset.order_by("title", "id").values_list("title", flat=True)[:1].get()


def _pages(catalogue: Catalogue, staff, publisher, publisher_user) -> tuple[list[Page], dict[str, int]]:
    """The pages, each with a check that it shows what it should (the first title in its order, computed with the
    ORM), and how many works each search matches."""
    from django.db.models import Q

    from licensing.models import Work
    from licensing.principals import Access
    from licensing.selectors import owned_work_ids_sql

    volume_id, isbn = catalogue.volume
    volume = Work.objects.select_related("parent").get(pk=volume_id)
    big_volume = Work.objects.get(pk=catalogue.big_volume)
    ja = Q(title__icontains=SEARCH_JA) | Q(title_en__icontains=SEARCH_JA)
    term = Q(title__icontains=AUTOCOMPLETE_TERM) | Q(title_en__icontains=AUTOCOMPLETE_TERM)
    holder_ids = Access(publisher_user).holder_ids
    owned = Work.objects.filter(pk__in=owned_work_ids_sql(holder_ids))
    matches = {
        f"q={SEARCH_JA}": Work.objects.filter(ja).count(),
        f"autocomplete term={AUTOCOMPLETE_TERM}": Work.objects.filter(term).count(),
        "the big publisher's works": owned.count(),
    }
    autocomplete = "/admin/autocomplete/?" + urlencode(
        {"app_label": "licensing", "model_name": "work", "field_name": "parent", "term": AUTOCOMPLETE_TERM}
    )
    pages = [
        Page("staff changelist", CHANGELIST, staff, _contains(_first_title(Work.objects.all()))),
        Page(
            f"staff search q={SEARCH_JA}",
            f"{CHANGELIST}?{urlencode({'q': SEARCH_JA})}",
            staff,
            _contains(_first_title(Work.objects.filter(ja))),
        ),
        Page("staff search q=<ISBN>", f"{CHANGELIST}?q={isbn}", staff, _contains(volume.title)),
        Page(
            "staff filter kind=manga_volume",
            f"{CHANGELIST}?kind__exact=manga_volume",
            staff,
            _contains(_first_title(Work.objects.filter(kind="manga_volume"))),
        ),
        Page("staff change page (volume)", f"{CHANGELIST}{volume_id}/change/", staff, _contains(volume.parent.title)),
        Page(f"staff autocomplete parent term={AUTOCOMPLETE_TERM}", autocomplete, staff, _autocomplete_results),
        Page("rights holder changelist", CHANGELIST, publisher, _contains(_first_title(owned))),
        Page(
            "rights holder change page (volume)",
            f"{CHANGELIST}{big_volume.pk}/change/",
            publisher,
            _contains(big_volume.title),
        ),
    ]
    return pages, matches


_COLUMN = r'(?:"\w+"|\w+)\."\w+"(?: AS "?\w+"?)?'
_COLUMNS = re.compile(rf"SELECT (?:DISTINCT )?(?:{_COLUMN}, )*{_COLUMN} FROM")


def _short_sql(sql: str) -> str:
    """The SQL with its column lists elided: what it reads, filters and orders by stays."""
    return _COLUMNS.sub("SELECT … FROM", sql)


def _columns(text: str) -> int:
    """Terminal columns: Japanese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _columns(text))


def _explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


# --- the run ------------------------------------------------------------------------------------------------------


def _run(works: int, requests: int, warmup: int) -> int:
    from licensing.models import Work

    description = _server_description()
    print(f"admin benchmark on {description}; loading {works:,} works …", flush=True)
    catalogue = _load(works)
    steps = ", ".join(f"{label} {seconds:.1f} s" for label, seconds in catalogue.seconds.items() if label != "total")
    print(f"  loaded in {catalogue.seconds['total']:.1f} s ({steps})", flush=True)

    staff, publisher, publisher_user = _users(catalogue)
    pages, matches = _pages(catalogue, staff, publisher, publisher_user)
    lower = _measure(Page("lower bound", LOWER_BOUND, staff, _contains("password")), requests, warmup)
    bare_sql, bare_params = Work.objects.select_related("parent").order_by("title", "id")[:50].query.sql_with_params()
    bare = _time_sql(bare_sql, bare_params, requests, warmup)
    results = []
    for page in pages:
        result = _measure(page, requests, warmup)
        print(f"  {page.label}: median {result.median:.1f} ms", flush=True)
        results.append(result)

    width = max(_columns(r.page.label) for r in results) + 2
    lines = [
        "",
        f"admin benchmark, {description}",
        f"catalogue: {catalogue.works:,} works ({catalogue.series:,} series, {catalogue.children:,} volumes and "
        f"episodes inheriting their series' shares, {catalogue.standalone:,} standalone), {HOLDERS:,} rights holders, "
        f"{catalogue.shares:,} shares; the big publisher owns {catalogue.big_works:,} works",
        f"load (COPY): {catalogue.seconds['total']:.1f} s ({steps})",
        "matches: " + ", ".join(f"{label} → {count:,} works" for label, count in matches.items()),
        f"timing: median and p95 of {requests} requests after {warmup} warm-ups, in-process (django.test.Client)",
        f"lower bound: {LOWER_BOUND} (admin chrome, session and user lookups, no data): median "
        f"{lower.median:.1f} ms, p95 {lower.p95:.1f} ms, {len(lower.queries)} queries",
        f"bare SQL of the changelist's page (ORDER BY title, id LIMIT 50, with the parent): median "
        f"{statistics.median(bare):.2f} ms",
        "",
        f"{_pad('page', width)}{'median':>10}{'p95':>11}{'÷ lower':>10}{'queries':>9}{'SQL':>11}  "
        f"target < {TARGET_MS:g} ms",
    ]
    for r in results:
        lines.append(
            f"{_pad(r.page.label, width)}{r.median:>7.1f} ms{r.p95:>8.1f} ms{r.median / lower.median:>9.1f}x"
            f"{len(r.queries):>9}{r.sql_ms:>8.1f} ms  {'met' if r.met else 'NOT met'}"
        )
    lines += ["", "slowest SQL query of each page (one more request, not timed):"]
    for r in results:
        slowest = r.slowest
        if slowest is None:
            lines.append(f"- {r.page.label}: no queries")
            continue
        lines.append(f"- {r.page.label} ({r.page.url}): {slowest['time'] * 1000:.1f} ms of {len(r.queries)}:")
        lines.append(f"    {_short_sql(slowest['sql'])}")
    missed = [r for r in results if not r.met]
    for r in missed:
        if r.slowest is not None:
            lines += ["", f"EXPLAIN ANALYZE of the slowest query of {r.page.label}:", _explain(r.slowest["sql"])]
    lines.append("")
    if missed:
        lines.append(f"NOT met: {', '.join(r.page.label for r in missed)} (median ≥ {TARGET_MS:g} ms)")
    else:
        lines.append(f"every page's median is under {TARGET_MS:g} ms")
    print("\n".join(lines), flush=True)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(_main_in_process(sys.argv[1:]))
