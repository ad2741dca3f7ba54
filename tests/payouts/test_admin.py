"""Payouts in the admin: staff run and finalize; a rights holder sees its own statements, the AI companies and models
behind them, and downloads them."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from payouts.models import Statement, StatementRun
from tests.licensing.factories import RightsHolderFactory, holder_user, work_with_shares

from .test_engine import OCTOBER, october_usage, world  # noqa: F401  (the world fixture)

pytestmark = pytest.mark.django_db


def test_a_rights_holder_sees_its_own_statements_with_companies_and_models(world, client):  # noqa: F811
    october_usage(world)
    call_command("compute_statements", "--period", "2026-10")
    client.force_login(holder_user(world["a"], "holder-a"))
    listing = client.get("/admin/payouts/statement/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert world["a"].name in html
    assert Statement.objects.filter(rights_holder=world["b"]).exists()
    assert f">{world['b'].name}<" not in html
    mine = Statement.objects.get(rights_holder=world["a"])
    page = client.get(f"/admin/payouts/statement/{mine.pk}/change/").content.decode()
    assert world["licensee"].name in page
    assert "m1, m2" in page  # the models that produced the per_unit line
    other = Statement.objects.get(rights_holder=world["b"])
    assert client.get(f"/admin/payouts/statement/{other.pk}/change/").status_code in (302, 404)
    assert client.get(f"/admin/payouts/statement/{mine.pk}/document.pdf").content[:4] == b"%PDF"
    assert client.get(f"/admin/payouts/statement/{other.pk}/document.pdf").status_code == 404
    assert client.get("/admin/payouts/statementrun/").status_code == 403


def test_staff_finalize_a_run_from_the_admin(world, client, staff_user):  # noqa: F811
    october_usage(world)
    call_command("compute_statements", "--period", "2026-10")
    run = StatementRun.objects.get()
    client.force_login(staff_user)
    page = client.get("/admin/payouts/statementrun/").content.decode()
    assert "1 / 1" in page  # progress
    response = client.post("/admin/payouts/statementrun/", {"action": "finalize", "_selected_action": [run.pk]},
                           follow=True)  # fmt: skip
    assert response.status_code == 200
    assert set(Statement.objects.values_list("status", flat=True)) == {"final"}
    listed = client.get("/admin/payouts/statementline/?basis__exact=per_work").context["cl"].queryset
    assert sorted((line.basis, line.use) for line in listed) == [("per_work", "fine_tuning")] * 3  # one per holder


def test_staff_filter_statements_and_lines_by_a_holder_or_work_typed_in(world, client, staff_user):  # noqa: F811
    october_usage(world)
    call_command("compute_statements", "--period", "2026-10")
    client.force_login(staff_user)

    def rows(url):
        response = client.get(url)
        assert response.status_code == 200
        return list(response.context["cl"].queryset)

    lines_of_b = rows("/admin/payouts/statementline/?holder=b")  # any case, part of the name
    assert lines_of_b
    assert {line.statement.rights_holder_id for line in lines_of_b} == {world["b"].pk}
    assert len(rows("/admin/payouts/statementline/?work=星の海")) == 9
    assert rows("/admin/payouts/statementline/?work=no such work") == []
    assert len(rows("/admin/payouts/statement/?work=星の海")) == 3  # each statement once, however many lines match
    assert [s.rights_holder_id for s in rows("/admin/payouts/statement/?holder=A")] == [world["a"].pk]
    page = client.get("/admin/payouts/statement/?holder=A&status__exact=draft").content.decode()
    assert 'name="holder" value="A"' in page
    assert 'type="hidden" name="status__exact"' in page  # the other filters kept when the text is typed again


def test_each_line_names_the_models_behind_its_own_use_and_the_late_ones_behind_an_adjustment(world):  # noqa: F811
    """October: training by m1 and m2, generation with revenue by m1 only (m3 reported none), fine-tuning by m1 and
    m2. A late October report (m9,
    training) is adjusted in November: its line names m9, not October's own m1 and m2. One query for all lines."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from payouts.admin import models_behind
    from payouts.services import statement_run_finalize

    from .test_engine import NOVEMBER, late_report, run, usage

    october_usage(world)
    usage(world, OCTOBER, ("generation", 1, "m3", None))  # no revenue: not behind the revenue_share line
    statement_run_finalize(run=run(OCTOBER))
    late_report(world, OCTOBER, ("training", 4, None))
    run(NOVEMBER)
    for period, expected in (
        (OCTOBER, {("per_unit", "training", None): ["m1", "m2"], ("revenue_share", "generation", None): ["m1"],
                   ("per_work", "fine_tuning", None): ["m1", "m2"]}),
        (NOVEMBER, {("adjustment", "training", OCTOBER): ["m9"]}),
    ):  # fmt: skip
        statement = Statement.objects.select_related("run").get(rights_holder=world["a"], period=period)
        lines = list(statement.lines.all())
        with CaptureQueriesContext(connection) as queries:
            behind = models_behind(statement, lines)
        assert {(line.basis, line.use, line.adjusted_period): behind[line.pk] for line in lines} == expected
        assert len(queries) == 1


