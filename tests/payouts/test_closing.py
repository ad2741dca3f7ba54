"""Usage meets the closing of periods: none lands unbilled in a final period, none is adjusted twice or never
(review of issues 5 and 6). The world and helpers of test_engine.py: one work split 50/30/20, one JPY agreement
(per_unit 12.5 on training, revenue_share 30 % on generation, per_work 5,000 on fine_tuning), commission 10 %."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import orjson
import pytest
from django.db import connection, connections, transaction

from licensing.models import ReportingPeriod, UsageEvent, UsageReport
from licensing.usage import USAGE_CLOSE_LOCK, usage_report_ingest, usage_report_process
from payouts.engine import RunRefused
from payouts.models import StatementLine, StatementRun
from payouts.services import statement_run_create, statement_run_finalize

from .test_engine import NOVEMBER, OCTOBER, late_report, october_usage, run, usage, world  # noqa: F401

pytestmark = pytest.mark.django_db
DECEMBER = dt.date(2026, 12, 1)


@pytest.fixture(autouse=True)
def after_the_months(today):
    """These months (to January 2027) have ended: they can be made final."""
    today(dt.date(2027, 2, 1))


def report(world, period, *events, **settings_change):  # noqa: F811
    """A usage report through the service, as the API sends it: events (use, quantity, model)."""
    day = str(period + dt.timedelta(days=4))
    body = orjson.dumps({"events": [
        {"work": str(world["work"].pk), "use": use, "quantity": quantity, "occurred_on": day, "model": model,
         "territory": "JP"} for use, quantity, model in events
    ]})  # fmt: skip
    return usage_report_ingest(licensee=world["licensee"], period=period, idempotency_key=str(uuid.uuid4()),
                               body=body, content_type="application/json").report  # fmt: skip


def storing(holding: threading.Event, release: threading.Event) -> None:
    """A report being stored, on a connection of its own: holds the usage lock shared until released, then commits."""
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(f"SELECT pg_advisory_xact_lock_shared({USAGE_CLOSE_LOCK})")
            holding.set()
            release.wait(10)
            cursor.execute("COMMIT")
    finally:
        connections["default"].close()


def adjustments(period) -> list[tuple]:
    return sorted(
        StatementLine.objects.filter(statement__period=period, basis="adjustment")
        .values_list("statement__rights_holder__name", "use", "gross", "adjusted_period")
    )  # fmt: skip


def test_a_queued_report_processed_after_its_period_became_final_is_late_and_adjusted(world, settings):  # noqa: F811
    """A large report is received while October is open, queued, and processed only after October became final:
    its events are flagged late when they are stored, not when the report was received, and November adjusts them."""
    october_usage(world)
    settings.USAGE_ASYNC_THRESHOLD_BYTES = 10
    queued = report(world, OCTOBER, ("training", 4, "m1"))
    assert (queued.status, queued.late) == ("processing", False)
    statement_run_finalize(run=run(OCTOBER))
    usage_report_process(report_id=queued.pk)
    queued.refresh_from_db()
    assert (queued.status, queued.late) == ("accepted", True)
    assert list(UsageEvent.objects.filter(report_id=queued.pk).values_list("late", flat=True)) == [True]
    run(NOVEMBER)
    # 4 × 12.5 = 50, split 25 / 15 / 10
    assert adjustments(NOVEMBER) == [("A", "training", 25, OCTOBER), ("B", "training", 15, OCTOBER),
                                     ("C", "training", 10, OCTOBER)]  # fmt: skip


@pytest.mark.parametrize(
    ("later_run", "refusal"),
    [(False, "being stored"), (True, "queued or running")],  # a later run: refused at once, before the wait (a
)  # run refused for the period's lock during it would fail, and the older drafts be made final)
def test_finalizing_waits_for_a_report_being_stored_and_refuses_after_the_timeout(world, settings, later_run, refusal):  # noqa: F811
    october_usage(world)
    october = run(OCTOBER)
    later = StatementRun.objects.create(period=OCTOBER) if later_run else None  # queued
    settings.FINALIZE_WAIT_SECONDS = 0.3
    holding, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=storing, args=(holding, release))
    thread.start()
    try:
        assert holding.wait(10)
        with pytest.raises(RunRefused, match=refusal):
            statement_run_finalize(run=october)
    finally:
        release.set()
        thread.join()
    assert not ReportingPeriod.objects.filter(period=OCTOBER).exists()
    if later:
        StatementRun.objects.filter(pk=later.pk).update(status="failed", error="refused")
    assert statement_run_finalize(run=october).finalized_at is not None  # once it is done


def test_usage_of_a_month_before_a_final_one_is_late_and_that_month_is_never_computed(world):  # noqa: F811
    """November had no usage and was never computed; December, the first month made final, is. November's usage
    arriving now is late (adjusted in the next open month), and a run of November is refused: its carry-forward and
    advance would be counted after December's."""
    usage(world, DECEMBER, ("training", 8, "m1", None))
    statement_run_finalize(run=run(DECEMBER))
    november = report(world, NOVEMBER, ("training", 2, "m1"))
    assert november.late is True
    with pytest.raises(RunRefused, match="later period is final"):
        statement_run_create(period=NOVEMBER)
    with pytest.raises(RunRefused, match="later period is final"):
        run(NOVEMBER)
    run(dt.date(2027, 1, 1))
    # 2 × 12.5 = 25, split 12.5 / 7.5 / 5 → 12 + 7 + 5 = 24, the unit left to A (.5 beats .5 by the larger share)
    assert adjustments(dt.date(2027, 1, 1)) == [("A", "training", 13, NOVEMBER), ("B", "training", 7, NOVEMBER),
                                                ("C", "training", 5, NOVEMBER)]  # fmt: skip


