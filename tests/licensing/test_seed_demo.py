import json

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from licensing.models import Agreement, ApiKey, RightsHolder, Share, Work

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_its_logins_and_keys_work(tmp_path, client):
    key_file = tmp_path / "keys.json"
    call_command("seed_demo", "--key-file", str(key_file))
    counts = (RightsHolder.objects.count(), Work.objects.count(), Share.objects.count(), Agreement.objects.count())
    first = key_file.read_text()
    call_command("seed_demo", "--key-file", str(key_file))
    assert key_file.read_text() == first
    assert (RightsHolder.objects.count(), Work.objects.count(), Share.objects.count(),
            Agreement.objects.count()) == counts  # fmt: skip
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 3

    summary = json.loads(first)
    keys = {key["name"]: key["key"] for key in summary["api_keys"]}
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {keys['licensee (Kumo Video AI)']}")
    assert api.get("/api/v1/").json()["kind"] == "licensee"
    agreements = api.get("/api/v1/agreements").json()["results"]
    assert [(a["reference"], a["status"]) for a in agreements] == [("AGR-2026-001", "active")]
    assert len({term["type"] for term in agreements[0]["terms"]}) >= 4
    found = api.get("/api/v1/works?search=アルカ").json()["results"]
    assert any(work["identifiers"]["isbn"] for work in found)

    logins = {login["username"]: login["password"] for login in summary["logins"]}
    assert client.login(username="hikari", password=logins["hikari"])
    html = client.get("/admin/licensing/work/?q=アルカ").content.decode()
    assert "星の海のアルカ" in html
    assert "夜明けのスケッチブック" not in html  # the mangaka's own work
    # the production committee co-owns the anime series
    anime = Work.objects.get(title="アニメ「星の海のアルカ」")
    assert sorted(anime.shares.values_list("share", flat=True)) == [25, 35, 40]


def test_the_demo_has_a_final_month_ready_to_pay(tmp_path, settings):
    import datetime as dt

    from django.utils import timezone

    from payouts import batches
    from payouts.models import Statement, StatementRun

    call_command("seed_demo", "--key-file", str(tmp_path / "keys.json"))
    call_command("seed_demo", "--key-file", str(tmp_path / "keys.json"))  # a second run computes nothing again
    assert StatementRun.objects.count() == 1
    statements = Statement.objects.filter(status="final")
    assert statements.count() >= 3
    settings.ZENGIN_REQUESTER = {"code": "0000000001", "name": "ﾃﾞﾓ", "bank_code": "0001", "bank_name": "",
                                 "branch_code": "001", "branch_name": "", "account_type": "ordinary",
                                 "account_number": "1234567"}  # fmt: skip
    batch = batches.payout_batch_create(currency="JPY", pay_date=timezone.localdate() + dt.timedelta(days=1))
    assert batch.transfers >= 2
    assert batch.blocked == 0  # every demo holder has a bank account a Zengin file can carry
    assert batches.payout_batch_export(batch=batch)[2].startswith(b"1210")


def test_the_demo_started_again_months_later_makes_the_months_between_final_in_order(tmp_path, today):
    """Months become final one after the other: a later start computes the months since the last final one."""
    import datetime as dt

    from licensing.management.commands import seed_demo
    from licensing.models import ReportingPeriod

    real = seed_demo.previous_month
    first = real()
    call_command("seed_demo", "--key-file", str(tmp_path / "keys.json"))
    later = (first + dt.timedelta(days=32 * 3)).replace(day=1)  # three months on
    today((later + dt.timedelta(days=32)).replace(day=5))  # three months on: `later` is the previous month
    assert seed_demo.previous_month() == later
    call_command("seed_demo", "--key-file", str(tmp_path / "keys.json"))
    finals = list(ReportingPeriod.objects.filter(status="final").order_by("period").values_list("period", flat=True))
    assert finals == [(first + dt.timedelta(days=32 * n)).replace(day=1) for n in range(4)]