def test_a_statement_page_shows_its_first_lines_and_links_to_them_all(
    world,  # noqa: F811
    client,
    staff_user,
    monkeypatch,
):
    from payouts import admin as payouts_admin

    october_usage(world)
    call_command("compute_statements", "--period", "2026-10")
    statement = Statement.objects.get(rights_holder=world["a"])
    client.force_login(staff_user)
    monkeypatch.setattr(payouts_admin, "LINES_SHOWN", 2)  # the page's cap, lowered below the statement's 3 lines
    page = client.get(f"/admin/payouts/statement/{statement.pk}/change/")
    assert page.status_code == 200
    inline = page.context["inline_admin_formsets"][0]
    assert len(list(inline)) == 2
    html = page.content.decode()
    assert f"?statement__exact={statement.pk}" in html
    assert "3 lines" in html
    every = client.get(f"/admin/payouts/statementline/?statement__exact={statement.pk}")
    assert sorted(line.statement_id for line in every.context["cl"].queryset) == [statement.pk] * 3


def test_statements_runs_invoices_and_lines_are_filtered_by_a_month_picked_from_a_list(
    world,  # noqa: F811
    client,
    staff_user,
):
    from .test_engine import NOVEMBER, run

    october_usage(world)
    run(OCTOBER)
    from .test_engine import usage

    usage(world, NOVEMBER, ("training", 8, "m1", None))
    run(NOVEMBER)
    client.force_login(staff_user)

    def rows(url):
        response = client.get(url)
        assert response.status_code == 200
        return list(response.context["cl"].queryset)

    for url in ("/admin/payouts/statement/", "/admin/payouts/statementrun/", "/admin/payouts/invoice/",
                "/admin/payouts/statementline/"):  # fmt: skip
        page = client.get(url).content.decode()
        assert "?period=2026-10" in page
        assert "?period=2026-11" in page
        october, november = rows(url + "?period=2026-10"), rows(url + "?period=2026-11")
        assert october
        assert {row.period for row in october} == {OCTOBER}
        assert november
        assert {row.period for row in november} == {NOVEMBER}
        assert rows(url + "?period=2026-10-01") == october
        for bad in ("2026-13", "2026-10-02", "october", "2026-1"):
            assert rows(url + f"?period={bad}") == []


def test_a_rights_holder_picks_only_its_own_months(world, client):  # noqa: F811
    from .test_engine import NOVEMBER, run, usage

    october_usage(world)
    run(OCTOBER)
    other = RightsHolderFactory(name="D")
    usage_world = {**world, "work": work_with_shares((other, "100.00"), title="別の作品")}
    usage(usage_world, NOVEMBER, ("training", 8, "m1", None))
    run(NOVEMBER)
    client.force_login(holder_user(world["a"], "holder-a"))
    for url in ("/admin/payouts/statement/", "/admin/payouts/statementline/"):
        page = client.get(url).content.decode()
        assert "?period=2026-10" in page
        assert "?period=2026-11" not in page  # D's month only
