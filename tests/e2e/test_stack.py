"""End to end: a real server, a real Celery worker, real Redis and PostgreSQL."""

from __future__ import annotations

import pytest
import requests

from config.celery import ping

from .conftest import insert_usage

pytestmark = pytest.mark.e2e


def test_healthz_reports_database_redis_and_worker(stack):
    response = stack.wait_for("/healthz")
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is True
    assert body["checks"]["worker"]["workers"]


def test_healthz_is_503_when_no_worker_answers(stack):
    stack.wait_for("/healthz")
    stack.stop("worker")
    response = requests.get(stack.base_url + "/healthz", timeout=10)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    # the database and Redis alone still answer 200 (the web container's own health check)
    assert requests.get(stack.base_url + "/healthz?check=database,redis", timeout=10).status_code == 200


def test_a_task_sent_through_redis_is_run_by_the_worker_process(stack):
    stack.wait_for("/healthz")
    result = ping.delay("executed by a real worker")
    assert result.get(timeout=60) == "executed by a real worker"
    assert "config.ping" in stack.log("worker")


def test_api_over_http_answers_problem_json(stack):
    stack.wait_for("/healthz?check=database")
    response = requests.get(stack.base_url + "/api/v1/", timeout=10)
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    response = requests.post(
        stack.base_url + "/api/v1/me/keys",
        data=b"\xff\xfe not json",
        headers={"Content-Type": "application/json", "Authorization": "Bearer x.y"},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["status"] == 401


def test_a_large_usage_report_is_processed_by_the_worker(stack):
    import time
    import uuid

    import orjson

    from licensing.models import Agreement, UsageEvent
    from licensing.services import api_key_create
    from tests.licensing.factories import LicenseeFactory, RightsHolderFactory, work_with_shares

    work = work_with_shares((RightsHolderFactory(), "100.00"))
    licensee = LicenseeFactory(country="JP")
    agreement = Agreement.objects.create(
        licensee=licensee, reference="E2E", currency="JPY", starts_on="2026-01-01", territories=["*"],
        uses=["generation"], scope_catalogue=True, status="active",
    )  # fmt: skip
    _, key = api_key_create(name="e2e", licensee=licensee)
    lines = b"".join(
        orjson.dumps({"work": str(work.pk), "use": "generation", "quantity": n, "occurred_on": "2026-10-03",
                      "model": "video-model-2"}) + b"\n"
        for n in range(1, 101)
    )  # fmt: skip
    stack.wait_for("/healthz")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson",
               "Idempotency-Key": str(uuid.uuid4())}  # fmt: skip
    response = requests.post(f"{stack.base_url}/api/v1/usage-reports?period=2026-10", data=lines, headers=headers,
                             timeout=30)  # fmt: skip
    assert response.status_code == 202, response.text
    report = response.json()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        report = requests.get(
            f"{stack.base_url}/api/v1/usage-reports/{report['id']}", headers=headers, timeout=10
        ).json()
        if report["status"] != "processing":
            break
        time.sleep(0.3)
    assert (report["status"], report["events_accepted"]) == ("accepted", 100), report
    assert UsageEvent.objects.filter(agreement=agreement).count() == 100
    assert "licensing.process_usage_report" in stack.log("worker")