def test_months_become_final_one_after_the_other(world):  # noqa: F811
    """Once a month is final, the next to become final is the month after it: a month skipped would never bill its
    flat fees and guarantees."""
    october_usage(world)
    statement_run_finalize(run=run(OCTOBER))
    usage(world, DECEMBER, ("training", 8, "m1", None))
    december = run(DECEMBER)
    with pytest.raises(RunRefused, match="2026-11 is not final"):
        statement_run_finalize(run=december)
    statement_run_finalize(run=run(NOVEMBER))
    statement_run_finalize(run=run(DECEMBER))
    assert list(ReportingPeriod.objects.order_by("period").values_list("period", flat=True)) == [OCTOBER, NOVEMBER,
                                                                                                DECEMBER]  # fmt: skip


def test_a_month_cannot_be_final_while_an_earlier_month_has_usage_not_final(world):  # noqa: F811
    october_usage(world)
    report(world, OCTOBER, ("training", 1, "m1"))
    report(world, NOVEMBER, ("training", 2, "m1"))
    november = run(NOVEMBER)  # October never computed
    with pytest.raises(RunRefused, match="2026-10 has usage and is not final"):
        statement_run_finalize(run=november)
    statement_run_finalize(run=run(OCTOBER))
    statement_run_finalize(run=run(NOVEMBER))
    assert set(ReportingPeriod.objects.values_list("status", flat=True)) == {"final"}


def test_a_late_report_still_processing_when_the_run_computed_is_adjusted_by_the_next_run(world):  # noqa: F811
    """November's run computed while a late October report was still being processed: the run did not bill it, so
    finalizing November must not mark it adjusted; December adjusts it, once."""
    october_usage(world)
    statement_run_finalize(run=run(OCTOBER))
    pending = late_report(world, OCTOBER, ("training", 4, None))
    UsageReport.objects.filter(pk=pending.pk).update(status="processing")
    november = run(NOVEMBER)
    assert november.late_reports == []
    assert adjustments(NOVEMBER) == []
    UsageReport.objects.filter(pk=pending.pk).update(status="accepted")  # processed before November is finalized
    statement_run_finalize(run=november)
    pending.refresh_from_db()
    assert pending.adjusted_in is None
    december = run(DECEMBER)
    assert december.late_reports == [pending.pk]
    assert [row[2] for row in adjustments(DECEMBER)] == [25, 15, 10]
    statement_run_finalize(run=december)
    pending.refresh_from_db()
    assert pending.adjusted_in == DECEMBER
    run(dt.date(2027, 1, 1))
    assert adjustments(dt.date(2027, 1, 1)) == []


def test_a_per_work_pair_billed_in_a_later_month_is_not_billed_again_when_reported_late_for_an_earlier_one(world):  # noqa: F811
    """(work, m5) for fine_tuning is billed in October (5,000); a late September report names the same pair: the
    fee is once per pair under the agreement, so November adjusts nothing for it."""
    usage(world, OCTOBER, ("fine_tuning", 1, "m5", None))
    statement_run_finalize(run=run(OCTOBER))
    assert sum(StatementLine.objects.filter(basis="per_work").values_list("gross", flat=True)) == 5000
    late = late_report(world, dt.date(2026, 9, 1), ("fine_tuning", 1, None))
    UsageEvent.objects.filter(report_id=late.pk).update(model="m5")
    run(NOVEMBER)
    assert adjustments(NOVEMBER) == []


