"""The licensee filter of the statement and statement-line changelists: a rights holder's user is offered only the AI
companies on its own lines (never the names of other holders' licensees); staff every licensee; filtering by one
gives the statements and lines of that licensee."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from licensing.models import Agreement
from payouts.models import Statement, StatementLine, StatementRun
from tests.licensing.factories import LicenseeFactory, RightsHolderFactory, holder_user, work_with_shares

pytestmark = pytest.mark.django_db

OCTOBER = dt.date(2026, 10, 1)
STATEMENTS = "/admin/payouts/statement/"
LINES = "/admin/payouts/statementline/"


@pytest.fixture
def lines():
    """Holder A has lines from Visible AI only; holder B from Hidden AI and Visible AI; Idle AI has none."""
    run = StatementRun.objects.create(period=OCTOBER)
    a, b = RightsHolderFactory(name="Holder A"), RightsHolderFactory(name="Holder B")
    licensees = {name: LicenseeFactory(name=name) for name in ("Visible AI", "Hidden AI", "Idle AI")}
    agreements = {
        name: Agreement.objects.create(licensee=licensee, reference=f"AGR-{name[:3].upper()}", currency="JPY",
                                       starts_on="2026-01-01", territories=["*"], uses=["training"],
                                       commission=Decimal("0"))
        for name, licensee in licensees.items()
    }  # fmt: skip
    statements = {}
    for holder, names in ((a, ["Visible AI"]), (b, ["Hidden AI", "Visible AI"])):
        work = work_with_shares((holder, "100.00"), title=f"Work of {holder.name}")
        statement = Statement.objects.create(run=run, rights_holder=holder, period=OCTOBER, currency="JPY",
                                             gross=100 * len(names), net_royalties=100 * len(names),
                                             payable=100 * len(names))  # fmt: skip
        StatementLine.objects.bulk_create(
            StatementLine(statement=statement, period=OCTOBER, licensee=licensees[name], agreement=agreements[name],
                          work=work, use="training", basis="per_unit", quantity=1, gross=100, commission=0, net=100)
            for name in names
        )  # fmt: skip
        statements[holder.name] = statement
    return {"a": a, "b": b, "licensees": licensees, "statements": statements}


def page(client, url) -> tuple[str, list]:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), list(response.context["cl"].queryset)


def choices(client, url) -> list[str]:
    """The licensee filter's choices, as offered in the sidebar."""
    specs = client.get(url).context["cl"].filter_specs
    spec = next(spec for spec in specs if getattr(spec, "parameter_name", "") == "licensee")
    return [display for _, display in spec.lookup_choices]


@pytest.mark.parametrize("url", [STATEMENTS, LINES])
def test_a_holder_user_is_offered_only_the_licensees_on_its_own_lines(client, lines, url):
    client.force_login(holder_user(lines["a"], "holder-a"))
    html, _ = page(client, url)
    assert "Visible AI" in html
    assert "Hidden AI" not in html
    assert "Idle AI" not in html
    assert choices(client, url) == ["Visible AI"]


@pytest.mark.parametrize("url", [STATEMENTS, LINES])
def test_staff_are_offered_every_licensee(client, lines, staff_user, url):
    client.force_login(staff_user)
    html, _ = page(client, url)
    for name in ("Visible AI", "Hidden AI", "Idle AI"):
        assert name in html, name
    assert choices(client, url) == ["Hidden AI", "Idle AI", "Visible AI"]


def test_filtering_by_licensee_gives_its_statements_and_lines(client, lines, staff_user):
    client.force_login(staff_user)
    visible, hidden, idle = (lines["licensees"][name].pk for name in ("Visible AI", "Hidden AI", "Idle AI"))
    a, b = lines["statements"]["Holder A"], lines["statements"]["Holder B"]

    _, rows = page(client, f"{STATEMENTS}?licensee={visible}")
    assert sorted(s.rights_holder.name for s in rows) == ["Holder A", "Holder B"]  # each statement once
    _, rows = page(client, f"{STATEMENTS}?licensee={hidden}")
    assert [s.pk for s in rows] == [b.pk]
    assert page(client, f"{STATEMENTS}?licensee={idle}")[1] == []

    _, rows = page(client, f"{LINES}?licensee={visible}")
    assert sorted((line.statement_id, line.licensee_id) for line in rows) == sorted([(a.pk, visible), (b.pk, visible)])
    _, rows = page(client, f"{LINES}?licensee={hidden}")
    assert [(line.statement_id, line.licensee_id) for line in rows] == [(b.pk, hidden)]
    assert page(client, f"{LINES}?licensee=not-an-id")[1] == []


def test_a_holder_user_filtering_by_another_holders_licensee_sees_nothing_of_it(client, lines):
    client.force_login(holder_user(lines["a"], "holder-a"))
    hidden = lines["licensees"]["Hidden AI"].pk
    for url in (STATEMENTS, LINES):
        html, rows = page(client, f"{url}?licensee={hidden}")
        assert rows == []
        assert "Hidden AI" not in html
    _, rows = page(client, f"{STATEMENTS}?licensee={lines['licensees']['Visible AI'].pk}")
    assert [s.pk for s in rows] == [lines["statements"]["Holder A"].pk]


@pytest.mark.parametrize(
    "url",
    [f"{STATEMENTS}?holder=%00", f"{STATEMENTS}?work=a%00b", f"{LINES}?work=%00", f"{LINES}?basis__exact=%00",
     f"{STATEMENTS}?q=%00"],
)  # fmt: skip
def test_a_nul_character_in_an_admin_filter_is_a_clear_400_not_a_500(client, lines, staff_user, url):
    """PostgreSQL text cannot hold NUL: the typed-in filters passed it to their lookups (a DataError, 500)."""
    client.force_login(staff_user)
    client.raise_request_exception = False
    response = client.get(url)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
    assert client.get(url.replace("%00", "x")).status_code == 200  # the same filter without it works


def test_a_nul_character_decoded_from_the_charset_the_request_names_is_a_400(client, lines, staff_user):
    """Django decodes the query string in the request's charset: %2BAAA- is U+0000 in UTF-7."""
    client.force_login(staff_user)
    client.raise_request_exception = False
    response = client.get(f"{STATEMENTS}?holder=%2BAAA-", CONTENT_TYPE="text/plain; charset=utf-7")
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
