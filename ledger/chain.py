"""The hash chain: `hash = sha256(previous_hash + canonical form)`, computed here when posting and recomputed
in SQL by `verify_ledger`. The two forms below must stay identical; `tests/ledger` checks that they agree."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _field(value: str) -> str:
    return f"{len(value)}:{value}"


def canonical(
    *,
    id: int,
    idempotency_key: str,
    posted_at: datetime,
    effective_date: date,
    memo: str,
    cause_type: str,
    cause_id: str,
    reverses_id: int | None,
    legs: Iterable[tuple[int, str, int]],
) -> str:
    """Version 1. Legs are (account_id, currency, amount), ordered by account, amount, currency."""
    ordered = sorted(legs, key=lambda leg: (leg[0], leg[2], leg[1]))
    return "|".join(
        [
            "v1",
            str(id),
            _field(idempotency_key),
            str((posted_at - EPOCH) // _MICROSECOND),
            effective_date.isoformat(),
            _field(memo),
            _field(cause_type),
            _field(cause_id),
            str(reverses_id or 0),
            ";".join(f"{account_id},{currency},{amount}" for account_id, currency, amount in ordered),
        ]
    )


def chain_hash(previous_hash: str, canonical_form: str) -> str:
    return hashlib.sha256((previous_hash + canonical_form).encode("utf-8")).hexdigest()


# The same canonical form in SQL, over `ledger_journaltransaction t` and the aggregated legs `p.legs`.
SQL_CANONICAL = """
concat_ws('|',
    'v1',
    t.id::text,
    char_length(t.idempotency_key) || ':' || t.idempotency_key,
    (extract(epoch FROM t.posted_at) * 1000000)::bigint::text,
    to_char(t.effective_date, 'YYYY-MM-DD'),
    char_length(t.memo) || ':' || t.memo,
    char_length(t.cause_type) || ':' || t.cause_type,
    char_length(t.cause_id) || ':' || t.cause_id,
    coalesce(t.reverses_id, 0)::text,
    coalesce(p.legs, '')
)
"""

SQL_LEGS = (
    "string_agg(account_id::text || ',' || currency || ',' || amount::text, ';' ORDER BY account_id, amount, currency)"
)
SQL_HASH = f"encode(sha256(convert_to(t.previous_hash || {SQL_CANONICAL}, 'UTF8')), 'hex')"