def largest_remainder(amount: int, shares) -> list[tuple]:
    """amount split by shares (holder, percent) in whole units: the floors, then a unit each to the largest
    remainders, ties to the larger share, then the lower holder id (RULES.md 3)."""
    parts = {holder: amount * percent // 100 for holder, percent in shares}
    order = sorted(shares, key=lambda share: (-(amount * share[1] % 100), -share[1], str(share[0])))
    for holder, _ in order[: amount - sum(parts.values())]:
        parts[holder] += 1
    return list(parts.items())


class StatementWorld:
    """60 works split 60/40 among 3 holders, 40 agreements (per_unit 1.5 on training, commission 10 %), 400,000
    events in 2026-10 (long enough a run to kill in its middle), and a staff API key."""

    def __init__(self, stack) -> None:
        import datetime as dt

        from django.contrib.auth import get_user_model

        from licensing.roles import STAFF, role_group
        from licensing.services import api_key_create
        from tests.licensing.factories import LicenseeFactory, RightsHolderFactory, training_agreement, work_with_shares

        self.stack = stack
        self.holders = [RightsHolderFactory() for _ in range(3)]
        self.works = [
            work_with_shares((self.holders[n % 3], "60.00"), (self.holders[(n + 1) % 3], "40.00")) for n in range(60)
        ]
        licensee = LicenseeFactory()
        agreements = [training_agreement(licensee, f"E2E-{n}", "1.5") for n in range(40)]
        self.period = dt.date(2026, 10, 1)
        insert_usage(self.period, licensee, self.works, agreements, 400_000, quantities=7, models=5)
        user = get_user_model().objects.create_user("e2e-staff", password="pw-e2e-staff-1", is_staff=True)
        user.groups.add(role_group(STAFF))
        _, key = api_key_create(name="e2e", user=user)
        self.headers = {"Authorization": f"Bearer {key}"}
        stack.wait_for("/healthz")

    def start_run(self) -> str:
        response = requests.post(f"{self.stack.base_url}/api/v1/statement-runs", json={"period": "2026-10"},
                                 headers=self.headers, timeout=30)  # fmt: skip
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def run_status(self, run_id: str) -> dict:
        return requests.get(f"{self.stack.base_url}/api/v1/statement-runs/{run_id}", headers=self.headers,
                            timeout=10).json()  # fmt: skip

    def wait_until(self, run_id: str, statuses: tuple[str, ...], timeout: float) -> dict:
        import time

        deadline = time.monotonic() + timeout
        while (state := self.run_status(run_id))["status"] not in statuses:
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        return state

    def finalize(self, run_id: str) -> None:
        for _ in range(2):  # the second posts nothing
            final = requests.post(f"{self.stack.base_url}/api/v1/statement-runs/{run_id}/finalize",
                                  headers=self.headers, timeout=60)  # fmt: skip
            assert final.status_code == 200, final.text

    def assert_books_tie_out(self, run_id: str) -> None:
        """verify_ledger clean, and every statement (gross, commission, net) and invoice equal to the raw usage
        grouped, priced and split (largest remainder, 60/40) here: each (agreement, work) line's gross rounded
        half-up once, its commission (10 %) likewise."""
        from collections import defaultdict
        from decimal import ROUND_HALF_UP, Decimal

        from django.db import connection

        from ledger.verification import verify_ledger
        from payouts.models import Invoice, Statement, StatementRun

        assert verify_ledger().sound
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT agreement_id, work_id, sum(quantity) FROM licensing_usageevent WHERE period = %s GROUP BY 1, 2",
                [self.period],
            )
            groups = cursor.fetchall()
        shares = {
            work.pk: ((self.holders[n % 3].pk, 60), (self.holders[(n + 1) % 3].pk, 40))
            for n, work in enumerate(self.works)
        }
        by_holder, by_agreement = defaultdict(lambda: [0, 0]), defaultdict(int)
        for agreement_id, work_id, quantity in groups:
            gross = int((quantity * Decimal("1.5")).to_integral_value(ROUND_HALF_UP))
            commission = int((Decimal(gross) / 10).to_integral_value(ROUND_HALF_UP))
            by_agreement[agreement_id] += gross
            for column, amount in ((0, gross), (1, commission)):
                for holder, part in largest_remainder(amount, shares[work_id]):
                    by_holder[holder][column] += part
        assert set(Statement.objects.values_list("status", flat=True)) == {"final"}
        assert {s.rights_holder_id: (s.gross, s.commission, s.net_royalties) for s in Statement.objects.all()} == {
            holder: (gross, commission, gross - commission) for holder, (gross, commission) in by_holder.items()
        }
        assert dict(Invoice.objects.values_list("agreement_id", "royalties")) == by_agreement
        # one line per (agreement, work, use) and holder: every work has two
        assert StatementRun.objects.get(pk=run_id).lines_written == 2 * len(groups)


def test_a_statement_run_killed_with_its_worker_is_rerun_and_the_books_tie_out(stack):
    """kill -9 of the worker in the middle of a run leaves nothing half-written; the rerun computes every statement,
    finalizing posts each once, verify_ledger is clean and every total equals a GROUP BY over the raw usage."""
    import os
    import signal

    from payouts.models import Statement

    world = StatementWorld(stack)
    killed = world.start_run()
    world.wait_until(killed, ("running",), timeout=60)
    worker = stack.processes.pop("worker")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    assert world.run_status(killed)["status"] == "running"  # never finished
    assert not Statement.objects.exists()  # and nothing of it is stored

    stack.start_worker("worker-2")
    rerun = world.start_run()
    assert world.wait_until(rerun, ("done", "failed"), timeout=120)["status"] == "done"
    assert world.run_status(killed)["status"] == "failed"  # the interrupted one says so
    world.finalize(rerun)
    world.assert_books_tie_out(rerun)


