"""A run split across workers when its tasks are delivered twice at the same time (a redelivered dispatcher sends
the chord again while the first one runs): the world of test_engine.py, on connections of their own (committed
data: transactional tests)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from payouts import engine, tasks
from payouts.models import RoyaltyStage, Statement, StatementRun

from .test_engine import OCTOBER, figures, october_usage, run, world  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def split_run(world):  # noqa: F811
    october_usage(world)
    single = {s.rights_holder_id: figures(s) for s in run(OCTOBER).statements.all()}
    split = StatementRun.objects.create(period=OCTOBER, agreements_total=1, status="running",
                                        usage_mark=engine.usage_mark(OCTOBER))  # fmt: skip
    return split, single


def waiting_for_a_lock(seconds: float = 10) -> bool:
    """Whether a backend waits for an advisory lock within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


def test_one_part_delivered_twice_at_once_stages_its_lines_once(world):  # noqa: F811
    """The second waits for the first (the part's lock), then replaces its rows: without the lock, each DELETE
    misses the other's rows not yet committed, and the run is assembled with every amount twice."""
    split, single = split_run(world)
    ids = [str(world["agreement"].pk)]
    paused, release, written, errors = threading.Event(), threading.Event(), [], []

    def pause_before_commit(execute, sql, params, many, context):
        if sql.startswith("DROP TABLE payouts_royalty"):  # its rows staged, not committed yet
            paused.set()
            release.wait(timeout=30)
        return execute(sql, params, many, context)

    def part(pause: bool) -> None:
        try:
            if pause:
                with connection.execute_wrapper(pause_before_commit):
                    written.append(engine.statement_run_compute_part(run=split, part=0, agreement_ids=ids))
            else:
                written.append(engine.statement_run_compute_part(run=split, part=0, agreement_ids=ids))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    first = threading.Thread(target=part, args=(True,))
    first.start()
    assert paused.wait(timeout=30)
    second = threading.Thread(target=part, args=(False,))
    second.start()
    assert waiting_for_a_lock()  # the second delivery waits for the first
    release.set()
    first.join(timeout=60)
    second.join(timeout=60)
    assert not errors
    assert written == [9 // 3, 9 // 3]  # 3 royalty lines each
    assert RoyaltyStage.objects.filter(run=split).count() == 3
    done = engine.statement_run_assemble(run=StatementRun.objects.get(pk=split.pk))
    assert (done.status, done.lines_written) == ("done", 9)
    assert {s.rights_holder_id: figures(s) for s in Statement.objects.filter(run=split)} == single


def test_the_callback_delivered_again_while_the_first_assembles_waits_and_finds_the_run_done(world):  # noqa: F811
    """The first assembly holds the run's lock and the period's (another connection here); the second waits for
    the run's lock, then finds the run done: it neither fails for the period's lock nor marks the run failed."""
    split, _ = split_run(world)
    engine.statement_run_compute_part(run=split, part=0, agreement_ids=[str(world["agreement"].pk)])
    first = connections.create_connection("default")
    first.set_autocommit(False)
    with first.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"payouts-run:{split.pk}"])
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [engine.period_lock_key(OCTOBER)])
    outcome = {}

    def second() -> None:
        try:
            outcome["result"] = tasks.assemble_statement_run.apply(args=[str(split.pk)])
        finally:
            connections.close_all()

    thread = threading.Thread(target=second)
    try:
        thread.start()
        assert waiting_for_a_lock()
        with first.cursor() as cursor:  # the first assembly ends
            cursor.execute("UPDATE payouts_statementrun SET status = 'done', step = '' WHERE id = %s", [split.pk])
        first.commit()
        thread.join(timeout=60)
    finally:
        first.close()
    assert outcome["result"].successful()
    split.refresh_from_db()
    assert (split.status, split.error) == ("done", "")
    assert RoyaltyStage.objects.filter(run=split).count() == 3  # untouched: the second did nothing


def test_finalizing_while_the_month_is_held_answers_409_in_bounded_time_and_changes_nothing(
    world,  # noqa: F811
    staff_client,
    settings,
):
    """A run of the month computing (here: its lock held by another session) makes finalizing wait at most half of
    FINALIZE_WAIT_SECONDS, then answer 409 problem+json: never a request left hanging until the web worker's
    timeout. A month held for less than that is waited for, and the same call finalizes."""
    import psycopg
    from django.db import connection as django_connection

    settings.FINALIZE_WAIT_SECONDS = 1.0
    october_usage(world)
    done = run(OCTOBER)
    params = django_connection.get_connection_params()
    with psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context")}) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [engine.period_lock_key(OCTOBER)])
        answers: list = []

        def finalize() -> None:
            try:
                started = time.monotonic()
                answers.append(staff_client.post(f"/api/v1/statement-runs/{done.pk}/finalize"))
                answers.append(time.monotonic() - started)
            finally:
                connections.close_all()  # this thread's own

        request = threading.Thread(target=finalize, daemon=True)
        request.start()
        request.join(timeout=10)
        assert not request.is_alive(), "finalizing still waits for the month after 10 s"
        response, waited = answers
        assert response.status_code == 409, response.content
        assert response["Content-Type"].startswith("application/problem+json")
        assert "2026-10" in response.json()["detail"]
        assert 0.4 <= waited < 5
        assert set(Statement.objects.values_list("status", flat=True)) == {"draft"}
    settings.FINALIZE_WAIT_SECONDS = 8.0
    with psycopg.connect(**{k: v for k, v in params.items() if k not in ("cursor_factory", "context")}) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [engine.period_lock_key(OCTOBER)])
        threading.Timer(0.5, lambda: holder.execute("SELECT pg_advisory_unlock_all()")).start()
        started = time.monotonic()
        response = staff_client.post(f"/api/v1/statement-runs/{done.pk}/finalize")  # waits for the month, in time
        assert time.monotonic() - started >= 0.4
    assert response.status_code == 200, response.content
    assert set(Statement.objects.values_list("status", flat=True)) == {"final"}
