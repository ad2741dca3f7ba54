"""`verify_ledger` finds any edit of history, even one made with the database's own guards switched off."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.management import call_command
from django.db import connection

from ledger.chain import SQL_HASH, SQL_LEGS, canonical, chain_hash
from ledger.models import JournalTransaction
from ledger.money import Money
from ledger.services import journal_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(accounts):
    txns = []
    for i, memo in enumerate(["一月分の印税", "pipe | and 3:colon", "", "emoji 🎌"], start=1):
        txns.append(
            journal_post(
                legs=[(accounts["bank"], Money(1000 * i, "JPY")), (accounts["payable"], Money(-1000 * i, "JPY"))],
                idempotency_key=f"history-{i}",
                memo=memo,
                effective_date=date(2026, 10, i),
                cause_type="statement",
                cause_id=f"s{i}",
            )
        )
    return txns


def tamper(statement: str, params=None) -> None:
    """Write behind the ledger's back: triggers (and foreign keys) off for this statement only."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(statement, params or [])
        finally:
            cursor.execute("SET session_replication_role = DEFAULT")


def run_verify(capsys) -> tuple[int, str]:
    try:
        call_command("verify_ledger")
        code = 0
    except SystemExit as exit:
        code = exit.code
    out = capsys.readouterr()
    return code, out.out + out.err


def test_sound_ledger_exits_0_and_prints_counts(history, capsys):
    code, output = run_verify(capsys)
    assert code == 0
    assert "4 transactions, 8 postings" in output


def test_python_and_sql_hashes_agree(history):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.id, {SQL_HASH} FROM ledger_journaltransaction t "  # noqa: S608
            f"LEFT JOIN (SELECT transaction_id, {SQL_LEGS} AS legs FROM ledger_posting GROUP BY 1) p "
            "ON p.transaction_id = t.id ORDER BY t.id"
        )
        recomputed = dict(cursor.fetchall())
    for txn in history:
        assert recomputed[txn.id] == txn.hash
        legs = [(p.account_id, p.currency, p.amount) for p in txn.postings.all()]
        assert txn.hash == chain_hash(
            txn.previous_hash,
            canonical(id=txn.id, idempotency_key=txn.idempotency_key, posted_at=txn.posted_at,
                      effective_date=txn.effective_date, memo=txn.memo, cause_type=txn.cause_type,
                      cause_id=txn.cause_id, reverses_id=txn.reverses_id, legs=legs),
        )  # fmt: skip


@pytest.mark.django_db(transaction=True)  # committed history: no deferred check pending
def test_an_edited_amount_is_found(history, capsys):
    tamper("UPDATE ledger_posting SET amount = amount + 1 WHERE transaction_id = %s AND amount > 0", [history[1].id])
    code, output = run_verify(capsys)
    assert code == 1
    assert f"transaction #{history[1].id} does not balance in JPY" in output
    assert f"transaction #{history[1].id}: hash does not match its contents" in output


def test_a_balanced_edit_of_amounts_is_still_found_by_the_hash(history, capsys):
    tamper("UPDATE ledger_posting SET amount = amount * 2 WHERE transaction_id = %s", [history[2].id])
    code, output = run_verify(capsys)
    assert code == 1
    assert "does not balance" not in output
    assert f"transaction #{history[2].id}: hash does not match its contents" in output


def test_an_edited_memo_or_date_is_found(history, capsys):
    tamper("UPDATE ledger_journaltransaction SET memo = 'nothing to see' WHERE id = %s", [history[0].id])
    tamper("UPDATE ledger_journaltransaction SET effective_date = '2026-01-01' WHERE id = %s", [history[3].id])
    code, output = run_verify(capsys)
    assert code == 1
    assert f"transaction #{history[0].id}: hash does not match" in output
    assert f"transaction #{history[3].id}: hash does not match" in output


def test_a_rehashed_edit_is_found_by_the_next_link(history, capsys):
    """Someone who edits a row and recomputes its hash breaks the link to the next transaction."""
    victim = history[1]
    tamper("UPDATE ledger_journaltransaction SET memo = 'rewritten' WHERE id = %s", [victim.id])
    tamper(
        f"UPDATE ledger_journaltransaction t SET hash = {SQL_HASH} "  # noqa: S608
        f"FROM (SELECT transaction_id, {SQL_LEGS} AS legs FROM ledger_posting GROUP BY 1) p "
        "WHERE p.transaction_id = t.id AND t.id = %s",
        [victim.id],
    )
    code, output = run_verify(capsys)
    assert code == 1
    assert f"transaction #{victim.id + 1}: previous_hash does not match" in output


@pytest.mark.django_db(transaction=True)  # committed history: no deferred check pending
def test_a_deleted_transaction_is_found(history, capsys):
    tamper("DELETE FROM ledger_posting WHERE transaction_id = %s", [history[1].id])
    tamper("DELETE FROM ledger_journaltransaction WHERE id = %s", [history[1].id])
    code, output = run_verify(capsys)
    assert code == 1
    assert "a transaction is missing" in output


def test_a_posting_added_to_a_posted_transaction_is_found(history, accounts, capsys):
    tamper(
        "INSERT INTO ledger_posting (transaction_id, account_id, amount, currency) VALUES (%s, %s, 5, 'JPY'), "
        "(%s, %s, -5, 'JPY')",
        [history[0].id, accounts["bank"].id, history[0].id, accounts["commission"].id],
    )
    code, output = run_verify(capsys)
    assert code == 1
    assert f"transaction #{history[0].id}: hash does not match" in output


def test_a_posting_in_the_wrong_currency_is_found(history, capsys):
    tamper("UPDATE ledger_posting SET currency = 'USD' WHERE transaction_id = %s", [history[0].id])
    code, output = run_verify(capsys)
    assert code == 1
    assert "is in USD but account" in output


def test_a_stale_chain_head_is_found(history, capsys):
    tamper("UPDATE ledger_chainhead SET last_id = %s", [history[1].id])
    code, output = run_verify(capsys)
    assert code == 1
    assert "chain head" in output
    assert JournalTransaction.objects.count() == 4
