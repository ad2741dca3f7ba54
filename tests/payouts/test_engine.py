"""The statement engine on a small world whose every figure is worked out by hand in the comments.

One work owned 50 / 30 / 20 by an individual resident (A), a registered corporation (B) and an individual
non-resident (C); one JPY agreement, commission 10 %, with a per_unit, a revenue_share, a per_work term and an advance.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from licensing.models import Agreement, PeriodStatus, ReportingPeriod, Term
from payouts.engine import RunRefused, period_lock_key, statement_run_compute
from payouts.models import Invoice, Statement, StatementLine, StatementRun
from tests.licensing.factories import LicenseeFactory, RightsHolderFactory, work_with_shares

pytestmark = pytest.mark.django_db

OCTOBER, NOVEMBER, SEPTEMBER = dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 9, 1)


@pytest.fixture
def world():
    a = RightsHolderFactory(name="A", kind="individual", resident=True)
    b = RightsHolderFactory(name="B", kind="corporation", resident=True, invoice_registration_number="T7000012050002")
    c = RightsHolderFactory(name="C", kind="individual", resident=False, minimum_payout_amount=1000)
    work = work_with_shares((a, "50.00"), (b, "30.00"), (c, "20.00"), title="星の海")
    licensee = LicenseeFactory()
    agreement = Agreement.objects.create(
        licensee=licensee, reference="AGR-E", currency="JPY", starts_on="2026-01-01", territories=["*"],
        uses=["training", "generation", "fine_tuning"], scope_catalogue=True, status="active",
        commission=Decimal("10"),
    )  # fmt: skip
    Term.objects.create(agreement=agreement, type="per_unit", use="training", rate=Decimal("12.5"))
    Term.objects.create(agreement=agreement, type="revenue_share", use="generation", percent=Decimal("30"))
    Term.objects.create(agreement=agreement, type="per_work", use="fine_tuning", amount=5000)
    Term.objects.create(agreement=agreement, type="advance", amount=5000)
    return {"a": a, "b": b, "c": c, "work": work, "licensee": licensee, "agreement": agreement}


def usage(world, period, *events):
    """events: (use, quantity, model, revenue)"""
    report = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute("SELECT licensing_usage_partition(%s)", [period])
        for line, (use, quantity, model, revenue) in enumerate(events, start=1):
            cursor.execute(
                "INSERT INTO licensing_usageevent (period, report_id, line, licensee_id, work_id, agreement_id, use, "
                "quantity, occurred_on, model, territory, revenue_amount, revenue_currency, reserved, late) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'JP', %s, %s, false, false)",
                [period, report, line, world["licensee"].pk, world["work"].pk, world["agreement"].pk, use, quantity,
                 period + dt.timedelta(days=2), model, revenue, "JPY" if revenue is not None else None],
            )  # fmt: skip


def october_usage(world):
    usage(world, SEPTEMBER, ("fine_tuning", 1, "m1", None))  # (work, m1) first reported in September
    usage(
        world, OCTOBER,
        ("training", 7, "m1", None), ("training", 6, "m2", None),  # 13 × 12.5 = 162.5 → 163
        ("generation", 1, "m1", 1200), ("generation", 2, "m1", 1001),  # 2,201 × 30 % = 660.3 → 660
        ("fine_tuning", 1, "m1", None), ("fine_tuning", 1, "m1", None), ("fine_tuning", 1, "m2", None),  # m2 new: 5,000
    )  # fmt: skip


def run(period):
    return statement_run_compute(run=StatementRun.objects.create(period=period))


def figures(statement):
    return (statement.gross, statement.commission, statement.net_royalties, statement.consumption_tax,
            statement.withholding_tax, statement.carried_forward, statement.payable, statement.carried_out)  # fmt: skip


def test_each_term_kind_commission_split_and_taxes(world):
    october_usage(world)
    done = run(OCTOBER)
    assert (done.status, done.agreements_total, done.agreements_done) == ("done", 1, 1)
    lines = {(line.statement.rights_holder.name, line.basis): (line.quantity, line.gross, line.commission, line.net)
             for line in StatementLine.objects.select_related("statement__rights_holder")}  # fmt: skip
    # per_unit 163, commission 16.3 → 16. Gross 163 × 50/30/20 = 81.5, 48.9, 32.6: floors 81 + 48 + 32 = 161, the
    # 2 left to the largest remainders .9 (B) and .6 (C). Commission 8.0, 4.8, 3.2: floors 15, the 1 left to B.
    assert lines["A", "per_unit"] == (13, 81, 8, 73)
    assert lines["B", "per_unit"] == (13, 49, 5, 44)
    assert lines["C", "per_unit"] == (13, 33, 3, 30)
    # revenue_share 660, commission 66: 330 / 198 / 132; 33.0, 19.8, 13.2 → 33 + 19 + 13 = 65, the 1 left to B
    assert lines["A", "revenue_share"] == (3, 330, 33, 297)
    assert lines["B", "revenue_share"] == (3, 198, 20, 178)
    assert lines["C", "revenue_share"] == (3, 132, 13, 119)
    # per_work: (work, m1) was reported in September, (work, m2) is new: one pair, 5,000; commission 500
    assert lines["A", "per_work"] == (1, 2500, 250, 2250)
    assert lines["B", "per_work"] == (1, 1500, 150, 1350)
    assert lines["C", "per_work"] == (1, 1000, 100, 900)
    statements = {s.rights_holder.name: s for s in Statement.objects.select_related("rights_holder")}
    # A, individual resident: 2,911 − 291 = 2,620; withholding floor(2,620 × 10.21 %) = floor(267.502) = 267
    assert figures(statements["A"]) == (2911, 291, 2620, 0, 267, 0, 2353, False)
    # B, registered corporation: 1,747 − 175 = 1,572; consumption tax floor(157.2) = 157; no withholding
    assert figures(statements["B"]) == (1747, 175, 1572, 157, 0, 0, 1729, False)
    assert statements["B"].registration_number == "T7000012050002"
    # C, individual non-resident: 1,165 − 116 = 1,049; withholding floor(1,049 × 20.42 %) = floor(214.2058) = 214;
    # payable 835 is below its minimum payout of 1,000: carried forward
    assert figures(statements["C"]) == (1165, 116, 1049, 0, 214, 0, 835, True)
    assert sum(s.gross for s in statements.values()) == 163 + 660 + 5000
    invoice = Invoice.objects.get()
    # royalties 5,823 less the 5,000 advance recouped
    assert (invoice.royalties, invoice.advance_recouped, invoice.amount_due) == (5823, 5000, 823)
    assert {(line.basis, line.use, line.amount) for line in invoice.lines.all()} == {
        ("per_unit", "training", 163),
        ("revenue_share", "generation", 660),
        ("per_work", "fine_tuning", 5000),
    }


def test_a_rerun_recomputes_the_drafts_in_place_and_duplicates_nothing(world):
    october_usage(world)
    run(OCTOBER)
    before = {s.rights_holder_id: (s.pk, figures(s)) for s in Statement.objects.all()}
    invoice = Invoice.objects.get().pk
    usage(world, OCTOBER, ("training", 2, "m3", None))  # 15 × 12.5 = 187.5 → 188 on the rerun
    rerun = run(OCTOBER)
    after = {s.rights_holder_id: (s.pk, figures(s)) for s in Statement.objects.all()}
    assert {holder: pk for holder, (pk, _) in after.items()} == {holder: pk for holder, (pk, _) in before.items()}
    assert Statement.objects.filter(run=rerun).count() == 3
    assert StatementLine.objects.count() == 9
    assert StatementLine.objects.filter(basis="per_unit").values_list("gross", flat=True).order_by("gross")[::1] == [
        38,
        56,
        94,
    ]  # 188 × 50/30/20 = 94, 56.4, 37.6 → 94 + 56 + 37 = 187, the 1 left to .6 (C)
    assert (Invoice.objects.get().pk, Invoice.objects.get().royalties) == (invoice, 188 + 660 + 5000)
    # the period's lines are its own partition, replaced whole by the rerun: nothing of the first run is left
    assert line_partitions() == {"payouts_statementline_2026_10": 9}
    assert set(StatementLine.objects.values_list("statement__run", flat=True)) == {rerun.pk}


def line_partitions() -> dict[str, int]:
    """The partitions of payouts_statementline that hold lines, with their counts."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text, count(*) FROM payouts_statementline GROUP BY 1")
        return dict(cursor.fetchall())


