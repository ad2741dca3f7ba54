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
parent. A part never waits for a lock (`lock_timeout`: the request's transaction already holds the ones it needs,
and a lock queue PostgreSQL cannot see through the waiting thread would stall the tables): it fails instead, and
the caller runs it itself, as it does for any other failure of a part.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import psycopg
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

# The first statement of the request's transaction when it is split: the snapshot it exports stays fixed.
EXPORTING_TRANSACTION = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"
# What a part may take: no waiting for locks; at most as long as a web request is given.
PART_LOCK_TIMEOUT = "200ms"
PART_STATEMENT_TIMEOUT = "60s"
# A spare connection over TCP whose server has gone away unannounced fails within this (libpq's tcp_user_timeout).
PART_TCP_USER_TIMEOUT_MS = 10_000

_lock = threading.Lock()
_idle: list[tuple[psycopg.Connection, float]] = []  # (connection, monotonic time it was opened)
_inherited: list[psycopg.Connection] = []  # a forked child's copies of its parent's: never used, never closed
_executors: dict[int, ThreadPoolExecutor] = {}  # by size; an executor once made is never shut down under a caller


def _after_fork_in_child() -> None:
    """The parent's sockets are not ours to use or to close (closing would end the parent's sessions); the
    parent's threads did not survive the fork."""
    global _lock
    _lock = threading.Lock()
    _inherited.extend(conn for conn, _opened in _idle)
    _idle.clear()
    _executors.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _max_age() -> float | None:
    age = connections.settings[DEFAULT_DB_ALIAS].get("CONN_MAX_AGE", 0)
    return None if age is None else float(age)


def _acquire(params: dict, *, fresh: bool = False) -> tuple[psycopg.Connection, float, bool]:
    """An idle spare connection of this process (unless `fresh`), or a new one; with the time it was opened and
    whether it was reused."""
    max_age = _max_age()
    now = time.monotonic()
    with _lock:
        while _idle and not fresh:
            conn, opened = _idle.pop()
            if not (conn.closed or conn.broken or (max_age is not None and now - opened >= max_age)):
                return conn, opened, True
            conn.close()
    return psycopg.connect(**params), now, False


def _release(conn: psycopg.Connection, opened: float, *, usable: bool) -> None:
    """Keep a connection for the next part, unless it failed, is broken, too old, or still in a transaction."""
    idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE if not conn.closed else False
    if not usable or conn.broken or not idle or _max_age() == 0:
        conn.close()
        return
    with _lock:
        _idle.append((conn, opened))


def close_spare_connections() -> None:
    """Close this process's idle spare connections (the test suite, after each test)."""
    with _lock:
        idle = [conn for conn, _opened in _idle]
        _idle.clear()
    for conn in idle:
        conn.close()


def spare_connections() -> list[psycopg.Connection]:
    with _lock:
        return [conn for conn, _opened in _idle]


def connection_params() -> dict:
    """The default database's connection parameters, as Django would connect, with a client-side binding cursor
    (the statements are the ones Django's cursors run: `%(name)s` placeholders, literals the planner can count)."""
    params = connections[DEFAULT_DB_ALIAS].get_connection_params()
    params["cursor_factory"] = psycopg.ClientCursor
    params["autocommit"] = True
    params.setdefault("tcp_user_timeout", PART_TCP_USER_TIMEOUT_MS)  # ignored on a Unix socket
    return params


def _pool(size: int) -> ThreadPoolExecutor:
    with _lock:
        executor = _executors.get(size)
        if executor is None:
            executor = _executors[size] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="read-part")
        return executor


class Part:
    """A part sent to a spare connection: its rows (`result()`), or raises if it could not run there."""

    def __init__(self, future: Future, running: dict) -> None:
        self._future, self._running = future, running

    def result(self) -> list[tuple]:
        return self._future.result()

    def stop(self) -> None:
        """The request gave up: cancel the part's query if it is running, and wait until its thread let go."""
        self._future.cancel()
        conn = self._running.get("conn")
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):
                conn.cancel_safe(timeout=2.0)
        with contextlib.suppress(Exception):
            self._future.result(timeout=10.0)


def submit_part(
    *, params: dict, snapshot: str, settings: dict[str, str], query: str, query_params: dict, parts: int
) -> Part:
    """Run `query` with `query_params` in a thread on a spare connection, in a READ ONLY transaction reading
    `snapshot`, with the transaction-local `settings` (planner settings) in force. The transaction's start and the
    query go in one round trip (a client-side binding cursor sends several statements at once). A reused
    connection that turns out to be dead (a server restart, an idle timeout) is replaced once."""
    role = connections.settings[DEFAULT_DB_ALIAS]["OPTIONS"].get("assume_role")
    setup = sql.SQL("; ").join(
        [
            sql.SQL("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"),
            sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)),
            *([sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role))] if role else []),
            *(
                sql.SQL("SELECT set_config({}, {}, true)").format(sql.Literal(name), sql.Literal(value))
                for name, value in {
                    "lock_timeout": PART_LOCK_TIMEOUT,
                    "statement_timeout": PART_STATEMENT_TIMEOUT,
                    **settings,
                }.items()
            ),
        ]
    )
    running: dict = {}

    def run(conn: psycopg.Connection, opened: float, reused: bool) -> list[tuple]:
        running["conn"] = conn
        usable = False
        try:
            with conn.cursor() as cursor:
                cursor.execute(setup.as_string(conn).replace("%", "%%") + ";\n" + query, query_params)
                while cursor.nextset():  # to the last statement's result: the query's
                    pass
                rows = cursor.fetchall()
                cursor.execute("COMMIT")
            usable = True
            return rows
        except psycopg.OperationalError:
            if not (reused and conn.broken):  # (before it is closed: `broken` is False once it is)
                raise
        finally:
            running.pop("conn", None)
            _release(conn, opened, usable=usable)  # a part that failed closes its connection
        return run(*_acquire(params, fresh=True))  # the idle one had died unseen: once more, on a new one

    return Part(_pool(max(1, parts - 1)).submit(lambda: run(*_acquire(params))), running)
