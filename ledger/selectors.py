"""Reads that compute in the database: balances and the trial balance."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db import connection

from .models import Account
from .money import Money


@dataclass(frozen=True)
class BalanceRow:
    account_id: int
    code: str
    name: str
    kind: str
    currency: str
    debits: int  # minor units, ≥ 0
    credits: int  # minor units, ≥ 0

    @property
    def balance(self) -> int:
        """Debits − credits (positive: a debit balance)."""
        return self.debits - self.credits

    def money(self, value: int) -> Money:
        return Money(value, self.currency)


@dataclass(frozen=True)
class TrialBalance:
    as_of: date | None
    rows: list[BalanceRow]
    totals: dict[str, tuple[int, int, int]]  # currency → (debits, credits, balance)

    @property
    def balanced(self) -> bool:
        return all(debits == credits and balance == 0 for debits, credits, balance in self.totals.values())


_AS_OF = "AND t.effective_date <= %(as_of)s"


def account_balance(*, account: Account, as_of: date | None = None) -> Money:
    """Debits − credits of one account, over transactions effective on or before `as_of` (all when None)."""
    return account_balances(accounts=[account], as_of=as_of)[account.pk]


def account_balances(*, accounts: Iterable[Account | int], as_of: date | None = None) -> dict[int, Money]:
    """Balances of many accounts in one query; accounts without postings are zero."""
    ids = [a.pk if isinstance(a, Account) else a for a in accounts]
    currencies = dict(Account.objects.filter(pk__in=ids).values_list("pk", "currency"))
    sums: dict[int, int] = {}
    if ids:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT p.account_id, sum(p.amount)
                  FROM ledger_posting p
                  JOIN ledger_journaltransaction t ON t.id = p.transaction_id
                 WHERE p.account_id = ANY(%(ids)s) {_AS_OF if as_of else ""}
                 GROUP BY p.account_id
                """,  # noqa: S608 (constant fragments only)
                {"ids": ids, "as_of": as_of},
            )
            sums = {account_id: int(total) for account_id, total in cursor.fetchall()}
    return {pk: Money(sums.get(pk, 0), currencies[pk]) for pk in ids if pk in currencies}


def trial_balance(*, as_of: date | None = None, include_empty: bool = False) -> TrialBalance:
    """Per account: debits, credits, balance; per currency the totals (balance zero when the books are sound)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT a.id, a.code, a.name, a.kind, a.currency,
                   coalesce(s.debits, 0), coalesce(s.credits, 0)
              FROM ledger_account a
              {"LEFT" if include_empty else ""} JOIN (
                    SELECT p.account_id,
                           sum(p.amount) FILTER (WHERE p.amount > 0) AS debits,
                           -sum(p.amount) FILTER (WHERE p.amount < 0) AS credits
                      FROM ledger_posting p
                      JOIN ledger_journaltransaction t ON t.id = p.transaction_id
                     WHERE true {_AS_OF if as_of else ""}
                     GROUP BY p.account_id
                   ) s ON s.account_id = a.id
             ORDER BY a.currency, a.code
            """,  # noqa: S608 (constant fragments only)
            {"as_of": as_of},
        )
        rows = [BalanceRow(r[0], r[1], r[2], r[3], r[4], int(r[5]), int(r[6])) for r in cursor.fetchall()]
    totals: dict[str, tuple[int, int, int]] = {}
    for row in rows:
        debits, credits, balance = totals.get(row.currency, (0, 0, 0))
        totals[row.currency] = (debits + row.debits, credits + row.credits, balance + row.balance)
    return TrialBalance(as_of=as_of, rows=rows, totals=totals)
