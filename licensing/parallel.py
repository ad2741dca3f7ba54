"""A large read split into parts that run side by side on several PostgreSQL backends, all reading one snapshot.

PostgreSQL parallelises a scan of a table, not the index probes a clearance is made of (10,000 references resolved
and their works' facts read one probe each), and its parallel workers cannot run the CTEs the clearance is built
from. So a large clearance is split by the caller: the request's own connection opens a REPEATABLE READ, READ ONLY
transaction and exports its snapshot (`pg_export_snapshot()`); each further part runs in a thread of this process
on a spare connection that imports that snapshot (`SET TRANSACTION SNAPSHOT`) before it reads. Every part sees the
database exactly as the request's transaction does: the answer is the one a single statement would give.

The spare connections are this process's own (not Django's, which are per thread and closed only at the end of a
request): opened on first use with the default database's parameters, kept idle for reuse up to CONN_MAX_AGE,
dropped when broken, closed by `close_spare_connections()`. A process forked with some open leaves them to its
parent. A part that fails on its spare connection for a database reason is run again by the caller on its own.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

# The first statement of the request's transaction when it is split: the snapshot it exports stays fixed.
EXPORTING_TRANSACTION = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"

_lock = threading.Lock()
_idle: list[tuple[psycopg.Connection, float]] = []  # (connection, monotonic time it was opened)
_inherited: list[psycopg.Connection] = []  # a forked child's copies of its parent's: never used, never closed
_executor: ThreadPoolExecutor | None = None
_executor_size = 0


def _after_fork_in_child() -> None:
    """The parent's sockets are not ours to use or to close (closing would end the parent's sessions); the
    parent's threads did not survive the fork."""
    global _executor, _executor_size
    _inherited.extend(conn for conn, _opened in _idle)
    _idle.clear()
    _executor, _executor_size = None, 0


os.register_at_fork(after_in_child=_after_fork_in_child)


def _max_age() -> float | None:
    age = connections.settings[DEFAULT_DB_ALIAS].get("CONN_MAX_AGE", 0)
    return None if age is None else float(age)


def _acquire(params: dict) -> tuple[psycopg.Connection, float]:
    """An idle spare connection of this process, or a new one; with the time it was opened."""
    max_age = _max_age()
    now = time.monotonic()
    with _lock:
        while _idle:
            conn, opened = _idle.pop()
            if not (conn.closed or conn.broken or (max_age is not None and now - opened >= max_age)):
                return conn, opened
            conn.close()
    return psycopg.connect(**params), now


def _release(conn: psycopg.Connection, opened: float, *, usable: bool) -> None:
    """Keep a connection for the next part, unless it failed, is broken, too old, or still in a transaction."""
    idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE if not conn.closed else False
    if not usable or conn.broken or not idle or _max_age() == 0:
        conn.close()
        return
    with _lock:
        _idle.append((conn, opened))


def close_spare_connections() -> None:
    """Close this process's idle spare connections (tests, shutdown)."""
    with _lock:
        idle = [conn for conn, _opened in _idle]
        _idle.clear()
    for conn in idle:
        conn.close()


def spare_connection_count() -> int:
    with _lock:
        return len(_idle)


def connection_params() -> dict:
    """The default database's connection parameters, as Django would connect, with a client-side binding cursor
    (the statements are the ones Django's cursors run: `%(name)s` placeholders, literals the planner can count)."""
    params = connections[DEFAULT_DB_ALIAS].get_connection_params()
    params.pop("pool", None)
    params["cursor_factory"] = psycopg.ClientCursor
    params["autocommit"] = True
    return params


def _pool(size: int) -> ThreadPoolExecutor:
    global _executor, _executor_size
    with _lock:
        if _executor is None or _executor_size < size:
            old = _executor
            _executor, _executor_size = ThreadPoolExecutor(max_workers=size, thread_name_prefix="read-part"), size
            if old is not None:
                old.shutdown(wait=False)
        return _executor


def submit_part(
    *, params: dict, snapshot: str, settings: dict[str, str], query: str, query_params: dict, parts: int
) -> Future:
    """Run `query` with `query_params` in a thread on a spare connection, in a READ ONLY transaction reading
    `snapshot`, with the transaction-local `settings` (planner settings) in force; the future gives its rows, or
    raises psycopg.Error if the part could not run there (the caller runs it itself). The transaction's start and
    the query go in one round trip (a client-side binding cursor sends several statements at once)."""
    setup = sql.SQL("; ").join(
        [
            sql.SQL("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
            sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)),
            *(
                sql.SQL("SELECT set_config({}, {}, true)").format(sql.Literal(name), sql.Literal(value))
                for name, value in settings.items()
            ),
        ]
    )

    def task() -> list[tuple]:
        conn, opened = _acquire(params)
        usable = False
        try:
            with conn.cursor() as cursor:
                statements = setup.as_string(conn).replace("%", "%%") + ";\n" + query
                cursor.execute(statements, query_params)
                while cursor.nextset():  # to the last statement's result: the query's
                    pass
                rows = cursor.fetchall()
                cursor.execute("COMMIT")
            usable = True
            return rows
        finally:
            _release(conn, opened, usable=usable)  # a part that failed closes its connection

    return _pool(max(1, parts - 1)).submit(task)