def test_a_run_whose_worker_process_is_killed_is_delivered_again_and_completes_on_its_own(stack):
    """kill -9 of the pool process computing a run (out of memory, say), before the run has said it is running:
    the worker delivers the task again; its month is held (here by this test), so the run is tried again a little
    later (the broker marks the message redelivered, the run is still queued), then computes; no one asks again.
    Deterministic whatever the server: the run is made to wait on the month's events (this test locks them) while
    it holds its month; the worker's main process is stopped while its pool process is killed, the lost session
    ended, and the month taken by this test; then the worker goes on and delivers the task again."""
    import os
    import signal
    import time

    import psutil
    from django.db import connection, connections

    from payouts.engine import period_lock_key
    from payouts.models import StatementRun
    from payouts.tasks import compute_statement_run

    world = StatementWorld(stack)
    run = StatementRun.objects.create(period=world.period)
    events, month = connections.create_connection("default"), connections.create_connection("default")
    worker = stack.processes["worker"].pid
    month_key = period_lock_key(world.period)

    def until(condition, what: str) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline, f"{what}:\n{stack.log('worker')[-3000:]}"
            time.sleep(0.05)

    def run_waits_on_the_events() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                           "AND query LIKE 'SELECT count(*) FROM licensing_usageevent%%'")  # fmt: skip
            return cursor.fetchone()[0] > 0

    try:
        events.set_autocommit(False)
        with events.cursor() as cursor:  # the run counts the month's events once it holds the month
            cursor.execute("LOCK TABLE licensing_usageevent IN ACCESS EXCLUSIVE MODE")
        compute_statement_run.delay(str(run.pk))
        until(run_waits_on_the_events, "the run did not reach the month's events")
        os.kill(worker, signal.SIGSTOP)  # no redelivery until the month is this test's
        try:
            for child in psutil.Process(worker).children(recursive=True):
                os.kill(child.pid, signal.SIGKILL)
            events.rollback()  # the lost session counts the events, cannot answer, and ends: its month is free
            with month.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [month_key])
        finally:
            os.kill(worker, signal.SIGCONT)
        until(lambda: "Retry in" in stack.log("worker"), "the run delivered again was not tried again")
        assert world.run_status(str(run.pk))["status"] == "queued"  # the lost process never said it was running
    finally:
        events.rollback()
        events.close()
        month.close()  # the month free again: the run's next try computes it
    state = world.wait_until(str(run.pk), ("done", "failed"), timeout=120)
    assert state["status"] == "done", (state, stack.log("worker")[-3000:])
    assert "WorkerLostError" in stack.log("worker")
    world.finalize(str(run.pk))
    world.assert_books_tie_out(str(run.pk))


def test_a_statement_run_split_across_workers_as_a_chord(stack):
    """STATEMENT_RUN_PARTS=3: three tasks compute their agreements' lines side by side, a fourth assembles."""
    import datetime as dt
    import time
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db import connection

    from licensing.roles import STAFF, role_group
    from licensing.services import api_key_create
    from payouts.models import Invoice, Statement
    from tests.licensing.factories import LicenseeFactory, RightsHolderFactory, training_agreement, work_with_shares

    holders = [RightsHolderFactory() for _ in range(3)]
    works = [work_with_shares((holders[n % 3], "100.00")) for n in range(30)]
    licensee = LicenseeFactory()
    agreements = [training_agreement(licensee, f"CHORD-{n}", "2.5", commission=Decimal("0")) for n in range(20)]
    period = dt.date(2026, 10, 1)
    insert_usage(period, licensee, works, agreements, 20_000, quantities=3)
    user = get_user_model().objects.create_user("chord-staff", password="pw-chord-staff-1", is_staff=True)
    user.groups.add(role_group(STAFF))
    _, key = api_key_create(name="e2e", user=user)
    headers = {"Authorization": f"Bearer {key}"}
    stack.stop("worker")
    stack.env["STATEMENT_RUN_PARTS"] = "3"
    stack.start_worker("chord-worker")
    stack.wait_for("/healthz")
    response = requests.post(f"{stack.base_url}/api/v1/statement-runs", json={"period": "2026-10"}, headers=headers,
                             timeout=30)  # fmt: skip
    assert response.status_code == 202, response.text
    run_id = response.json()["id"]
    deadline = time.monotonic() + 120
    while (state := requests.get(f"{stack.base_url}/api/v1/statement-runs/{run_id}", headers=headers,
                                 timeout=10).json())["status"] not in ("done", "failed"):  # fmt: skip
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert (state["status"], state["agreements_done"], state["agreements_total"]) == ("done", 20, 20), state
    worker_log = stack.log("chord-worker")
    assert worker_log.count("payouts.compute_statement_run_part") >= 3
    assert "payouts.assemble_statement_run" in worker_log
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(g) FROM (SELECT round(sum(quantity) * 2.5)::bigint AS g FROM licensing_usageevent "
            "WHERE period = %s GROUP BY agreement_id, work_id, use) x",
            [period],
        )
        expected = cursor.fetchone()[0]
    assert sum(Statement.objects.values_list("gross", flat=True)) == expected
    assert sum(Invoice.objects.values_list("royalties", flat=True)) == expected
