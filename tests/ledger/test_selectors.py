from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.models import JournalTransaction
from ledger.money import Money
from ledger.selectors import account_balance, account_balances, trial_balance
from ledger.services import journal_post, journal_reverse
from ledger.verification import verify_ledger

pytestmark = pytest.mark.django_db


def post(accounts, debit, credit, amount, key, day, currency="JPY"):
    return journal_post(
        legs=[(accounts[debit], Money(amount, currency)), (accounts[credit], Money(-amount, currency))],
        idempotency_key=key,
        effective_date=date(2026, 10, day),
    )


def test_balance_as_of_a_date(accounts):
    post(accounts, "bank", "payable", 1000, "a", 1)
    post(accounts, "bank", "payable", 500, "b", 15)
    post(accounts, "payable", "bank", 200, "c", 31)
    assert account_balance(account=accounts["bank"], as_of=date(2026, 9, 30)) == Money(0, "JPY")
    assert account_balance(account=accounts["bank"], as_of=date(2026, 10, 1)) == Money(1000, "JPY")
    assert account_balance(account=accounts["bank"], as_of=date(2026, 10, 30)) == Money(1500, "JPY")
    assert account_balance(account=accounts["bank"]) == Money(1300, "JPY")


def test_balances_of_many_accounts_in_one_query(accounts, django_assert_num_queries):
    post(accounts, "bank", "payable", 1000, "a", 1)
    post(accounts, "bank_usd", "payable_usd", 1999, "b", 2, currency="USD")
    with django_assert_num_queries(2):
        balances = account_balances(accounts=list(accounts.values()))
    assert balances == {
        accounts["bank"].pk: Money(1000, "JPY"),
        accounts["payable"].pk: Money(-1000, "JPY"),
        accounts["commission"].pk: Money(0, "JPY"),
        accounts["bank_usd"].pk: Money(1999, "USD"),
        accounts["payable_usd"].pk: Money(-1999, "USD"),
    }


def test_trial_balance_per_currency(accounts):
    post(accounts, "bank", "payable", 1000, "a", 1)
    post(accounts, "payable", "commission", 100, "b", 2)
    post(accounts, "bank_usd", "payable_usd", 250, "c", 3, currency="USD")
    tb = trial_balance(as_of=date(2026, 10, 31))
    rows = {row.code: (row.debits, row.credits, row.balance) for row in tb.rows}
    assert rows[accounts["bank"].code] == (1000, 0, 1000)
    assert rows[accounts["payable"].code] == (100, 1000, -900)
    assert rows[accounts["commission"].code] == (0, 100, -100)
    assert tb.totals == {"JPY": (1100, 1100, 0), "USD": (250, 250, 0)}
    assert tb.balanced
    assert trial_balance(as_of=date(2026, 10, 1)).totals == {"JPY": (1000, 1000, 0)}
    assert len(trial_balance(include_empty=True).rows) == len(accounts)


ACCOUNT_NAMES = ["bank", "payable", "commission"]

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("post"),
            st.lists(
                st.tuples(st.sampled_from(ACCOUNT_NAMES), st.integers(min_value=1, max_value=10**12)),
                min_size=1,
                max_size=4,
            ),
            st.sampled_from(ACCOUNT_NAMES),
        ),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=50)),
        st.tuples(st.just("replay"), st.integers(min_value=0, max_value=50)),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_random_postings_and_reversals_keep_every_transaction_balanced(accounts, steps):
    posted: list[tuple[JournalTransaction, list]] = []
    for step in steps:
        if step[0] == "post":
            _, debits, credit_account = step
            legs = [(accounts[name], Money(amount, "JPY")) for name, amount in debits]
            legs.append((accounts[credit_account], Money(-sum(amount for _, amount in debits), "JPY")))
            key = f"p-{JournalTransaction.objects.count()}-{len(posted)}-{id(step)}"
            posted.append((journal_post(legs=legs, idempotency_key=key), legs))
        elif posted and step[0] == "reverse":
            original = posted[step[1] % len(posted)][0]
            if original.reverses_id is None:
                journal_reverse(original=original)
        elif posted and step[0] == "replay":
            original, legs = posted[step[1] % len(posted)]
            assert journal_post(legs=legs, idempotency_key=original.idempotency_key).pk == original.pk
    tb = trial_balance()
    assert tb.balanced, tb.totals
    report = verify_ledger()
    assert report.sound, report.problems
