"""flat_fee and minimum_guarantee (RULES.md, Terms), figures worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from licensing.models import Agreement, Term
from payouts.engine import statement_run_compute
from payouts.models import Invoice, StatementLine, StatementRun
from payouts.services import statement_run_finalize
from tests.licensing.factories import LicenseeFactory, RightsHolderFactory, work_with_shares

pytestmark = pytest.mark.django_db

OCT, NOV, DEC = dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)


@pytest.fixture
def world():
    a, b = RightsHolderFactory(name="A"), RightsHolderFactory(name="B")
    w1 = work_with_shares((a, "100.00"), title="一")
    w2 = work_with_shares((b, "100.00"), title="二")
    if str(w2.pk) < str(w1.pk):  # w1: the lower id (it gets the unit a tie leaves)
        w1, w2 = w2, w1
        a, b = b, a
    licensee = LicenseeFactory()
    return {"a": a, "b": b, "w1": w1, "w2": w2, "licensee": licensee}


def agreement(world, **fields) -> Agreement:
    agreement = Agreement.objects.create(
        licensee=world["licensee"], reference=f"AGR-{uuid.uuid4().hex[:6]}", currency="JPY", starts_on=OCT,
        territories=["*"], uses=["training"], status="active", **fields,
    )  # fmt: skip
    agreement.scope_works.add(world["w1"], world["w2"])
    return agreement


def usage(world, agreement, period, work, quantity):
    with connection.cursor() as cursor:
        cursor.execute("SELECT licensing_usage_partition(%s)", [period])
        cursor.execute(
            "INSERT INTO licensing_usageevent (period, report_id, line, licensee_id, work_id, agreement_id, use, "
            "quantity, occurred_on, model, territory, reserved, late) "
            "VALUES (%s, %s, 1, %s, %s, %s, 'training', %s, %s, 'm', 'JP', false, false)",
            [period, uuid.uuid4(), world["licensee"].pk, work.pk, agreement.pk, quantity, period],
        )


def run(period, *, finalize=False):
    done = statement_run_compute(run=StatementRun.objects.create(period=period))
    return statement_run_finalize(run=done) if finalize else done


def grosses(period, basis):
    lines = StatementLine.objects.filter(statement__period=period, basis=basis).select_related("work")
    return {line.work.title: line.gross for line in lines}


def test_a_flat_fee_is_spread_by_usage_quantity(world):
    fee = agreement(world, commission=Decimal("10"))
    Term.objects.create(agreement=fee, type="flat_fee", amount=10_000, every="month")
    usage(world, fee, OCT, world["w1"], 3)
    usage(world, fee, OCT, world["w2"], 1)
    run(OCT)
    assert grosses(OCT, "flat_fee") == {world["w1"].title: 7500, world["w2"].title: 2500}  # 3 : 1
    line = StatementLine.objects.get(basis="flat_fee", work=world["w1"])
    assert (line.commission, line.net) == (750, 6750)
    assert Invoice.objects.get().royalties == 10_000


def test_a_flat_fee_without_usage_is_spread_equally_and_falls_due_by_its_calendar(world):
    fee = agreement(world)
    Term.objects.create(agreement=fee, type="flat_fee", amount=10_001, every="quarter")
    run(OCT)  # October opens the quarter: 10,001 over two works, 5,000.5 each: the unit left to the lower id
    assert grosses(OCT, "flat_fee") == {world["w1"].title: 5001, world["w2"].title: 5000}
    run(NOV)  # not due in November
    assert grosses(NOV, "flat_fee") == {}


def test_a_minimum_guarantee_tops_up_the_quarter(world):
    guaranteed = agreement(world)
    Term.objects.create(agreement=guaranteed, type="per_unit", use="training", rate=Decimal("1"))
    Term.objects.create(agreement=guaranteed, type="minimum_guarantee", amount=9_000, every="quarter")
    usage(world, guaranteed, OCT, world["w1"], 1_000)
    run(OCT, finalize=True)
    usage(world, guaranteed, NOV, world["w1"], 2_000)
    run(NOV, finalize=True)
    assert grosses(NOV, "minimum_guarantee") == {}  # only at the quarter's end
    usage(world, guaranteed, DEC, world["w2"], 500)
    run(DEC)
    # earned over Q4: 1,000 + 2,000 (w1) + 500 (w2) = 3,500 < 9,000: a top-up of 5,500 in proportion 3,000 : 500,
    # 4,714.29 and 785.71: floors 4,714 + 785 = 5,499, the unit left to the larger remainder (w2)
    assert grosses(DEC, "minimum_guarantee") == {world["w1"].title: 4714, world["w2"].title: 786}
    assert Invoice.objects.get(period=DEC).royalties == 500 + 5_500


def test_a_minimum_guarantee_met_adds_nothing(world):
    guaranteed = agreement(world)
    Term.objects.create(agreement=guaranteed, type="per_unit", use="training", rate=Decimal("1"))
    Term.objects.create(agreement=guaranteed, type="minimum_guarantee", amount=1_000, every="month")
    usage(world, guaranteed, OCT, world["w1"], 1_000)
    run(OCT)
    assert grosses(OCT, "minimum_guarantee") == {}


def test_a_guarantee_of_an_agreement_ending_mid_quarter_is_settled_in_its_last_month(world):
    guaranteed = agreement(world, ends_on=dt.date(2026, 11, 30))
    Term.objects.create(agreement=guaranteed, type="per_unit", use="training", rate=Decimal("1"))
    Term.objects.create(agreement=guaranteed, type="minimum_guarantee", amount=9_000, every="quarter")
    usage(world, guaranteed, OCT, world["w1"], 1_000)
    run(OCT, finalize=True)
    usage(world, guaranteed, NOV, world["w1"], 2_000)
    run(NOV)
    # it ends in November: 9,000 − (1,000 + 2,000) = 6,000, all on w1 (the only work that earned)
    assert grosses(NOV, "minimum_guarantee") == {world["w1"].title: 6000}


def test_a_flat_fee_is_owed_for_the_months_an_agreement_ran_even_if_terminated_since(world):
    fee = agreement(world)
    Term.objects.create(agreement=fee, type="flat_fee", amount=1_000, every="month")
    Agreement.objects.filter(pk=fee.pk).update(status="terminated", ends_on=dt.date(2026, 10, 31))
    run(OCT)
    assert sum(grosses(OCT, "flat_fee").values()) == 1_000
    run(NOV)  # ended in October
    assert grosses(NOV, "flat_fee") == {}
    Agreement.objects.filter(pk=fee.pk).update(status="suspended", ends_on=None)
    run(OCT)
    assert grosses(OCT, "flat_fee") == {}  # suspended: nothing owed


def test_the_run_reports_its_agreements_done_as_it_goes(world, monkeypatch):
    """The usage of every agreement is priced in one pass: then those without fixed terms are done, and each with
    fixed terms when its fees and guarantees are."""
    from payouts import engine

    plain = agreement(world)
    Term.objects.create(agreement=plain, type="per_unit", use="training", rate=Decimal("1"))
    usage(world, plain, OCT, world["w1"], 10)
    for _ in range(2):
        Term.objects.create(agreement=agreement(world), type="flat_fee", amount=1_000, every="month")
    reported = []
    original = engine._Progress.done

    def done(self, agreements, *, last=False):
        reported.append(agreements)
        return original(self, agreements, last=last)

    monkeypatch.setattr(engine._Progress, "done", done)
    finished = run(OCT)
    assert reported == [0, 1, 2, 3, 3]
    assert (finished.agreements_total, finished.agreements_done) == (3, 3)
