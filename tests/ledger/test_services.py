from __future__ import annotations

import threading
from datetime import date

import pytest
from django.db import connection, connections

from ledger.exceptions import IdempotencyConflict, LedgerError
from ledger.models import GENESIS_HASH, ChainHead, JournalTransaction, Posting
from ledger.money import Money
from ledger.selectors import account_balance
from ledger.services import Entry, account_get_or_create, journal_post, journal_post_bulk, journal_reverse
from ledger.verification import verify_ledger

pytestmark = pytest.mark.django_db

JPY = lambda n: Money(n, "JPY")  # noqa: E731


def pay(accounts, amount: int, key: str, **kwargs):
    return journal_post(
        legs=[(accounts["bank"], JPY(amount)), (accounts["payable"], JPY(-amount))], idempotency_key=key, **kwargs
    )


def test_post_writes_one_balanced_transaction_linked_to_its_cause(accounts):
    txn = pay(accounts, 1500, "k1", memo="royalty", cause_type="statement", cause_id="abc",
              effective_date=date(2026, 10, 31))  # fmt: skip
    assert txn.id == 1
    assert txn.previous_hash == GENESIS_HASH
    assert (txn.cause_type, txn.cause_id, txn.effective_date) == ("statement", "abc", date(2026, 10, 31))
    assert sorted(txn.postings.values_list("amount", flat=True)) == [-1500, 1500]
    assert account_balance(account=accounts["bank"]) == JPY(1500)
    assert account_balance(account=accounts["payable"]) == JPY(-1500)


def test_same_idempotency_key_returns_the_original_and_posts_nothing_twice(accounts):
    first = pay(accounts, 1500, "same-key")
    again = pay(accounts, 1500, "same-key", memo="a retry may differ in memo")
    assert again.pk == first.pk
    assert JournalTransaction.objects.count() == 1
    assert Posting.objects.count() == 2
    assert account_balance(account=accounts["bank"]) == JPY(1500)


def test_same_idempotency_key_with_other_postings_is_a_conflict(accounts):
    pay(accounts, 1500, "conflict-key")
    with pytest.raises(IdempotencyConflict):
        pay(accounts, 1501, "conflict-key")
    assert JournalTransaction.objects.count() == 1


@pytest.mark.parametrize(
    ("legs", "message"),
    [
        (lambda a: [(a["bank"], JPY(100))], "at least two"),
        (lambda a: [(a["bank"], JPY(100)), (a["payable"], JPY(-99))], "do not balance"),
        (lambda a: [(a["bank"], JPY(0)), (a["payable"], JPY(0))], "must not be zero"),
        (lambda a: [(a["bank"], Money(100, "USD")), (a["payable_usd"], Money(-100, "USD"))], "kept in JPY"),
        (lambda a: [(a["bank"], JPY(100)), (a["bank_usd"], Money(-100, "USD"))], "do not balance"),
    ],
)
def test_invalid_entries_are_refused_before_touching_the_database(accounts, legs, message):
    with pytest.raises(LedgerError, match=message):
        journal_post(legs=legs(accounts), idempotency_key="bad")
    assert JournalTransaction.objects.count() == 0


def test_an_empty_or_huge_idempotency_key_is_refused(accounts):
    for key in ("", "   ", "k" * 201):
        with pytest.raises(LedgerError, match="idempotency key"):
            pay(accounts, 1, key)


def test_multi_currency_transaction_balances_per_currency(accounts):
    txn = journal_post(
        legs=[
            (accounts["bank"], JPY(100)),
            (accounts["payable"], JPY(-100)),
            (accounts["bank_usd"], Money(250, "USD")),
            (accounts["payable_usd"], Money(-250, "USD")),
        ],
        idempotency_key="fx",
    )
    assert txn.postings.count() == 4


