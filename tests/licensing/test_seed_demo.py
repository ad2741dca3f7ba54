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
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 2

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
