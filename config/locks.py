"""Transaction-level PostgreSQL advisory locks named by a text key (hashtextextended(key, 0)): held until the
transaction ends, never released by hand. One place for what the payouts app serializes: a period's runs and
finalizing, a split run's parts and its assembly, a contract's advances, a currency's payout batches."""

from __future__ import annotations

from django.db import connection


def xact_lock(key: str, *, shared: bool = False, wait: bool = True) -> bool:
    """Takes the lock named `key` (shared: with other shared holders) for the current transaction, waiting for it,
    or (wait=False) only if it is free: whether it was taken."""
    function = f"pg_{'' if wait else 'try_'}advisory_xact_lock{'_shared' if shared else ''}"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(hashtextextended(%s, 0))", [key])
        return wait or bool(cursor.fetchone()[0])
