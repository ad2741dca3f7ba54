"""Load the demo: a small, realistic catalogue, a licensee with an API key, an active agreement, a usage report for
the previous month whose statements are computed and final (ready to pay), and logins for each role. Idempotent: a
second run changes nothing and prints the same logins and keys."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from stdnum import ean

from ledger.money import Money
from licensing.models import Agreement, ApiKey, Licensee, RightsHolder, RightsHolderMember, Work
from licensing.principals import Access
from licensing.roles import FINANCE, RIGHTS_HOLDERS, STAFF, role_group
from licensing.services import (
    agreement_create,
    api_key_create,
    api_key_verify,
    licensee_create,
    rights_holder_create,
    work_create,
)

DEMO_ADMIN = "admin"

HOLDERS = [
    {
        "key": "hikari",
        "name": "株式会社ひかり出版",
        "name_kana": "カブシキガイシャ ヒカリシュッパン",
        "kind": "corporation",
        "invoice_registration_number": "T5835678256246",
        "bank_account": {"bank_code": "0001", "branch_code": "001", "account_type": "current",
                         "account_number": "1234567", "holder_kana": "カ）ヒカリシュッパン"},
        "minimum_payout": Money(10000, "JPY"),
        "postal_code": "101-0051",
        "address": "東京都千代田区神田神保町一丁目1番1号",
        "email": "rights@hikari-shuppan.example.jp",
    },
    {
        "key": "hanako",
        "name": "山田 花子",
        "name_kana": "ヤマダ ハナコ",
        "kind": "individual",
        "invoice_registration_number": None,
        "bank_account": {"bank_code": "0005", "branch_code": "001", "account_type": "ordinary",
                         "account_number": "7654321", "holder_kana": "ヤマダ ハナコ"},
        "minimum_payout": Money(5000, "JPY"),
        "postal_code": "180-0004",
        "address": "東京都武蔵野市吉祥寺本町二丁目2番2号",
        "email": "hanako@example.jp",
    },
    {
        "key": "studio",
        "name": "スタジオ・アオゾラ株式会社",
        "name_kana": "スタジオアオゾラ カブシキガイシャ",
        "kind": "corporation",
        "invoice_registration_number": None,
        "bank_account": {"bank_code": "0009", "branch_code": "001", "account_type": "ordinary",
                         "account_number": "1111111", "holder_kana": "スタジオアオゾラ（カ"},
        "minimum_payout": Money(10000, "JPY"),
        "postal_code": "167-0051",
        "address": "東京都杉並区荻窪三丁目3番3号",
        "email": "legal@aozora-studio.example.jp",
    },
    {
        "key": "broadcaster",
        "name": "東都テレビ放送株式会社",
        "name_kana": "トウトテレビホウソウ カブシキガイシャ",
        "kind": "corporation",
        "invoice_registration_number": None,
        "bank_account": None,
        "minimum_payout": Money(10000, "JPY"),
        "postal_code": "105-0011",
        "address": "東京都港区芝公園四丁目4番4号",
        "email": "licensing@toto-tv.example.jp",
    },
]  # fmt: skip


def isbn13(body: str) -> str:
    """A valid ISBN-13 from its first twelve digits (the check digit computed)."""
    return body + ean.calc_check_digit(body)


class Command(BaseCommand):
    help = "Create the demo catalogue, licensee, agreement, logins and API keys (idempotent) and print them."

    def add_arguments(self, parser):
        parser.add_argument(
            "--key-file",
            type=Path,
            help="JSON file that keeps the demo passwords and keys between runs (they are stored hashed in the "
            "database and cannot be shown again otherwise).",
        )
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, key_file: Path | None, base_url: str, **options):
        stored = json.loads(key_file.read_text()) if key_file and key_file.exists() else {}
        with transaction.atomic():
            summary = Seeder(stored).run()
        summary["statements"] = demo_statements()  # after the commit: a statement run works on its own connections
        if key_file:
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(json.dumps(summary, ensure_ascii=False, indent=2))
            key_file.chmod(0o600)
        self.stdout.write(format_summary(summary, base_url))


class Seeder:
    def __init__(self, stored: dict) -> None:
        self.passwords = {login["username"]: login.get("password") for login in stored.get("logins", [])}
        self.keys = {key["name"]: key.get("key") for key in stored.get("api_keys", [])}
        self.logins: list[dict] = []
        self.api_keys: list[dict] = []

    def run(self) -> dict:
        admin = self.login(DEMO_ADMIN, "staff (superuser)", superuser=True)
        holders = {spec["key"]: self.holder(spec) for spec in HOLDERS}
        self.login("staff", "platform staff", group=STAFF)
        finance = self.login("finance", "finance", group=FINANCE)
        self.login("hikari", "rights holder: 株式会社ひかり出版", group=RIGHTS_HOLDERS, holder=holders["hikari"])
        self.login("hanako", "rights holder: 山田 花子 (mangaka)", group=RIGHTS_HOLDERS, holder=holders["hanako"])
        self.catalogue(holders)
        licensee = Licensee.objects.filter(name="Kumo Video AI, Inc.").first() or licensee_create(
            name="Kumo Video AI, Inc.", country="US", email="licensing@kumo-video.example.com",
            address="500 Market Street, San Francisco, CA, USA",
        )  # fmt: skip
        self.agreement(licensee, holders)
        self.usage(licensee)
        self.key("staff", user=admin)
        self.key("finance", user=finance)
        self.key("licensee (Kumo Video AI)", licensee=licensee)
        return {"logins": self.logins, "api_keys": self.api_keys}

    # people ----------------------------------------------------------------------------------------------------------
    def login(self, username: str, role: str, *, superuser=False, group=None, holder=None):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        password = self.passwords.get(username)
        if user is None:
            password = password or secrets.token_urlsafe(9)
            create = User.objects.create_superuser if superuser else User.objects.create_user
            user = create(username, f"{username}@example.jp", password, **({} if superuser else {"is_staff": True}))
        elif not password or not user.check_password(password):
            password = secrets.token_urlsafe(9)  # the stored password is lost or stale: set one that works
            user.set_password(password)
            user.save(update_fields=["password"])
        if group:
            user.groups.add(role_group(group))
        if holder:
            RightsHolderMember.objects.get_or_create(rights_holder=holder, user=user)
        self.logins.append({"username": username, "password": password, "role": role})
        return user

    def key(self, name: str, **owner):
        key = self.keys.get(name)
        verified = api_key_verify(key) if key else None
        owner_matches = verified is not None and (
            verified.user_id == getattr(owner.get("user"), "pk", None)
            and verified.licensee_id == getattr(owner.get("licensee"), "pk", None)
        )
        if not owner_matches:
            ApiKey.objects.filter(name=f"demo: {name}", revoked_at__isnull=True, **owner).update(
                revoked_at=dt.datetime.now(dt.UTC)
            )
            _, key = api_key_create(name=f"demo: {name}", **owner)
        self.api_keys.append({"name": name, "key": key})

    def holder(self, spec: dict) -> RightsHolder:
        existing = RightsHolder.objects.filter(name=spec["name"]).first()
        if existing:
            return existing
        data = {field: value for field, value in spec.items() if field != "key"}
        return rights_holder_create(data=data)

    # works -----------------------------------------------------------------------------------------------------------
    def work(self, title: str, **data) -> Work:
        existing = Work.objects.filter(title=title).first()
        if existing:
            return existing
        return work_create(access=Access(None), data={"title": title, **data})

    def catalogue(self, holders: dict[str, RightsHolder]) -> None:
        hikari, hanako = holders["hikari"], holders["hanako"]
        manga_shares = [{"rights_holder": hikari, "share": Decimal("40.00")},
                        {"rights_holder": hanako, "share": Decimal("60.00")}]  # fmt: skip
        series = self.work("星の海のアルカ", title_en="Arka of the Star Sea", kind="manga_series", shares=manga_shares,
                           identifiers={"ext": [{"scheme": "hikari", "value": "SERIES-0001"}]})  # fmt: skip
        for number in range(1, 6):
            self.work(f"星の海のアルカ 第{number}巻", title_en=f"Arka of the Star Sea, vol. {number}",
                      kind="manga_volume", parent=series,
                      identifiers={"isbn": isbn13(f"97840885{1200 + number:04d}")})  # fmt: skip
        self.work("夜明けのスケッチブック", title_en="Dawn Sketchbook", kind="illustration",
                  shares=[{"rights_holder": hanako, "share": Decimal("100.00")}],
                  identifiers={"iscc": "KACYPXW445FTYNJ3"})  # fmt: skip
        self.work("ねこ探偵ミケ", title_en="Mike the Cat Detective", kind="manga_series",
                  shares=[{"rights_holder": hikari, "share": Decimal("100.00")}],
                  identifiers={"isbn": isbn13("978408851300")})  # fmt: skip
        # the anime adaptation, co-owned by its production committee (製作委員会)
        committee = [
            {"rights_holder": hikari, "share": Decimal("40.00")},
            {"rights_holder": holders["studio"], "share": Decimal("35.00")},
            {"rights_holder": holders["broadcaster"], "share": Decimal("25.00")},
        ]
        anime = self.work("アニメ「星の海のアルカ」", title_en="Arka of the Star Sea (TV anime)", kind="anime_series",
                          shares=committee)  # fmt: skip
        for episode in range(1, 13):
            self.work(f"アニメ「星の海のアルカ」 第{episode}話", title_en=f"Arka of the Star Sea, episode {episode}",
                      kind="anime_episode", parent=anime,
                      identifiers={"ext": [{"scheme": "aozora", "value": f"ARKA-EP{episode:02d}"}]})  # fmt: skip
        self.work("キャラクター「アルカ」", title_en="Character: Arka", kind="character", parent=series)

    def agreement(self, licensee: Licensee, holders: dict[str, RightsHolder]) -> Agreement:
        existing = Agreement.objects.filter(licensee=licensee, reference="AGR-2026-001").first()
        if existing:
            return existing
        scope_works = list(Work.objects.filter(title__in=["星の海のアルカ", "アニメ「星の海のアルカ」"]))
        return agreement_create(
            data={
                "licensee": licensee,
                "reference": "AGR-2026-001",
                "currency": "JPY",
                "starts_on": dt.date(2026, 1, 1),
                "ends_on": None,
                "territories": ["JP", "US"],
                "uses": ["training", "generation"],
                "scope": {"catalogue": False, "works": scope_works, "rights_holders": [holders["hanako"]]},
                "commission": Decimal("10.00"),
                "status": "active",
                "terms": [
                    {"type": "per_unit", "use": "generation", "rate": Decimal("0.5")},
                    {"type": "per_work", "use": "training", "fee": Money(2000, "JPY")},
                    {"type": "revenue_share", "use": "generation", "percent": Decimal("5.00")},
                    {"type": "minimum_guarantee", "amount": Money(300000, "JPY"), "every": "quarter"},
                    {"type": "advance", "amount": Money(1000000, "JPY")},
                ],
            }
        )

    # usage -----------------------------------------------------------------------------------------------------------
    def usage(self, licensee: Licensee) -> None:
        """What Kumo Video AI reported for the previous month, through the same service as POST /usage-reports (the
        idempotency key makes a second run a replay)."""
        from licensing.usage import usage_report_ingest

        period = previous_month()
        day = period.replace(day=12).isoformat()
        volumes = [f"isbn:{isbn13(f'97840885{1200 + number:04d}')}" for number in range(1, 6)]
        episodes = [f"ext:aozora:ARKA-EP{episode:02d}" for episode in range(1, 13)]
        events = [{"work": ref, "use": "training", "quantity": 1, "occurred_on": day, "model": "kumo-video-2",
                   "territory": "JP"} for ref in volumes + episodes]  # fmt: skip
        revenue = {"amount": "120000", "currency": "JPY"}
        events += [{"work": ref, "use": "generation", "quantity": 8000, "occurred_on": day, "model": "kumo-video-2",
                    "territory": "US", "revenue": revenue} for ref in volumes]  # fmt: skip
        events.append({"work": "iscc:KACYPXW445FTYNJ3", "use": "generation", "quantity": 2000, "occurred_on": day,
                       "model": "kumo-image-1", "territory": "JP"})  # fmt: skip
        usage_report_ingest(licensee=licensee, period=period, idempotency_key=f"demo-usage-{period:%Y-%m}",
                            body=json.dumps({"events": events}).encode(), content_type="application/json")  # fmt: skip


def previous_month(today: dt.date | None = None) -> dt.date:
    first = (today or timezone.localdate()).replace(day=1)  # Asia/Tokyo, as the months are made final
    return (first - dt.timedelta(days=1)).replace(day=1)


def demo_statements() -> str:
    """The previous month's statements, computed and final once: finance can pay them (Payout batches → Add).
    Months become final one after the other: on a later start, the months since the last final one are computed
    and made final first, in order."""
    from licensing.models import PeriodStatus, ReportingPeriod
    from payouts.engine import statement_run_compute
    from payouts.models import StatementRun
    from payouts.services import statement_run_create, statement_run_finalize

    period = previous_month()
    latest = (
        ReportingPeriod.objects.filter(status=PeriodStatus.FINAL).order_by("-period")
        .values_list("period", flat=True).first()
    )  # fmt: skip
    month = period if latest is None or latest >= period else (latest + dt.timedelta(days=32)).replace(day=1)
    while month <= period:
        if not StatementRun.objects.filter(period=month, finalized_at__isnull=False).exists():
            statement_run_finalize(run=statement_run_compute(run=statement_run_create(period=month)))
        month = (month + dt.timedelta(days=32)).replace(day=1)
    done = StatementRun.objects.filter(period=period, finalized_at__isnull=False).first()
    return f"{period:%Y-%m}: {done.statements.count()} final statements, ready to pay (admin: Payout batches → Add)"


def format_summary(summary: dict, base_url: str) -> str:
    lines = [
        "",
        "rights-ledger demo",
        f"  admin:    {base_url}/admin/",
        f"  API docs: {base_url}/api/docs/",
        f"  health:   {base_url}/healthz",
        "  logins (admin):",
    ]
    lines += [f"    {login['username']:<9} {login['password']}  {login['role']}" for login in summary["logins"]]
    lines.append("  API keys (send as `Authorization: Bearer <key>`):")
    lines += [f"    {key['name']}: {key['key']}" for key in summary["api_keys"]]
    licensee_key = next(key["key"] for key in summary["api_keys"] if key["name"].startswith("licensee"))
    lines.append(f"  try: curl -H 'Authorization: Bearer {licensee_key}' {base_url}/api/v1/works?search=アルカ")
    if summary.get("statements"):
        lines.append(f"  statements: {summary['statements']}")
    return "\n".join(lines) + "\n"
