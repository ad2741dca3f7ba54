"""PostgreSQL's own guards on statements, lines, invoices and tax rules, tried with raw SQL."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, connection, transaction

from licensing.models import Agreement
from tests.licensing.factories import LicenseeFactory, RightsHolderFactory, work_with_shares

pytestmark = pytest.mark.django_db


def sql(statement: str, params=()) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def run_id() -> str:
    run = str(uuid.uuid4())
    sql(
        "INSERT INTO payouts_statementrun (id, period, status, agreements_total, agreements_done, lines_written, "
        "usage_mark, unallocated, error, created_at) VALUES (%s, '2026-10-01', 'done', 1, 1, 0, 0, '{}', '', now())",
        [run],
    )
    return run


def statement(run_id, holder_id, *, gross=1000, commission=100, net=900, ctax=90, wtax=91, carried=0, payable=899,
              status="draft", finalized_at=None) -> str:  # fmt: skip
    statement_id = str(uuid.uuid4())
    sql(
        "INSERT INTO payouts_statement (id, run_id, rights_holder_id, period, currency, status, gross, commission, "
        "net_royalties, consumption_tax, withholding_tax, carried_forward, payable, carried_out, registration_number, "
        "finalized_at) VALUES (%s, %s, %s, '2026-10-01', 'JPY', %s, %s, %s, %s, %s, %s, %s, %s, false, '', %s)",
        [statement_id, run_id, holder_id, status, gross, commission, net, ctax, wtax, carried, payable, finalized_at],
    )
    return statement_id


def test_a_statement_adds_up(run_id):
    holder = RightsHolderFactory()
    statement(run_id, holder.pk)  # 1000 − 100 = 900; 900 + 90 − 91 + 0 = 899
    other = RightsHolderFactory()
    with pytest.raises(IntegrityError, match="payouts_statement_net"):
        statement(run_id, other.pk, net=901, payable=900)
    with pytest.raises(IntegrityError, match="payouts_statement_payable"):
        statement(run_id, other.pk, payable=900)
    with pytest.raises(IntegrityError, match="payouts_statement_taxes"):
        statement(run_id, other.pk, ctax=-1, payable=808)
    with pytest.raises(IntegrityError, match="payouts_statement_final_at"):
        statement(run_id, other.pk, status="final")


def test_one_statement_per_holder_period_and_currency(run_id):
    holder = RightsHolderFactory()
    statement(run_id, holder.pk)
    with pytest.raises(IntegrityError, match="one_per_holder_period_currency"):
        statement(run_id, holder.pk)


def test_a_line_nets_its_commission_and_only_an_adjustment_names_another_period(run_id):
    holder = RightsHolderFactory()
    licensee = LicenseeFactory()
    work = work_with_shares((holder, "100.00"), title="作品")
    statement_id = statement(run_id, holder.pk)
    agreement = Agreement.objects.create(
        licensee=licensee, reference="AGR-G", currency="JPY", starts_on="2026-01-01", territories=["JP"],
        uses=["training"], scope_catalogue=True, status="active",
    ).pk  # fmt: skip
    insert = (
        "INSERT INTO payouts_statementline (period, statement_id, licensee_id, agreement_id, work_id, use, basis, "
        "adjusted_period, quantity, gross, commission, net) "
        "VALUES ('2026-10-01', %s, %s, %s, %s, 'training', %s, {}, 1, 100, 10, %s)"
    )
    params = [statement_id, licensee.pk, agreement, work.pk]
    sql(insert.format("NULL"), [*params, "per_unit", 90])
    with pytest.raises(IntegrityError, match="payouts_statementline_net"):
        sql(insert.format("NULL"), [*params, "per_unit", 91])
    with pytest.raises(IntegrityError, match="adjustment_period"):
        sql(insert.format("'2026-09-01'"), [*params, "per_unit", 90])
    sql(insert.format("'2026-09-01'"), [*params, "adjustment", 90])


def test_a_tax_rule_with_a_threshold_has_a_rate_above_it():
    with pytest.raises(IntegrityError, match="threshold_pair"):
        sql("INSERT INTO payouts_taxrule (kind, effective_from, rate, threshold, threshold_currency, note) "
            "VALUES ('withholding_resident', '2030-01-01', 10, 1000000, 'JPY', '')")  # fmt: skip
    with pytest.raises(IntegrityError, match="payouts_taxrule_rate"):
        sql("INSERT INTO payouts_taxrule (kind, effective_from, rate, threshold_currency, note) "
            "VALUES ('consumption', '2030-01-01', 101, 'JPY', '')")  # fmt: skip


def test_a_line_belongs_to_its_statements_period_and_its_agreements_licensee(run_id):
    holder = RightsHolderFactory()
    licensee, other = LicenseeFactory(), LicenseeFactory()
    work = work_with_shares((holder, "100.00"), title="作品")
    statement_id = statement(run_id, holder.pk)
    agreement = Agreement.objects.create(
        licensee=licensee, reference="AGR-L", currency="JPY", starts_on="2026-01-01", territories=["JP"],
        uses=["training"], scope_catalogue=True, status="active",
    ).pk  # fmt: skip
    insert = (
        "INSERT INTO payouts_statementline (period, statement_id, licensee_id, agreement_id, work_id, use, basis, "
        "quantity, gross, commission, net) VALUES (%s, %s, %s, %s, %s, 'training', 'per_unit', 1, 100, 10, 90)"
    )
    sql(insert, ["2026-10-01", statement_id, licensee.pk, agreement, work.pk])
    with pytest.raises(IntegrityError, match="payouts_statementline_statement"):  # the statement is October's
        sql(insert, ["2026-11-01", statement_id, licensee.pk, agreement, work.pk])
    with pytest.raises(IntegrityError, match="payouts_statementline_agreement"):  # another company's agreement
        sql(insert, ["2026-10-01", statement_id, other.pk, agreement, work.pk])
    with pytest.raises(IntegrityError, match="payouts_statementline_work"):
        sql(insert, ["2026-10-01", statement_id, licensee.pk, agreement, str(uuid.uuid4())])
    with connection.cursor() as cursor:  # written outside the engine: kept in the default partition
        cursor.execute("SELECT count(*) FROM payouts_statementline_default WHERE statement_id = %s", [statement_id])
        assert cursor.fetchone()[0] == 1


def test_a_run_s_step_is_one_of_its_steps_and_only_while_running_or_where_it_failed(run_id):
    with pytest.raises(IntegrityError, match="payouts_statementrun_step_running"):
        sql("UPDATE payouts_statementrun SET step = 'lines' WHERE id = %s", [run_id])  # a done run
    with pytest.raises(IntegrityError, match="payouts_statementrun_step"):
        sql("UPDATE payouts_statementrun SET status = 'running', step = 'painting' WHERE id = %s", [run_id])
    sql("UPDATE payouts_statementrun SET status = 'running', step = 'lines' WHERE id = %s", [run_id])
    sql("UPDATE payouts_statementrun SET status = 'failed' WHERE id = %s", [run_id])  # keeps where it stopped
    with pytest.raises(IntegrityError, match="payouts_statementrun_step_running"):
        sql("UPDATE payouts_statementrun SET status = 'queued' WHERE id = %s", [run_id])