def test_a_carried_payable_and_the_advance_left_reach_the_next_period(world):
    october_usage(world)
    run(OCTOBER)
    Statement.objects.update(status="final", finalized_at=timezone.now())
    Invoice.objects.update(status="final", finalized_at=timezone.now())
    usage(world, NOVEMBER, ("training", 8, "m1", None))  # 8 × 12.5 = 100; commission 10; C: 20 − 2 = 18
    run(NOVEMBER)
    c = Statement.objects.get(rights_holder=world["c"], period=NOVEMBER)
    # net 18, withholding floor(18 × 20.42 %) = floor(3.6756) = 3, + 835 carried from October = 850, still < 1,000
    assert figures(c) == (20, 2, 18, 0, 3, 835, 850, True)
    november = Invoice.objects.get(period=NOVEMBER)
    assert (november.royalties, november.advance_recouped, november.amount_due) == (100, 0, 100)  # advance spent


def test_a_final_period_is_never_recomputed(world):
    october_usage(world)
    ReportingPeriod.objects.create(period=OCTOBER, status=PeriodStatus.FINAL, finalized_at=timezone.now())
    with pytest.raises(RunRefused):
        run(OCTOBER)
    assert not Statement.objects.exists()


def balances() -> dict[tuple, int]:
    from django.db.models import Sum

    from ledger.models import Posting

    rows = Posting.objects.values("account__purpose", "account__owner_id").annotate(total=Sum("amount"))
    return {(row["account__purpose"], row["account__owner_id"]): row["total"] for row in rows}


def test_finalizing_posts_every_statement_and_invoice_once(world):
    from ledger.models import JournalTransaction
    from ledger.verification import verify_ledger
    from payouts.services import statement_run_finalize

    october_usage(world)
    done = run(OCTOBER)
    statement_run_finalize(run=done)
    assert set(Statement.objects.values_list("status", flat=True)) == {"final"}
    assert Invoice.objects.get().status == "final"
    assert ReportingPeriod.objects.get(period=OCTOBER).status == "final"
    posted = JournalTransaction.objects.count()
    assert posted == 4  # three statements and one invoice
    statement_run_finalize(run=done)  # again (a second click, a duplicate delivery): nothing more
    statement_run_finalize(run=StatementRun.objects.get(pk=done.pk))
    assert JournalTransaction.objects.count() == posted
    assert verify_ledger().sound
    totals = balances()
    a, b, c, licensee = world["a"].pk, world["b"].pk, world["c"].pk, world["licensee"].pk
    # the clearing account nets out: 5,823 of royalties in from the invoice, 2,911 + 1,747 + 1,165 out to holders
    assert totals[("royalty_expense", None)] == 0
    assert totals[("licensee_receivable", licensee)] == 823  # due after the 5,000 advance
    assert totals[("licensee_advance", licensee)] == 5000  # the advance used up (its payment is booked apart)
    assert totals[("commission_income", None)] == -(291 + 175 + 116)
    assert totals[("consumption_tax_receivable", None)] == 157
    assert totals[("withholding_tax_accrued", None)] == -(267 + 214)
    # what each holder is owed: net + consumption tax − withholding (C's 835 stays owed, carried, not paid yet)
    assert (totals[("rights_holder_payable", a)], totals[("rights_holder_payable", b)],
            totals[("rights_holder_payable", c)]) == (-2353, -1729, -835)  # fmt: skip
    with pytest.raises(RunRefused):
        run(OCTOBER)  # final now


