"""Transaction-level PostgreSQL advisory locks named by a text key (hashtextextended(key, 0)): held until the
transaction ends, never released by hand. One place for what the payouts app serializes: a period's runs and
finalizing, a split run's parts and its assembly, a contract's advances, a currency's payout batches."""

from __future__ import annotations

from django.db import OperationalError, connection, transaction


def xact_lock(key: str, *, shared: bool = False, wait: bool = True, timeout: float | None = None) -> bool:
    """Takes the lock named `key` (shared: with other shared holders) for the current transaction, waiting for it
    (at most `timeout` seconds when given), or (wait=False) only if it is free: whether it was taken."""
    function = f"pg_{'' if wait else 'try_'}advisory_xact_lock{'_shared' if shared else ''}"
    sql = f"SELECT {function}(hashtextextended(%s, 0))"
    if wait and timeout is not None:
        return lock_within(sql, [key], timeout)
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        return wait or bool(cursor.fetchone()[0])


def lock_within(sql: str, params: list, timeout: float) -> bool:
    """Runs `sql`, a statement that waits for a lock, under a lock_timeout of `timeout` seconds: whether it got the
    lock. In a savepoint (the timeout's error leaves the transaction usable); the session's own lock_timeout is put
    back after. Any error but the timeout is raised."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        before = cursor.fetchone()[0]
        try:
            with transaction.atomic():
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{max(1, int(timeout * 1000))}ms"])
                cursor.execute(sql, params)
        except OperationalError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            return False
        finally:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [before])
    return True
