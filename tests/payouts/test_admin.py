"""Payouts in the admin: staff run and finalize; a rights holder sees its own statements, the AI companies and models
behind them, and downloads them."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from payouts.models import Statement, StatementRun
from tests.licensing.factories import holder_user

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
    listing = client.get("/admin/payouts/statementline/?basis__exact=per_work").content.decode()
    assert "per_work" in listing or "Per work" in listing or "作品ごと" in listing


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
