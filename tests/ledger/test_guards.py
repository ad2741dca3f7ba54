"""PostgreSQL itself refuses what would break the ledger, whoever writes: raw SQL here, no Python in the way."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from ledger.models import JournalTransaction, Posting
from ledger.money import Money
from ledger.services import journal_post

TXN_INSERT = (
    "INSERT INTO ledger_journaltransaction (id, posted_at, effective_date, memo, idempotency_key, cause_type, "
    "cause_id, previous_hash, hash) VALUES (%s, now(), current_date, '', %s, '', '', repeat('0', 64), %s)"
)
POSTING_INSERT = "INSERT INTO ledger_posting (transaction_id, account_id, amount, currency) VALUES (%s, %s, %s, %s)"


def sql(statement: str, params=None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


@pytest.mark.django_db(transaction=True)
def test_unbalanced_transaction_inserted_with_raw_sql_fails_at_commit(accounts):
    bank, payable = accounts["bank"], accounts["payable"]
    statements_ran = False
    with pytest.raises(IntegrityError, match="does not balance in JPY"), transaction.atomic():  # noqa: PT012
        sql(TXN_INSERT, [900001, "raw-unbalanced", "a" * 64])
        sql(POSTING_INSERT, [900001, bank.id, 1000, "JPY"])
        sql(POSTING_INSERT, [900001, payable.id, -999, "JPY"])
        statements_ran = True  # every statement was accepted: the check waits for COMMIT
    assert statements_ran
    assert not JournalTransaction.objects.filter(pk=900001).exists()
    assert not Posting.objects.filter(transaction_id=900001).exists()


@pytest.mark.django_db(transaction=True)
def test_balanced_transaction_inserted_leg_by_leg_commits(accounts):
    bank, payable = accounts["bank"], accounts["payable"]
    with transaction.atomic():
        sql(TXN_INSERT, [900002, "raw-balanced", "b" * 64])
        sql(POSTING_INSERT, [900002, bank.id, 1000, "JPY"])
        sql(POSTING_INSERT, [900002, payable.id, -1000, "JPY"])
    assert Posting.objects.filter(transaction_id=900002).count() == 2


@pytest.mark.django_db(transaction=True)
def test_balance_is_per_currency(accounts):
    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():  # noqa: PT012
        sql(TXN_INSERT, [900003, "raw-mixed", "c" * 64])
        sql(POSTING_INSERT, [900003, accounts["bank"].id, 100, "JPY"])
        sql(POSTING_INSERT, [900003, accounts["bank_usd"].id, -100, "USD"])


@pytest.mark.django_db(transaction=True)
def test_transaction_without_postings_fails_at_commit(accounts):
    with pytest.raises(IntegrityError, match="fewer than two postings"), transaction.atomic():
        sql(TXN_INSERT, [900004, "raw-empty", "d" * 64])


@pytest.mark.django_db
def test_posting_in_another_currency_than_its_account_is_refused(accounts):
    sql(TXN_INSERT, [900005, "raw-currency", "e" * 64])
    with pytest.raises(IntegrityError, match="ledger_posting_currency_of_account"):
        sql(POSTING_INSERT, [900005, accounts["bank"].id, 100, "USD"])


@pytest.mark.django_db
def test_zero_posting_is_refused(accounts):
    sql(TXN_INSERT, [900006, "raw-zero", "f" * 64])
    with pytest.raises(IntegrityError, match="amount_not_zero"):
        sql(POSTING_INSERT, [900006, accounts["bank"].id, 0, "JPY"])


@pytest.fixture
def posted(accounts):
    return journal_post(
        legs=[(accounts["bank"], Money(5000, "JPY")), (accounts["payable"], Money(-5000, "JPY"))],
        idempotency_key="guard-test",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_posting SET amount = amount * 2",
        "UPDATE ledger_posting SET account_id = account_id",
        "DELETE FROM ledger_posting",
        "UPDATE ledger_journaltransaction SET memo = 'edited'",
        "DELETE FROM ledger_journaltransaction",
    ],
)
def test_posted_rows_cannot_be_updated_or_deleted(posted, statement):
    with pytest.raises(IntegrityError, match="immutable"):
        sql(statement)


@pytest.mark.django_db
def test_duplicate_idempotency_key_is_refused_by_the_database(posted):
    with pytest.raises(IntegrityError, match="idempotency_key"):
        sql(TXN_INSERT, [900007, "guard-test", "g" * 64])


@pytest.mark.django_db
def test_chain_head_cannot_move_back_or_point_anywhere(posted):
    with pytest.raises(IntegrityError, match="only moves forward"), transaction.atomic():
        sql("UPDATE ledger_chainhead SET last_id = 0")
    with pytest.raises(IntegrityError, match="must name the last transaction"), transaction.atomic():
        sql("UPDATE ledger_chainhead SET last_hash = repeat('9', 64)")
    with pytest.raises(IntegrityError, match="only moves forward"), transaction.atomic():
        sql("DELETE FROM ledger_chainhead")


@pytest.mark.django_db
def test_a_transaction_is_reversed_at_most_once(posted, accounts):
    sql(TXN_INSERT.replace("previous_hash,", "reverses_id, previous_hash,").replace("'', repeat", "'', %s, repeat"),
        [900008, "rev-1", posted.id, "h" * 64])  # fmt: skip
    with pytest.raises(IntegrityError, match="reversed_once"):
        sql(
            TXN_INSERT.replace("previous_hash,", "reverses_id, previous_hash,").replace("'', repeat", "'', %s, repeat"),
            [900009, "rev-2", posted.id, "i" * 64],
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("table", ["ledger_posting", "ledger_journaltransaction", "ledger_chainhead"])
def test_truncate_is_refused_outside_a_test_database(posted, table):
    with pytest.raises(IntegrityError, match=r"TRUNCATE of \w+ refused"), transaction.atomic():  # noqa: PT012
        sql("SET LOCAL ledger.allow_truncate = 'off'")
        sql(f"TRUNCATE {table} CASCADE")
    assert Posting.objects.count() == 2