def test_postgresql_refuses_changing_final_statements_invoices_and_their_lines(world):
    """Raw SQL, as any writer outside the engine: a final statement's figures, its lines and a final invoice with
    its lines can be neither changed, deleted nor added to (paying a final statement, and its transfer coming back,
    are test_batches.py's)."""
    from django.db import IntegrityError, transaction

    from payouts.services import statement_run_finalize

    october_usage(world)
    statement_run_finalize(run=run(OCTOBER))
    statement = Statement.objects.get(rights_holder=world["a"])
    invoice = Invoice.objects.get()
    before = (figures(statement), list(statement.lines.values_list("gross", "commission", "net")),
              invoice.amount_due, list(invoice.lines.values_list("amount", flat=True)))  # fmt: skip
    refused = [
        "UPDATE payouts_statement SET payable = payable + 1 WHERE id = %(s)s",
        "UPDATE payouts_statement SET status = 'draft' WHERE id = %(s)s",
        "UPDATE payouts_statement SET run_id = (SELECT id FROM payouts_statementrun LIMIT 1), gross = 0 "
        "WHERE id = %(s)s",
        "DELETE FROM payouts_statement WHERE id = %(s)s",
        "UPDATE payouts_statement SET id = gen_random_uuid() WHERE id = %(s)s",  # its lines would be orphaned
        "UPDATE payouts_statementline SET gross = gross + 1, net = net + 1 WHERE statement_id = %(s)s",
        "DELETE FROM payouts_statementline WHERE statement_id = %(s)s",
        "INSERT INTO payouts_statementline (period, statement_id, licensee_id, agreement_id, work_id, use, basis, "
        "quantity, gross, commission, net) SELECT period, statement_id, licensee_id, agreement_id, work_id, use, "
        "basis, 1, 1, 0, 1 FROM payouts_statementline WHERE statement_id = %(s)s LIMIT 1",
        "UPDATE payouts_invoice SET amount_due = amount_due - 1 WHERE id = %(i)s",
        "UPDATE payouts_invoice SET status = 'draft' WHERE id = %(i)s",
        "DELETE FROM payouts_invoice WHERE id = %(i)s",
        "UPDATE payouts_invoiceline SET amount = amount + 1 WHERE invoice_id = %(i)s",
        "DELETE FROM payouts_invoiceline WHERE invoice_id = %(i)s",
        "INSERT INTO payouts_invoiceline (invoice_id, basis, use, quantity, amount) "
        "VALUES (%(i)s, 'per_unit', 'training', 1, 1)",
    ]
    for statement_sql in refused:
        with pytest.raises(IntegrityError, match="never"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement_sql, {"s": statement.pk, "i": invoice.pk})
    truncates = (("payouts_statementline", "payouts_statementline"), ("payouts_invoiceline", "payouts_invoiceline"),
                 ("payouts_statement CASCADE", r"\w+"), ("payouts_invoice CASCADE", r"\w+"))  # fmt: skip
    for truncate, refused_on in truncates:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own deferred checks done: none pending
            cursor.execute("SET LOCAL ledger.allow_truncate = 'off'")  # as outside a test database
            with pytest.raises(IntegrityError, match=f"TRUNCATE of {refused_on} refused"), transaction.atomic():
                cursor.execute(f"TRUNCATE {truncate}")
    statement.refresh_from_db()
    invoice.refresh_from_db()
    assert before == (figures(statement), list(statement.lines.values_list("gross", "commission", "net")),
                      invoice.amount_due, list(invoice.lines.values_list("amount", flat=True)))  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_a_committed_run_reports_its_progress_on_its_own_connection_and_finishes(world):
    """The progress is written on a second connection while the run's transaction is open: it must never wait on
    a lock the run holds (the run row is written by the run's transaction only at its end)."""
    import threading

    october_usage(world)
    run_row = StatementRun.objects.create(period=OCTOBER)  # committed, as the API's is
    outcome: list = []

    def compute() -> None:
        try:
            outcome.append(statement_run_compute(run=run_row))
        finally:
            connection.close()  # this thread's own

    worker = threading.Thread(target=compute, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the run waits on its own progress connection"
    run_row.refresh_from_db()
    assert (run_row.status, run_row.agreements_done, run_row.lines_written) == ("done", 1, 9)
    assert run_row.started_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_run_says_which_step_it_is_at_while_it_runs_and_where_it_failed(world, monkeypatch):
    """The steps, written on the progress connection as the run reaches them (read back from a third connection),
    cleared once done; a run that fails keeps the step it failed at, in the API and the admin."""
    import psycopg

    from payouts import engine, tasks
    from payouts.models import RunStep

    october_usage(world)
    Term.objects.create(agreement=world["agreement"], type="flat_fee", amount=3000, every="month")
    params = connection.get_connection_params()
    seen: list = []
    step = engine._Progress.step

    def observed(progress, name):
        step(progress, name)
        with psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context")}) as other:
            seen.append(other.execute("SELECT step FROM payouts_statementrun WHERE id = %s",
                                      [progress.run_id]).fetchone()[0])  # fmt: skip

    monkeypatch.setattr(engine._Progress, "step", observed)
    done = run(OCTOBER)
    assert seen == ["usage", "fixed_terms", "lines", "indexes", "invoices", "taxes"]
    assert done.step == ""

    def no_taxes(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(engine, "_taxes_and_payables", no_taxes)
    failing = StatementRun.objects.create(period=OCTOBER)
    assert tasks.compute_statement_run.apply(args=[str(failing.pk)]).failed()
    failing.refresh_from_db()
    assert (failing.status, failing.step, failing.error) == ("failed", RunStep.TAXES, "disk full")
    from payouts.api.presenters import run as present

    assert present(failing)["step"] == "taxes"
    from payouts.admin import StatementRunAdmin

    assert StatementRunAdmin.progress(None, failing).endswith("· Taxes and payables")


def late_report(world, period, *events):
    """A report received after `period` was final: its events are late (what the ingestion flags)."""
    from licensing.models import UsageReport

    report = UsageReport.objects.create(licensee=world["licensee"], period=period, idempotency_key=str(uuid.uuid4()),
                                        body_sha256="0" * 64, status="accepted", late=True, events_received=len(events),
                                        events_accepted=len(events))  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("SELECT licensing_usage_partition(%s)", [period])  # as the report's ingestion makes it
        for line, (use, quantity, revenue) in enumerate(events, start=1):
            cursor.execute(
                "INSERT INTO licensing_usageevent (period, report_id, line, licensee_id, work_id, agreement_id, use, "
                "quantity, occurred_on, model, territory, revenue_amount, revenue_currency, reserved, late) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'm9', 'JP', %s, %s, false, true)",
                [period, report.pk, line, world["licensee"].pk, world["work"].pk, world["agreement"].pk, use,
                 quantity, period + dt.timedelta(days=9), revenue, "JPY" if revenue is not None else None],
            )  # fmt: skip
    return report


def test_late_usage_for_a_final_period_is_adjusted_once_in_the_next_open_one(world):
    from payouts.services import statement_run_finalize

    october_usage(world)
    statement_run_finalize(run=run(OCTOBER))
    october = {s.rights_holder_id: figures(s) for s in Statement.objects.filter(period=OCTOBER)}
    # the late events name model m9: (work, m9) is a fine_tuning pair never reported before, so its per_work fee too
    report = late_report(world, OCTOBER, ("training", 4, None), ("generation", 1, 1000), ("fine_tuning", 1, None))
    november = run(NOVEMBER)
    adjustments = StatementLine.objects.filter(statement__period=NOVEMBER, basis="adjustment")
    # training 4 × 12.5 = 50, commission 5; generation 1,000 × 30 % = 300, commission 30; each split 50/30/20.
    # Commission 5: 2.5, 1.5, 1.0 → floors 2 + 1 + 1, the unit left to A (remainders .5 and .5: the larger share)
    by_holder_use = {(line.statement.rights_holder.name, line.use): (line.gross, line.commission, line.adjusted_period)
                     for line in adjustments.select_related("statement__rights_holder")}  # fmt: skip
    assert by_holder_use["A", "training"] == (25, 3, OCTOBER)
    assert by_holder_use["B", "training"] == (15, 1, OCTOBER)
    assert by_holder_use["C", "generation"] == (60, 6, OCTOBER)
    assert by_holder_use["A", "fine_tuning"] == (2500, 250, OCTOBER)  # the new pair's 5,000, split 50/30/20
    assert sum(line.gross for line in adjustments) == 350 + 5000
    # October's final statements never change
    assert {s.rights_holder_id: figures(s) for s in Statement.objects.filter(period=OCTOBER)} == october
    statement_run_finalize(run=november)
    report.refresh_from_db()
    assert report.adjusted_in == NOVEMBER
    run(dt.date(2026, 12, 1))
    assert not StatementLine.objects.filter(statement__period=dt.date(2026, 12, 1), basis="adjustment").exists()


def test_a_run_split_across_workers_gives_the_same_statements(world):
    from payouts.engine import statement_run_assemble, statement_run_compute_part

    october_usage(world)
    single = {s.rights_holder_id: figures(s) for s in run(OCTOBER).statements.all()}
    columns = ("statement__rights_holder", "basis", "gross", "commission")
    lines = sorted(StatementLine.objects.values_list(*columns))
    split = StatementRun.objects.create(period=OCTOBER, agreements_total=1, status="running")  # as dispatched
    ids = [str(world["agreement"].pk)]
    for part in range(3):  # three workers, the agreements dealt out: two of them have none of this world's one
        statement_run_compute_part(run=split, part=part, agreement_ids=ids[part::3])
    assert Statement.objects.filter(run=split).count() == 0  # nothing until assembled
    statement_run_assemble(run=split)
    assert {s.rights_holder_id: figures(s) for s in split.statements.all()} == single
    assert (
        sorted(StatementLine.objects.values_list("statement__rights_holder", "basis", "gross", "commission")) == lines
    )
    split.refresh_from_db()
    assert (split.status, split.agreements_done) == ("done", 1)
    from payouts.models import RoyaltyStage

    assert not RoyaltyStage.objects.filter(run=split).exists()  # cleaned up


def split_run(world, period=OCTOBER):
    """A run split across workers, dispatched (running) and its one part computed, not yet assembled."""
    from payouts.engine import statement_run_compute_part, usage_mark

    split = StatementRun.objects.create(period=period, agreements_total=1, status="running",
                                        usage_mark=usage_mark(period))  # fmt: skip
    assert statement_run_compute_part(run=split, part=0, agreement_ids=[str(world["agreement"].pk)]) > 0
    return split


def test_a_split_run_assembled_again_by_a_duplicate_delivery_keeps_its_lines(world):
    """The chord's callback delivered twice (a worker killed after it committed, before it acknowledged): the
    second finds the run done and the staged lines consumed, and changes nothing; the run is finalized whole."""
    from payouts.engine import statement_run_assemble
    from payouts.models import InvoiceLine
    from payouts.services import statement_run_finalize

    october_usage(world)
    split = split_run(world)
    statement_run_assemble(run=split)
    columns = ("statement__rights_holder", "basis", "gross", "commission", "net")
    lines = sorted(StatementLine.objects.values_list(*columns))
    invoice_lines = sorted(InvoiceLine.objects.values_list("basis", "amount"))
    statements = {s.rights_holder_id: figures(s) for s in Statement.objects.all()}
    assert len(lines) == 9
    assert len(invoice_lines) == 3
    again = statement_run_assemble(run=StatementRun.objects.get(pk=split.pk))
    assert (again.status, again.lines_written) == ("done", 9)
    assert sorted(StatementLine.objects.values_list(*columns)) == lines
    assert sorted(InvoiceLine.objects.values_list("basis", "amount")) == invoice_lines
    assert {s.rights_holder_id: figures(s) for s in Statement.objects.all()} == statements
    statement_run_finalize(run=again)
    assert StatementLine.objects.filter(statement__status="final").count() == 9


def test_a_part_delivered_again_after_its_run_is_assembled_does_nothing(world):
    """A part's duplicate delivery neither stages lines nor turns the done run back to running (it could not be
    finalized then), nor does one after its run failed."""
    from payouts.engine import statement_run_assemble, statement_run_compute_part
    from payouts.models import RoyaltyStage
    from payouts.services import statement_run_finalize

    october_usage(world)
    split = split_run(world)
    statement_run_assemble(run=split)
    ids = [str(world["agreement"].pk)]
    assert statement_run_compute_part(run=split, part=0, agreement_ids=ids) == 0
    split.refresh_from_db()
    assert (split.status, split.agreements_done) == ("done", 1)
    assert not RoyaltyStage.objects.filter(run=split).exists()
    assert statement_run_finalize(run=split).finalized_at is not None
    # a run whose other part failed: its parts stage nothing more, and it is never assembled
    failed = StatementRun.objects.create(period=NOVEMBER, agreements_total=1, status="failed", error="part 1 failed")
    assert statement_run_compute_part(run=failed, part=0, agreement_ids=ids) == 0
    failed.refresh_from_db()
    assert failed.status == "failed"
    assert not RoyaltyStage.objects.filter(run=failed).exists()
    assert statement_run_assemble(run=failed).status == "failed"
    assert not Statement.objects.filter(period=NOVEMBER).exists()


def test_a_run_refused_or_failed_after_a_done_one_does_not_block_finalizing_it(world):
    """Staff asked twice: the second run was refused (the first held the period) and failed. The drafts are the
    first run's, which can be finalized; a later run queued or done still blocks it."""
    from payouts.services import statement_run_finalize

    october_usage(world)
    first = run(OCTOBER)
    queued = StatementRun.objects.create(period=OCTOBER)
    with pytest.raises(RunRefused, match="queued or running"):
        statement_run_finalize(run=first)
    StatementRun.objects.filter(pk=queued.pk).update(status="failed", error="Another run of 2026-10 is under way.")
    assert statement_run_finalize(run=first).finalized_at is not None
    assert set(Statement.objects.values_list("status", flat=True)) == {"final"}


def test_a_run_whose_drafts_were_replaced_is_not_finalized(world):
    from payouts.services import statement_run_finalize

    october_usage(world)
    first = run(OCTOBER)
    second = run(OCTOBER)
    with pytest.raises(RunRefused, match="later run of this period exists"):
        statement_run_finalize(run=first)
    # a draft that is not the run's (written outside a run's own transaction): refused, nothing posted
    Statement.objects.filter(run=second).update(run=first)
    with pytest.raises(RunRefused, match="not this run's"):
        statement_run_finalize(run=second)
    assert set(Statement.objects.values_list("status", flat=True)) == {"draft"}


def test_royalties_of_a_work_without_rights_holders_are_billed_and_shown_unallocated(world):
    from licensing.models import Work

    orphan = Work.objects.create(kind="illustration", title="持ち主のない作品")  # no shares, no parent
    october_usage(world)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO licensing_usageevent (period, report_id, line, licensee_id, work_id, agreement_id, use, "
            "quantity, occurred_on, model, territory, reserved, late) "
            "VALUES (%s, %s, 1, %s, %s, %s, 'training', 8, %s, 'm1', 'JP', false, false)",
            [OCTOBER, uuid.uuid4(), world["licensee"].pk, orphan.pk, world["agreement"].pk, OCTOBER],
        )
    done = run(OCTOBER)
    assert done.unallocated == {"JPY": 100}  # 8 × 12.5, on the invoice, in no statement
    assert Invoice.objects.get().royalties == 5823 + 100
    assert sum(Statement.objects.values_list("gross", flat=True)) == 5823


def test_an_advance_is_recouped_across_periods_until_spent(world):
    from licensing.models import Term
    from payouts.services import statement_run_finalize

    Term.objects.filter(agreement=world["agreement"], type="advance").update(amount=6_000)
    october_usage(world)
    statement_run_finalize(run=run(OCTOBER))
    usage(world, NOVEMBER, ("training", 8, "m1", None))  # 8 × 12.5 = 100
    statement_run_finalize(run=run(NOVEMBER))
    december = dt.date(2026, 12, 1)
    usage(world, december, ("training", 8, "m1", None))
    run(december)
    invoices = {i.period: (i.royalties, i.advance_recouped, i.amount_due) for i in Invoice.objects.all()}
    assert invoices[OCTOBER] == (5823, 5823, 0)  # 6,000 advanced: 177 left
    assert invoices[NOVEMBER] == (100, 100, 0)  # 77 left
    assert invoices[december] == (100, 77, 23)  # spent


def test_periods_are_final_in_order_and_with_all_their_usage(world):
    from payouts.services import statement_run_finalize

    october_usage(world)
    october = run(OCTOBER)
    usage(world, NOVEMBER, ("training", 8, "m1", None))
    november = run(NOVEMBER)
    with pytest.raises(RunRefused, match="earlier period"):
        statement_run_finalize(run=november)  # October is still a draft
    usage(world, OCTOBER, ("training", 1, "m1", None))  # reported after October's run computed
    with pytest.raises(RunRefused, match="compute it again"):
        statement_run_finalize(run=october)
    october = run(OCTOBER)
    statement_run_finalize(run=october)
    with pytest.raises(RunRefused, match="compute it again"):
        statement_run_finalize(run=november)  # computed before October was final: its carry-forward may differ
    statement_run_finalize(run=run(NOVEMBER))
    assert set(Statement.objects.values_list("status", flat=True)) == {"final"}


def test_an_old_run_delivered_again_does_not_take_the_period_from_its_replacement(world):
    october_usage(world)
    first = StatementRun.objects.create(period=OCTOBER)
    second = run(OCTOBER)
    with pytest.raises(RunRefused, match="superseded"):
        statement_run_compute(run=first)
    assert set(Statement.objects.values_list("run", flat=True)) == {second.pk}


@pytest.mark.django_db(transaction=True)
def test_two_runs_of_a_period_at_once_one_is_refused(world):
    from django.db import connections

    october_usage(world)
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # another run of October holding its lock, in its own transaction
            cursor.execute("BEGIN")
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [period_lock_key(OCTOBER)])
            with pytest.raises(RunRefused, match="under way"):
                run(OCTOBER)
            cursor.execute("ROLLBACK")
    finally:
        other.close()
    assert run(OCTOBER).status == "done"  # once the other is over


def test_the_monthly_schedule_computes_the_previous_month(world, monkeypatch, today):
    from payouts import tasks

    october_usage(world)
    queued = []
    today(dt.date(2026, 11, 1))
    monkeypatch.setattr(tasks.compute_statement_run, "delay", lambda run_id: queued.append(run_id))
    run_id = tasks.monthly_statements()
    assert StatementRun.objects.get(pk=run_id).period == OCTOBER
    assert queued == [run_id]


def test_the_monthly_schedule_takes_its_month_in_its_own_time_zone_whatever_the_service_s(world, settings,
                                                                                          monkeypatch):  # fmt: skip
    """03:30 on 1 December in Tokyo, when the schedule fires, is still 30 November in UTC: November is the month
    before, not October."""
    from zoneinfo import ZoneInfo

    from payouts import tasks

    settings.TIME_ZONE = "UTC"
    fired = dt.datetime(2026, 12, 1, 3, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
    monkeypatch.setattr(timezone, "now", lambda: fired)
    monkeypatch.setattr(tasks.compute_statement_run, "delay", lambda run_id: None)
    assert timezone.localdate() == dt.date(2026, 11, 30)  # the service's day: UTC
    assert StatementRun.objects.get(pk=tasks.monthly_statements()).period == NOVEMBER


def test_an_advance_received_then_recouped_leaves_the_advance_account_at_zero(world, client, staff_user):
    from payouts.models import Advance
    from payouts.services import statement_run_finalize

    advance = Advance.objects.get(agreement=world["agreement"], type="advance")
    client.force_login(staff_user)
    for _ in range(2):  # a second click records nothing more
        client.post("/admin/payouts/advance/", {"action": "record_received", "_selected_action": [advance.pk]})
    totals = balances()
    assert (totals[("bank", None)], totals[("licensee_advance", world["licensee"].pk)]) == (5000, -5000)
    october_usage(world)
    statement_run_finalize(run=run(OCTOBER))  # recoups the whole 5,000
    totals = balances()
    assert totals[("licensee_advance", world["licensee"].pk)] == 0
    assert totals[("licensee_receivable", world["licensee"].pk)] == 823


def test_a_month_is_final_only_once_it_has_ended_and_computed_only_once_it_has_begun(world, today):
    """Finalizing a month still under way would bill the rest of its usage as late adjustments; a month to come
    has no usage yet (on a fresh install, making one final would close every month before it)."""
    from django.core.management import CommandError, call_command

    from payouts.services import statement_run_create, statement_run_finalize

    october_usage(world)
    october = run(OCTOBER)
    today(dt.date(2026, 10, 31))  # Asia/Tokyo: October's last day
    with pytest.raises(RunRefused, match="2026-10 has not ended: its statements can be made final from 2026-11-01"):
        statement_run_finalize(run=october)
    assert set(Statement.objects.values_list("status", flat=True)) == {"draft"}
    assert not ReportingPeriod.objects.exists()
    with pytest.raises(RunRefused, match="2026-11 has not begun"):
        statement_run_create(period=NOVEMBER)
    with pytest.raises(CommandError, match="2099-01 has not begun"):
        call_command("compute_statements", "--period", "2099-01", "--finalize")
    assert not StatementRun.objects.filter(period__gt=OCTOBER).exists()
    today(dt.date(2026, 11, 1))
    assert statement_run_finalize(run=october).finalized_at is not None
    assert statement_run_create(period=NOVEMBER).status == "queued"  # the month has begun: a draft may be computed


def test_late_usage_counts_toward_the_guarantee_of_the_month_it_is_billed_in(world):
    """Late usage is accounted for in the month it is processed (as its adjustment lines are): a minimum guarantee
    counts it in that month's window, not in the final month's, whose top-up never changes."""
    from payouts.services import statement_run_finalize

    Term.objects.create(agreement=world["agreement"], type="minimum_guarantee", amount=10_000, every="month")
    usage(world, OCTOBER, ("training", 100, "m1", None))  # 100 × 12.5 = 1,250: topped up by 8,750
    statement_run_finalize(run=run(OCTOBER))
    october = Invoice.objects.get(period=OCTOBER)
    assert (october.royalties, october.advance_recouped) == (10_000, 5_000)
    late_report(world, OCTOBER, ("training", 40, None))  # 40 × 12.5 = 500, billed in November
    usage(world, NOVEMBER, ("training", 600, "m1", None))  # 7,500
    run(NOVEMBER)
    by_basis = Counter()
    for line in StatementLine.objects.filter(statement__period=NOVEMBER):
        by_basis[line.basis, line.adjusted_period] += line.gross
    # November's window: 7,500 + the 500 adjusted = 8,000: topped up by 2,000
    assert by_basis == {("per_unit", None): 7_500, ("adjustment", OCTOBER): 500, ("minimum_guarantee", None): 2_000}
    assert Invoice.objects.get(period=NOVEMBER).royalties == 10_000
    assert Invoice.objects.get(period=OCTOBER).royalties == 10_000  # final: never changes


def test_a_split_run_dispatched_again_sends_the_same_parts_and_is_assembled_once(
    world, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """The dispatcher delivered again after its commit (its worker stopped, maybe before it sent the chord): the
    chord is sent again with the parts dealt the first time; both chords run, the lines are written once."""
    from payouts import tasks

    settings.STATEMENT_RUN_PARTS = 2
    october_usage(world)
    single = {s.rights_holder_id: figures(s) for s in run(OCTOBER).statements.all()}
    lines = sorted(StatementLine.objects.values_list("statement__rights_holder", "basis", "gross", "commission"))
    sent = []
    monkeypatch.setattr(tasks, "chord", lambda header: lambda callback: sent.append((header, callback)))
    split = StatementRun.objects.create(period=OCTOBER)
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.compute_statement_run(str(split.pk))
    split.refresh_from_db()
    assert (split.status, split.parts) == ("running", [[str(world["agreement"].pk)], []])
    assert [[task.args for task in header] for header, _ in sent] == [
        [(str(split.pk), 0, [str(world["agreement"].pk)]), (str(split.pk), 1, [])]
    ] * 2
    for header, callback in sent:  # the two chords, one after the other
        for task in header:
            task.apply()
        callback.apply()
    split.refresh_from_db()
    assert (split.status, split.lines_written) == ("done", 9)
    assert {s.rights_holder_id: figures(s) for s in split.statements.all()} == single
    assert (
        sorted(StatementLine.objects.values_list("statement__rights_holder", "basis", "gross", "commission")) == lines
    )
    with django_capture_on_commit_callbacks(execute=True):
        tasks.compute_statement_run(str(split.pk))  # once done: nothing sent
    assert len(sent) == 2


def test_the_callback_of_a_failed_run_delivered_late_leaves_the_running_one_alone(world):
    """A run still computing (E), and a later one that failed (F): F's assembly delivered late does nothing, and
    neither marks E failed nor drops its staged lines (it checks its own run first)."""
    from payouts.engine import statement_run_assemble
    from payouts.models import RoyaltyStage

    october_usage(world)
    computing = split_run(world)
    failed = StatementRun.objects.create(period=OCTOBER, status="failed", error="part 1 failed")
    assert statement_run_assemble(run=failed).status == "failed"
    computing.refresh_from_db()
    assert computing.status == "running"
    assert RoyaltyStage.objects.filter(run=computing).count() == 3


def test_finalizing_drops_the_lines_staged_by_runs_never_assembled(world):
    from payouts.models import RoyaltyStage
    from payouts.services import statement_run_finalize

    october_usage(world)
    stopped = split_run(world)
    StatementRun.objects.filter(pk=stopped.pk).update(status="failed", error="part 1 failed")
    done = run(OCTOBER)  # a later run replaces it: its staged lines are dropped by the run (the period's lock)
    assert not RoyaltyStage.objects.filter(run=stopped).exists()
    RoyaltyStage.objects.bulk_create(  # a part of the stopped run that committed after that
        RoyaltyStage(run=stopped, part=1, agreement_id=world["agreement"].pk, licensee_id=world["licensee"].pk,
                     currency="JPY", work_id=world["work"].pk, use="training", basis="per_unit", quantity=1, gross=13,
                     commission=1) for _ in range(2)
    )  # fmt: skip
    statement_run_finalize(run=done)
    assert not RoyaltyStage.objects.filter(run__period=OCTOBER).exists()


def test_a_second_delivery_that_waited_for_the_first_finds_the_run_done_and_computes_nothing(world):
    """It read the run queued or running, then waited for the period's lock while the first finished."""
    october_usage(world)
    done = run(OCTOBER)
    statements = list(Statement.objects.values_list("id", "gross", "payable"))
    stale = StatementRun.objects.get(pk=done.pk)
    stale.status = "running"  # as the second delivery read it
    again = statement_run_compute(run=stale)
    assert (again.status, again.finished_at, again.lines_written) == ("done", done.finished_at, 9)
    assert list(Statement.objects.values_list("id", "gross", "payable")) == statements


def test_a_split_run_dispatched_after_a_later_run_fails_and_stages_nothing(
    world, settings, monkeypatch, django_capture_on_commit_callbacks
):
    """An older queued run reaching a worker once a later one exists (or the month is final): refused before
    anything is dealt or staged; a run one worker was computing when it stopped is computed by one worker again,
    even once STATEMENT_RUN_PARTS was raised."""
    from payouts import tasks
    from payouts.models import RoyaltyStage

    settings.STATEMENT_RUN_PARTS = 2
    monkeypatch.setattr(tasks, "chord", lambda header: pytest.fail("no chord for a superseded run"))
    october_usage(world)
    older = StatementRun.objects.create(period=OCTOBER)
    stopped = StatementRun.objects.create(period=OCTOBER, status="running")  # its worker stopped mid-run
    with django_capture_on_commit_callbacks(execute=True):
        result = tasks.compute_statement_run.apply(args=[str(older.pk)])
    assert result.failed()
    older.refresh_from_db()
    assert (older.status, older.parts) == ("failed", [])
    assert "superseded" in older.error
    assert not RoyaltyStage.objects.exists()
    tasks.compute_statement_run(str(stopped.pk))
    stopped.refresh_from_db()
    assert (stopped.status, stopped.lines_written, stopped.parts) == ("done", 9, [])
    from payouts.services import statement_run_finalize

    statement_run_finalize(run=stopped)
    late = StatementRun.objects.create(period=OCTOBER)  # queued before October became final
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.compute_statement_run.apply(args=[str(late.pk)]).failed()
    late.refresh_from_db()
    assert (late.status, late.parts) == ("failed", [])
    assert "final" in late.error


def test_a_run_under_way_that_finds_its_period_held_tries_again_and_a_new_one_is_refused(world, monkeypatch):
    """Delivered again after its worker was lost, a run (running) may find the period still held by that
    worker's session, which PostgreSQL ends within client_connection_check_interval: it is tried again. A run not
    started yet is refused, as two runs of a period at once are."""
    from payouts import engine, tasks

    october_usage(world)
    calls = []
    real = tasks.statement_run_compute

    def busy_once(*, run):
        calls.append(run.pk)
        if len(calls) == 1:
            raise engine.PeriodBusy("Another run of 2026-10 is under way.")
        return real(run=run)

    monkeypatch.setattr(tasks, "statement_run_compute", busy_once)
    lost = StatementRun.objects.create(period=OCTOBER, status="running")  # its worker was lost mid-run
    assert tasks.compute_statement_run.apply(args=[str(lost.pk)]).successful()
    lost.refresh_from_db()
    assert (lost.status, lost.lines_written, calls) == ("done", 9, [lost.pk, lost.pk])
    calls.clear()
    new = StatementRun.objects.create(period=OCTOBER)
    assert tasks.compute_statement_run.apply(args=[str(new.pk)]).failed()
    new.refresh_from_db()
    assert (new.status, new.error, calls) == ("failed", "Another run of 2026-10 is under way.", [new.pk])


def test_a_run_checks_its_worker_s_connection_every_second_from_before_it_takes_a_lock(world):
    """So that PostgreSQL ends the session of a worker lost even before the run said it was running."""
    october_usage(world)
    seen = []

    def before_locks(execute, sql, params, many, context):
        if "advisory_xact_lock" in sql:
            raw = context["cursor"].cursor
            raw.execute("SHOW client_connection_check_interval")
            seen.append(raw.fetchone()[0])
        return execute(sql, params, many, context)

    with connection.execute_wrapper(before_locks):
        run(OCTOBER)
    assert seen
    assert set(seen) == {"1s"}


@pytest.mark.django_db(transaction=True)  # progress is written on a connection of its own: the run committed
def test_a_run_s_progress_never_turns_a_done_run_back_to_running(world):
    from payouts.engine import _Progress

    october_usage(world)
    done = run(OCTOBER)
    progress = _Progress(done, 1)
    try:
        progress.done(0, last=True)
    finally:
        progress.close()
    done.refresh_from_db()
    assert (done.status, done.agreements_done) == ("done", 1)


def test_a_held_month_is_tried_again_for_a_run_under_way_or_delivered_again_and_refused_otherwise(world):
    from types import SimpleNamespace

    from payouts.engine import PeriodBusy
    from payouts.tasks import _busy_retry

    retried = []
    queued, running = StatementRun(period=OCTOBER, status="queued"), StatementRun(period=OCTOBER, status="running")

    def task(redelivered, retries=0):
        return SimpleNamespace(request=SimpleNamespace(delivery_info={"redelivered": redelivered}, retries=retries),
                               retry=lambda **options: retried.append(options) or RuntimeError("retry"))  # fmt: skip

    busy = PeriodBusy("Another run of 2026-10 is under way.")
    # under way; its worker lost before it said it was running; and tried again already for that reason
    for run_, redelivered, retries in ((running, False, 0), (queued, True, 0), (queued, False, 1)):
        _busy_retry(task(redelivered, retries), run_, busy)
    assert [options["exc"] for options in retried] == [busy, busy, busy]
    with pytest.raises(PeriodBusy):
        _busy_retry(task(False), queued, busy)  # a new run: two runs of a month at once
    assert len(retried) == 3