def test_bulk_posts_many_in_order_and_skips_known_keys(accounts, django_assert_max_num_queries):
    pay(accounts, 7, "bulk-0")
    entries = [
        Entry(idempotency_key=f"bulk-{i}", legs=[(accounts["bank"], JPY(7 if i == 0 else i)),
                                                 (accounts["payable"], JPY(-(7 if i == 0 else i)))])
        for i in range(0, 500)
    ]  # fmt: skip
    entries.append(entries[10])  # repeated within the batch
    with django_assert_max_num_queries(8):
        ids = journal_post_bulk(entries=entries)
    assert ids[0] == 1
    assert ids[1:500] == list(range(2, 501))
    assert ids[500] == ids[10]
    assert JournalTransaction.objects.count() == 500
    assert account_balance(account=accounts["bank"]) == JPY(7 + sum(range(1, 500)))
    assert journal_post_bulk(entries=entries) == ids  # a replay posts nothing
    assert JournalTransaction.objects.count() == 500
    assert verify_ledger().sound


def test_bulk_with_a_conflicting_key_posts_nothing(accounts):
    pay(accounts, 5, "c-0")
    entries = [
        Entry(idempotency_key="c-1", legs=[(accounts["bank"], JPY(1)), (accounts["payable"], JPY(-1))]),
        Entry(idempotency_key="c-0", legs=[(accounts["bank"], JPY(6)), (accounts["payable"], JPY(-6))]),
    ]
    with pytest.raises(IdempotencyConflict):
        journal_post_bulk(entries=entries)
    assert JournalTransaction.objects.count() == 1


def test_reverse_posts_the_mirror_image_linked_to_the_original(accounts):
    original = pay(accounts, 1200, "to-reverse", cause_type="payout", cause_id="p1")
    reversal = journal_reverse(original=original)
    assert reversal.reverses_id == original.id
    assert (reversal.cause_type, reversal.cause_id) == ("payout", "p1")
    assert sorted(reversal.postings.values_list("account_id", "amount")) == sorted(
        (account_id, -amount) for account_id, amount in original.postings.values_list("account_id", "amount")
    )
    assert account_balance(account=accounts["bank"]) == JPY(0)
    assert journal_reverse(original=original).pk == reversal.pk  # idempotent
    with pytest.raises(LedgerError, match="already reversed"):
        journal_reverse(original=original, idempotency_key="another key")
    assert JournalTransaction.objects.count() == 2


def test_chain_links_each_transaction_to_the_one_before(accounts):
    first = pay(accounts, 1, "chain-1")
    second = pay(accounts, 2, "chain-2")
    assert second.previous_hash == first.hash
    head = ChainHead.objects.get()
    assert (head.last_id, head.last_hash) == (second.id, second.hash)
    assert verify_ledger().sound


@pytest.mark.django_db(transaction=True)
def test_concurrent_posting_keeps_one_unbroken_chain_and_one_transaction_per_key(accounts):
    """8 threads, each with its own connection, post 25 transactions each; half the keys are shared."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            barrier.wait()
            for i in range(25):
                key = f"shared-{i}" if i % 2 == 0 else f"own-{n}-{i}"
                pay(accounts, 100 + i, key)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    shared, own = 13, 8 * 12
    assert JournalTransaction.objects.count() == shared + own
    assert list(JournalTransaction.objects.order_by("id").values_list("id", flat=True)) == list(
        range(1, shared + own + 1)
    )
    report = verify_ledger()
    assert report.sound, report.problems
    connection.close()


def test_accounts_in_bulk_are_the_accounts_one_at_a_time_would_give():
    import uuid

    from ledger.services import accounts_get_or_create_bulk

    owners = [uuid.uuid4() for _ in range(3)]
    first = account_get_or_create(purpose="rights_holder_payable", currency="JPY", owner_type="rights_holder",
                                  owner_id=owners[0])  # fmt: skip
    found = accounts_get_or_create_bulk(purpose="rights_holder_payable", currency="JPY", owner_type="rights_holder",
                                        owner_ids=owners)  # fmt: skip
    assert found[owners[0]].pk == first.pk
    for owner in owners[1:]:
        one = account_get_or_create(purpose="rights_holder_payable", currency="JPY", owner_type="rights_holder",
                                    owner_id=owner)  # fmt: skip
        assert (one.pk, one.code, one.kind, one.name) == (found[owner].pk, found[owner].code, found[owner].kind,
                                                          found[owner].name)  # fmt: skip
    assert found[owners[1]].code == f"rights_holder:{owners[1]}:rights_holder_payable:JPY"
