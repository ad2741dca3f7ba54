"""Checks every invariant of the ledger from the stored rows alone, in set-based SQL (`verify_ledger`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from .chain import SQL_HASH, SQL_LEGS
from .models import GENESIS_HASH

SAMPLE = 20  # problems listed per kind


@dataclass
class Report:
    transactions: int = 0
    postings: int = 0
    accounts: int = 0
    problems: dict[str, list[str]] = field(default_factory=dict)

    @property
    def sound(self) -> bool:
        return not self.problems

    def add(self, kind: str, rows: list[str]) -> None:
        if rows:
            self.problems.setdefault(kind, []).extend(rows)


def _rows(sql: str, params: list | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchall()


def verify_ledger() -> Report:
    report = Report()
    ((report.transactions, report.postings, report.accounts),) = _rows(
        "SELECT (SELECT count(*) FROM ledger_journaltransaction), (SELECT count(*) FROM ledger_posting), "
        "(SELECT count(*) FROM ledger_account)"
    )
    report.add(
        "unbalanced",
        [
            f"transaction #{txn} does not balance in {cur}: postings sum to {total}"
            for txn, cur, total in _rows(
                "SELECT transaction_id, currency, sum(amount) FROM ledger_posting GROUP BY 1, 2 "
                "HAVING sum(amount) <> 0 ORDER BY 1, 2 LIMIT %s",
                [SAMPLE],
            )
        ],
    )
    report.add(
        "too few postings",
        [
            f"transaction #{txn} has {n} posting(s)"
            for txn, n in _rows(
                "SELECT t.id, count(p.id) FROM ledger_journaltransaction t "
                "LEFT JOIN ledger_posting p ON p.transaction_id = t.id GROUP BY t.id HAVING count(p.id) < 2 "
                "ORDER BY t.id LIMIT %s",
                [SAMPLE],
            )
        ],
    )
    report.add(
        "zero postings",
        [f"posting {pid} of transaction #{txn} is zero" for pid, txn in _rows(
            "SELECT id, transaction_id FROM ledger_posting WHERE amount = 0 ORDER BY id LIMIT %s", [SAMPLE]
        )],
    )  # fmt: skip
    report.add(
        "currency mismatch",
        [
            f"posting {pid} of transaction #{txn} is in {pcur} but account {code} is kept in {acur}"
            for pid, txn, pcur, code, acur in _rows(
                "SELECT p.id, p.transaction_id, p.currency, a.code, a.currency FROM ledger_posting p "
                "JOIN ledger_account a ON a.id = p.account_id WHERE p.currency <> a.currency "
                "ORDER BY p.id LIMIT %s",
                [SAMPLE],
            )
        ],
    )
    # The chain: ids run 1..N without gaps, each previous_hash is the hash before it, each hash recomputes.
    report.add(
        "hash chain",
        [
            f"transaction #{txn}: {reason}"
            for txn, reason in _rows(
                f"""
                WITH legs AS (
                    SELECT transaction_id, {SQL_LEGS} AS legs FROM ledger_posting GROUP BY transaction_id
                ), chain AS (
                    SELECT t.id,
                           row_number() OVER (ORDER BY t.id) AS position,
                           t.previous_hash,
                           lag(t.hash, 1, %s) OVER (ORDER BY t.id) AS expected_previous,
                           t.hash,
                           {SQL_HASH} AS recomputed
                      FROM ledger_journaltransaction t
                      LEFT JOIN legs p ON p.transaction_id = t.id
                )
                SELECT id, CASE
                         WHEN id <> position THEN 'chain position is ' || position || ' (a transaction is missing)'
                         WHEN previous_hash <> expected_previous
                           THEN 'previous_hash does not match the transaction before'
                         ELSE 'hash does not match its contents (edited after posting)'
                       END
                  FROM chain
                 WHERE id <> position OR previous_hash <> expected_previous OR hash <> recomputed
                 ORDER BY id
                 LIMIT %s
                """,  # noqa: S608 (constant fragments only)
                [GENESIS_HASH, SAMPLE],
            )
        ],
    )
    head = _rows(
        "SELECT h.last_id, h.last_hash, t.id, t.hash FROM ledger_chainhead h "
        "LEFT JOIN LATERAL (SELECT id, hash FROM ledger_journaltransaction ORDER BY id DESC LIMIT 1) t ON true"
    )
    if not head:
        report.add("chain head", ["the chain head row is missing"])
    else:
        last_id, last_hash, txn_id, txn_hash = head[0]
        if (last_id, last_hash) != (txn_id or 0, txn_hash or GENESIS_HASH):
            report.add(
                "chain head",
                [f"the chain head names #{last_id} {last_hash[:12]}… but the last transaction is #{txn_id}"],
            )
    return report