def test_a_pair_first_reported_late_for_an_earlier_month_and_again_this_month_is_billed_once(world):  # noqa: F811
    """(work, m9) is new: reported late for October and used again in November. One fee, as an adjustment of
    October (its first period), none on November's own lines."""
    october_usage(world)
    statement_run_finalize(run=run(OCTOBER))
    late_report(world, OCTOBER, ("fine_tuning", 1, None))  # model m9
    usage(world, NOVEMBER, ("fine_tuning", 1, "m9", None))
    run(NOVEMBER)
    per_work = StatementLine.objects.filter(statement__period=NOVEMBER, use="fine_tuning")
    assert sorted(per_work.values_list("basis", "gross")) == [("adjustment", 1000), ("adjustment", 1500),
                                                               ("adjustment", 2500)]  # fmt: skip


def test_a_run_keeps_the_late_reports_it_adjusts(world):  # noqa: F811
    october_usage(world)
    statement_run_finalize(run=run(OCTOBER))
    first = late_report(world, OCTOBER, ("training", 4, None))
    november = run(NOVEMBER)
    assert StatementRun.objects.get(pk=november.pk).late_reports == [first.pk]
    later = late_report(world, OCTOBER, ("training", 8, None))  # after November's run was requested
    statement_run_finalize(run=november)
    first.refresh_from_db()
    later.refresh_from_db()
    assert (first.adjusted_in, later.adjusted_in) == (NOVEMBER, None)
    with connection.cursor() as cursor:  # the list is a real array of report ids in the database
        cursor.execute("SELECT late_reports FROM payouts_statementrun WHERE id = %s", [november.pk])
        assert cursor.fetchone()[0] == [first.pk]


def test_a_finalization_waiting_for_usage_does_not_hold_up_new_reports(settings):
    """It tries for the lock rather than queue for it: a queued exclusive request would make every new report's
    shared request wait behind it."""
    from payouts.services import _close_usage

    settings.FINALIZE_WAIT_SECONDS = 3
    holding, release, finalizing = threading.Event(), threading.Event(), threading.Event()
    outcome = {}

    def finalize():  # waits for it, in a transaction of its own rolled back at the end
        try:
            with transaction.atomic():
                finalizing.set()
                try:
                    _close_usage()
                    outcome["finalize"] = "locked"
                except RunRefused:
                    outcome["finalize"] = "refused"
                transaction.set_rollback(True)
        finally:
            connections["default"].close()

    threads = [threading.Thread(target=storing, args=(holding, release)), threading.Thread(target=finalize)]
    threads[0].start()
    assert holding.wait(10)
    threads[1].start()
    assert finalizing.wait(10)
    try:
        time.sleep(0.3)  # the finalization is waiting now
        with connection.cursor() as cursor:  # a new report: its shared lock is granted at once
            cursor.execute("SET LOCAL lock_timeout = '500ms'")
            cursor.execute(f"SELECT pg_advisory_xact_lock_shared({USAGE_CLOSE_LOCK})")
    finally:
        release.set()
        for thread in threads:
            thread.join()
    assert outcome == {"finalize": "refused"}  # the new report (this test's transaction) still holds it


def test_finalizing_waits_for_a_report_being_stored_and_goes_on_when_it_is(world, settings):  # noqa: F811
    october_usage(world)
    october = run(OCTOBER)
    settings.FINALIZE_WAIT_SECONDS = 5
    holding, release = threading.Event(), threading.Event()
    thread = threading.Thread(target=storing, args=(holding, release))
    thread.start()
    assert holding.wait(10)
    threading.Timer(0.5, release.set).start()  # the report commits half a second later
    try:
        started = time.monotonic()
        assert statement_run_finalize(run=october).finalized_at is not None
        assert time.monotonic() - started >= 0.4  # it waited for the report
    finally:
        release.set()
        thread.join()


def test_usage_committed_with_a_lower_id_after_the_run_computed_is_not_left_out(world):  # noqa: F811
    """Event ids are drawn when a report inserts its events: a slow report can commit lower ids after a quick one
    (and after the run). The run's mark is the period's count of events, so finalizing sees it."""
    october_usage(world)
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id) FROM licensing_usageevent WHERE period = %s", [OCTOBER])
        lowest = cursor.fetchone()[0]
        cursor.execute("DELETE FROM licensing_usageevent WHERE id = %s", [lowest])  # the slow report's: not yet in
    october = run(OCTOBER)
    with connection.cursor() as cursor:  # ... committed now, with its lower id
        cursor.execute(
            "INSERT INTO licensing_usageevent (id, period, report_id, line, licensee_id, work_id, agreement_id, use, "
            "quantity, occurred_on, model, territory, reserved, late) "
            "VALUES (%s, %s, %s, 1, %s, %s, %s, 'training', 40, %s, 'm1', 'JP', false, false)",
            [lowest, OCTOBER, uuid.uuid4(), world["licensee"].pk, world["work"].pk, world["agreement"].pk,
             OCTOBER + dt.timedelta(days=3)],
        )  # fmt: skip
    with pytest.raises(RunRefused, match="compute it again"):
        statement_run_finalize(run=october)
