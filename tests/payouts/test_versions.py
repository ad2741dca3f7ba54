"""An agreement in versions is one contract (review of issue 6): a new version (licensing.services.agreement_update
with effective_from) copies the terms, yet a flat fee falls due once, the advance is recouped once, a guarantee
covers every version's royalties, and a per_work pair is billed once. And a terminated agreement stops owing fixed
fees. Figures worked out by hand in the comments; commission 0 unless said."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from ledger.money import Money
from licensing.models import Agreement, Term
from licensing.services import agreement_update
from payouts.engine import RunRefused
from payouts.models import Invoice, StatementLine
from payouts.services import advance_record_received

from .test_fixed_terms import DEC, NOV, OCT, grosses, run, world  # noqa: F401  (world: a fixture)

pytestmark = pytest.mark.django_db
MID_NOVEMBER = dt.date(2026, 11, 15)


def contract(world, *terms, **fields) -> Agreement:  # noqa: F811
    agreement = Agreement.objects.create(
        licensee=world["licensee"], reference="AGR-V", currency="JPY", starts_on=OCT, territories=["*"],
        uses=["training", "fine_tuning"], **{"status": "active", **fields},
    )  # fmt: skip
    agreement.scope_works.add(world["w1"], world["w2"])
    for term in terms:
        Term.objects.create(agreement=agreement, **term)
    return agreement


def used(world, agreement, day, work, quantity, use="training", model="m"):  # noqa: F811
    period = day.replace(day=1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT licensing_usage_partition(%s)", [period])
        cursor.execute(
            "INSERT INTO licensing_usageevent (period, report_id, line, licensee_id, work_id, agreement_id, use, "
            "quantity, occurred_on, model, territory, reserved, late) "
            "VALUES (%s, %s, 1, %s, %s, %s, %s, %s, %s, %s, 'JP', false, false)",
            [period, uuid.uuid4(), world["licensee"].pk, work.pk, agreement.pk, use, quantity, day, model],
        )


def new_version(agreement, day=MID_NOVEMBER) -> Agreement:
    return agreement_update(agreement=agreement, data={"commission": Decimal("0")}, effective_from=day)


def test_a_new_version_owes_the_month_s_flat_fee_once_and_recoups_the_advance_once(world):  # noqa: F811
    v1 = contract(world, {"type": "per_unit", "use": "training", "rate": Decimal("1")},
                  {"type": "flat_fee", "amount": 10_000, "every": "month"},
                  {"type": "advance", "amount": 12_000})  # fmt: skip
    used(world, v1, dt.date(2026, 10, 5), world["w1"], 1_000)
    run(OCT, finalize=True)
    # October: 1,000 + the fee 10,000 = 11,000, all recouped from the 12,000 advance; 1,000 of it left
    october = Invoice.objects.get(period=OCT)
    assert (october.royalties, october.advance_recouped) == (11_000, 11_000)
    v2 = new_version(v1)
    assert Term.objects.filter(agreement=v2, type__in=["flat_fee", "advance"]).count() == 2  # copied
    used(world, v1, dt.date(2026, 11, 3), world["w1"], 100)
    used(world, v2, dt.date(2026, 11, 20), world["w2"], 200)
    run(NOV)
    # November's fee is due on the 1st, to v1 (in force then); v2 starts mid-month: no second fee
    assert sum(grosses(NOV, "flat_fee").values()) == 10_000
    invoices = {
        i.agreement_id: (i.royalties, i.advance_recouped, i.amount_due) for i in Invoice.objects.filter(period=NOV)
    }
    # v1 first: 100 + 10,000, recoups the 1,000 left; v2: 200, nothing left to recoup
    assert invoices == {v1.pk: (10_100, 1_000, 9_100), v2.pk: (200, 0, 200)}


def test_a_guarantee_covers_every_version_s_royalties_in_its_window(world):  # noqa: F811
    v1 = contract(world, {"type": "per_unit", "use": "training", "rate": Decimal("1")},
                  {"type": "minimum_guarantee", "amount": 9_000, "every": "quarter"})  # fmt: skip
    used(world, v1, dt.date(2026, 10, 5), world["w1"], 1_000)
    run(OCT, finalize=True)
    v2 = new_version(v1)
    used(world, v1, dt.date(2026, 11, 3), world["w1"], 2_000)
    run(NOV, finalize=True)
    assert grosses(NOV, "minimum_guarantee") == {}  # v1 ended because v2 took over, not the contract
    used(world, v2, dt.date(2026, 12, 3), world["w2"], 500)
    run(DEC)
    # Q4 of the contract: 1,000 + 2,000 (w1, v1) + 500 (w2, v2) = 3,500 < 9,000: one top-up of 5,500 by v2, in
    # proportion 3,000 : 500: 4,714.29 and 785.71, the unit left to the larger remainder (w2)
    assert grosses(DEC, "minimum_guarantee") == {world["w1"].title: 4714, world["w2"].title: 786}
    assert set(StatementLine.objects.filter(basis="minimum_guarantee").values_list("agreement", flat=True)) == {v2.pk}


def test_a_per_work_pair_is_billed_once_across_versions(world):  # noqa: F811
    v1 = contract(world, {"type": "per_work", "use": "fine_tuning", "amount": 5_000})
    used(world, v1, dt.date(2026, 10, 5), world["w1"], 1, use="fine_tuning")
    run(OCT, finalize=True)
    v2 = new_version(v1)
    used(world, v2, dt.date(2026, 11, 20), world["w1"], 1, use="fine_tuning")  # billed in October under v1
    used(world, v1, dt.date(2026, 11, 3), world["w2"], 1, use="fine_tuning")  # new: billed under v1 ...
    used(world, v2, dt.date(2026, 11, 20), world["w2"], 1, use="fine_tuning")  # ... and not again under v2
    run(NOV)
    lines = StatementLine.objects.filter(statement__period=NOV, basis="per_work")
    assert sorted(lines.values_list("work", "agreement", "gross")) == [(world["w2"].pk, v1.pk, 5_000)]


def test_an_advance_copied_into_a_new_version_is_received_once(world):  # noqa: F811
    v1 = contract(world, {"type": "advance", "amount": 12_000})
    assert advance_record_received(term=v1.terms.get(), received_on=OCT) is True
    v2 = new_version(v1)
    with pytest.raises(RunRefused, match="another version"):
        advance_record_received(term=v2.terms.get(type="advance"), received_on=NOV)


def test_terminating_a_running_agreement_ends_it_today_and_its_fees_with_it(world, today):  # noqa: F811
    today(dt.date(2026, 11, 10))
    running = contract(world, {"type": "flat_fee", "amount": 1_000, "every": "month"})
    agreement_update(agreement=running, data={"status": "terminated"})
    running.refresh_from_db()
    assert (running.status, running.ends_on) == ("terminated", dt.date(2026, 11, 10))
    run(NOV)  # it ran in November until the 10th: November's fee is owed
    assert sum(grosses(NOV, "flat_fee").values()) == 1_000
    run(DEC)
    assert grosses(DEC, "flat_fee") == {}
    run(dt.date(2027, 6, 1))
    assert grosses(dt.date(2027, 6, 1), "flat_fee") == {}


def test_an_agreement_terminated_before_it_ran_owes_nothing(world):  # noqa: F811
    never = contract(world, {"type": "flat_fee", "amount": 7_000, "every": "month"}, status="draft")
    agreement_update(agreement=never, data={"status": "terminated"})
    never.refresh_from_db()
    assert (never.status, never.ends_on) == ("terminated", None)
    run(DEC)
    assert grosses(DEC, "flat_fee") == {}


def test_a_guarantee_is_settled_once_when_a_version_starts_in_its_last_month(world):  # noqa: F811
    v1 = contract(world, {"type": "per_unit", "use": "training", "rate": Decimal("1")},
                  {"type": "minimum_guarantee", "amount": 9_000, "every": "quarter"})  # fmt: skip
    used(world, v1, dt.date(2026, 10, 5), world["w1"], 1_000)
    run(OCT, finalize=True)
    run(NOV, finalize=True)
    v2 = new_version(v1, dt.date(2026, 12, 15))
    used(world, v2, dt.date(2026, 12, 20), world["w1"], 500)
    run(DEC)
    # Q4: 1,000 + 500 = 1,500 < 9,000: one top-up of 7,500 (all on w1, the only work that earned), settled by v2
    lines = StatementLine.objects.filter(statement__period=DEC, basis="minimum_guarantee")
    assert list(lines.values_list("agreement", "gross")) == [(v2.pk, 7_500)]


def test_a_per_work_term_added_by_a_new_version_bills_pairs_first_seen_under_the_old_one(world):  # noqa: F811
    v1 = contract(world, {"type": "per_unit", "use": "fine_tuning", "rate": Decimal("1")})
    used(world, v1, dt.date(2026, 10, 5), world["w1"], 1, use="fine_tuning")
    run(OCT, finalize=True)
    v2 = agreement_update(
        agreement=v1, effective_from=MID_NOVEMBER,
        data={"terms": [{"type": "per_unit", "use": "fine_tuning", "rate": Decimal("1")},
                        {"type": "per_work", "use": "fine_tuning", "fee": Money(5000, "JPY")}]},
    )  # fmt: skip
    used(world, v2, dt.date(2026, 11, 20), world["w1"], 1, use="fine_tuning")  # v1 had no per_work term: not billed
    run(NOV)
    lines = StatementLine.objects.filter(statement__period=NOV, basis="per_work")
    assert list(lines.values_list("agreement", "gross")) == [(v2.pk, 5_000)]


def test_a_late_pair_reported_under_two_versions_is_billed_once(world):  # noqa: F811
    from licensing.models import ReportingPeriod, UsageReport

    v1 = contract(world, {"type": "per_work", "use": "fine_tuning", "amount": 5_000})
    v2 = new_version(v1, dt.date(2026, 10, 15))
    run(OCT, finalize=True)
    assert ReportingPeriod.objects.filter(period=OCT, status="final").exists()
    report = UsageReport.objects.create(licensee=world["licensee"], period=OCT, idempotency_key="late",
                                        body_sha256="0" * 64, status="accepted", late=True)  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT licensing_usage_partition(%s)", [OCT])  # as the report's ingestion makes it
        for line, (agreement, day) in enumerate([(v1, 5), (v2, 20)], start=1):
            cursor.execute(
                "INSERT INTO licensing_usageevent (period, report_id, line, licensee_id, work_id, agreement_id, use, "
                "quantity, occurred_on, model, territory, reserved, late) "
                "VALUES (%s, %s, %s, %s, %s, %s, 'fine_tuning', 1, %s, 'm', 'JP', false, true)",
                [OCT, report.pk, line, world["licensee"].pk, world["w1"].pk, agreement.pk, dt.date(2026, 10, day)],
            )
    run(NOV)
    lines = StatementLine.objects.filter(statement__period=NOV, basis="adjustment", use="fine_tuning")
    assert list(lines.values_list("agreement", "gross")) == [(v1.pk, 5_000)]


def test_a_guarantee_counts_the_month_s_flat_fee_whatever_the_order_of_the_terms(world):  # noqa: F811
    guaranteed = contract(world, {"type": "minimum_guarantee", "amount": 9_000, "every": "quarter"},
                          {"type": "flat_fee", "amount": 1_000, "every": "month"},
                          {"type": "per_unit", "use": "training", "rate": Decimal("1")})  # fmt: skip
    used(world, guaranteed, dt.date(2026, 10, 5), world["w1"], 1_000)
    run(OCT, finalize=True)
    run(NOV, finalize=True)
    run(DEC)
    # Q4: usage 1,000 + three monthly fees of 1,000 (December's included) = 4,000 < 9,000: a top-up of 5,000
    assert sum(grosses(DEC, "minimum_guarantee").values()) == 5_000


def test_a_new_version_that_leaves_the_advance_out_keeps_recouping_it(world):  # noqa: F811
    v1 = contract(world, {"type": "per_unit", "use": "training", "rate": Decimal("1")},
                  {"type": "advance", "amount": 12_000})  # fmt: skip
    used(world, v1, dt.date(2026, 10, 5), world["w1"], 1_000)
    run(OCT, finalize=True)
    v2 = agreement_update(agreement=v1, effective_from=dt.date(2026, 11, 1),
                          data={"terms": [{"type": "per_unit", "use": "training", "rate": Decimal("2")}]})  # fmt: skip
    used(world, v2, dt.date(2026, 11, 5), world["w1"], 1_000)
    run(NOV)
    # 12,000 − 1,000 recouped in October: 2,000 of November's royalties recouped too
    november = Invoice.objects.get(period=NOV)
    assert (november.agreement_id, november.royalties, november.advance_recouped) == (v2.pk, 2_000, 2_000)


def test_a_run_split_across_workers_deals_the_versions_of_an_agreement_to_one_part(world):  # noqa: F811
    from payouts.tasks import deal

    v1 = contract(world)
    v2 = new_version(v1)
    others = [Agreement.objects.create(licensee=world["licensee"], reference=f"AGR-{n}", currency="JPY",
                                       starts_on=OCT, territories=["*"], uses=["training"], status="active")
              for n in range(3)]  # fmt: skip
    for parts in (2, 3, 4):
        dealt = deal([*others[:1], v1, *others[1:], v2], parts)
        assert len(dealt) == parts
        assert sorted(i for part in dealt for i in part) == sorted(str(a.pk) for a in [v1, v2, *others])
        assert any({str(v1.pk), str(v2.pk)} <= set(part) for part in dealt)
