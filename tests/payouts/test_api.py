"""Statements, invoices and runs over the API: who sees what, and the run's life (API.md)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from licensing.services import api_key_create
from payouts import tasks
from payouts.models import Statement, StatementRun
from tests.licensing.factories import LicenseeFactory, holder_user

from .test_engine import OCTOBER, october_usage, world  # noqa: F401  (the world fixture)

pytestmark = pytest.mark.django_db


def client_for(**owner) -> APIClient:
    _, key = api_key_create(name="test", **owner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def clients(world, staff_user):  # noqa: F811
    return {
        "staff": client_for(user=staff_user),
        "a": client_for(user=holder_user(world["a"], "holder-a")),
        "licensee": client_for(licensee=world["licensee"]),
        "other_licensee": client_for(licensee=LicenseeFactory()),
    }


def test_a_run_requested_computed_and_finalized(world, clients, monkeypatch, django_capture_on_commit_callbacks):  # noqa: F811
    october_usage(world)
    queued = []
    monkeypatch.setattr(tasks.compute_statement_run, "delay", lambda run_id: queued.append(run_id))
    assert clients["a"].post("/api/v1/statement-runs", {"period": "2026-10"}, format="json").status_code == 403
    assert clients["staff"].post("/api/v1/statement-runs", {"period": "2026-13"}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = clients["staff"].post("/api/v1/statement-runs", {"period": "2026-10"}, format="json")
    assert response.status_code == 202, response.content
    run = response.json()
    assert (run["status"], run["period"]) == ("queued", "2026-10")
    assert queued == [run["id"]]
    tasks.compute_statement_run(run["id"])  # what the worker runs
    detail = clients["staff"].get(f"/api/v1/statement-runs/{run['id']}").json()
    assert (detail["status"], detail["agreements_done"], detail["agreements_total"]) == ("done", 1, 1)
    assert detail["lines_written"] == 9
    # delivered again (its worker stopped before acknowledging it): the run is done, nothing is computed again
    statements = list(Statement.objects.values_list("id", "gross", "payable"))
    tasks.compute_statement_run(run["id"])
    assert clients["staff"].get(f"/api/v1/statement-runs/{run['id']}").json() == detail
    assert list(Statement.objects.values_list("id", "gross", "payable")) == statements
    final = clients["staff"].post(f"/api/v1/statement-runs/{run['id']}/finalize")
    assert final.status_code == 200
    assert final.json()["finalized_at"]
    again = clients["staff"].post("/api/v1/statement-runs", {"period": "2026-10"}, format="json")
    assert again.status_code == 409  # final: never recomputed


def test_a_rights_holder_sees_its_own_statements_and_a_licensee_its_own_invoices(world, clients):  # noqa: F811
    october_usage(world)
    call_command("compute_statements", "--period", "2026-10")
    mine = clients["a"].get("/api/v1/statements?period=2026-10").json()["results"]
    assert [s["rights_holder"] for s in mine] == [str(world["a"].pk)]
    assert mine[0]["payable"] == {"amount": "2353", "currency": "JPY"}
    assert {(line["basis"], line["gross"]["amount"]) for line in mine[0]["lines"]} == {
        ("per_unit", "81"),
        ("revenue_share", "330"),
        ("per_work", "2500"),
    }
    other = Statement.objects.exclude(rights_holder=world["a"]).first()
    assert clients["a"].get(f"/api/v1/statements/{other.pk}").status_code == 404
    assert len(clients["staff"].get("/api/v1/statements").json()["results"]) == 3
    assert clients["licensee"].get("/api/v1/statements").status_code == 403
    invoices = clients["licensee"].get("/api/v1/invoices").json()["results"]
    assert [(i["royalties"]["amount"], i["amount_due"]["amount"]) for i in invoices] == [("5823", "823")]
    assert clients["other_licensee"].get("/api/v1/invoices").json()["results"] == []
    assert clients["a"].get("/api/v1/invoices").status_code == 403


def test_a_failed_run_says_so(world, monkeypatch):  # noqa: F811
    run = StatementRun.objects.create(period=OCTOBER)

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(tasks, "statement_run_compute", broken)
    assert tasks.compute_statement_run.apply(args=[str(run.pk)]).failed()
    run.refresh_from_db()
    assert (run.status, run.error) == ("failed", "disk full")


def test_the_monthly_schedule_is_in_the_admin():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="payouts.monthly_statements")
    cron = task.crontab
    assert (cron.minute, cron.hour, cron.day_of_month, str(cron.timezone)) == ("0", "3", "1", "Asia/Tokyo")


def test_downloads_follow_the_same_visibility(world, clients):  # noqa: F811
    october_usage(world)
    call_command("compute_statements", "--period", "2026-10")
    mine = Statement.objects.get(rights_holder=world["a"])
    csv = clients["a"].get(f"/api/v1/statements/{mine.pk}.csv", HTTP_ACCEPT="text/csv")
    assert csv.status_code == 200
    assert csv["Content-Type"].startswith("text/csv")
    assert csv.content.startswith(b"\xef\xbb\xbf")
    pdf = clients["a"].get(f"/api/v1/statements/{mine.pk}.pdf", HTTP_ACCEPT="application/pdf")
    assert (pdf.status_code, pdf.content[:4]) == (200, b"%PDF")
    other = Statement.objects.exclude(rights_holder=world["a"]).first()
    assert clients["a"].get(f"/api/v1/statements/{other.pk}.pdf").status_code == 404
    invoice = world["agreement"].invoices.get()
    assert clients["licensee"].get(f"/api/v1/invoices/{invoice.pk}.pdf").content[:4] == b"%PDF"
    assert clients["other_licensee"].get(f"/api/v1/invoices/{invoice.pk}.csv").status_code == 404
    # a trailing slash works too (API.md), with the same visibility
    slashed = clients["a"].get(f"/api/v1/statements/{mine.pk}.csv/", HTTP_ACCEPT="text/csv")
    assert (slashed.status_code, slashed.content) == (200, csv.content)
    assert clients["a"].get(f"/api/v1/statements/{other.pk}.pdf/").status_code == 404
    assert clients["licensee"].get(f"/api/v1/invoices/{invoice.pk}.pdf/").content[:4] == b"%PDF"


def test_a_period_that_is_not_a_string_is_a_400(clients):
    for period in (202610, ["2026-10"], None, {"y": 2026}):
        response = clients["staff"].post("/api/v1/statement-runs", {"period": period}, format="json")
        assert response.status_code == 400, (period, response.content)
